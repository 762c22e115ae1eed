//! probe_echo: a helper of the Probe boot test. It makes an endpoint, offers it to the Probe
//! server its manifest line names `probe` (kind 1: an `Echo` server), and serves `Echo` on it, so that the
//! server's `relay` has an endpoint of the right protocol to call.

#![no_std]
#![no_main]

use anvil::sys::testing::{echo_dispatch, EchoServer, Probe};
use anvil::{types, Endpoint, Ipc, Quota, Status};

anvil::entry!(main);

struct Echoer;

impl EchoServer for Echoer {
    fn echo(&mut self, _badge: u64, value: u64) -> Result<u64, Status> {
        Ok(value)
    }
}

fn main() -> u64 {
    let ep = match Endpoint::create(&Quota::from_slot(types::BOOT_SLOT_QUOTA)) {
        Ok(ep) => ep,
        Err(e) => {
            anvil::println!("probe_echo: Endpoint.create failed: {e:?}");
            return 1;
        }
    };
    let probe = match anvil::names::lookup("probe") {
        Ok(p) => Probe::from_slot(p.0),
        Err(e) => {
            anvil::println!("probe_echo: lookup of `probe` failed: {e:?}");
            return 1;
        }
    };
    if let Err(e) = probe.offer(&mut Ipc, 1, &ep) {
        anvil::println!("probe_echo: offer failed: {e:?}");
        return 1;
    }
    Ipc::serve(&ep, |t| echo_dispatch(&mut Echoer, t))
}
