//! console_rs: a Console protocol server in Rust (the generated `ConsoleServer` trait and
//! dispatch), registered with the name server as `rs_console`. It prints what clients write,
//! tagged with the badge that tells them apart, and answers reads with a fixed reply.

#![no_std]
#![no_main]

use anvil::sys::console::{console_dispatch, ConsoleServer};
use anvil::{types, Endpoint, Ipc, Quota, Status};

anvil::entry!(main);

struct Server {
    calls: u64,
}

impl ConsoleServer for Server {
    fn write(&mut self, badge: u64, data: &[u8]) -> Result<u32, Status> {
        self.calls += 1;
        let text = core::str::from_utf8(data).map_err(|_| Status::INVALID_ARGS)?;
        anvil::println!("console_rs: client {badge} wrote \"{text}\" (call {})", self.calls);
        Ok(data.len() as u32)
    }

    fn read(&mut self, badge: u64, max: u32, data: &mut [u8; 256]) -> Result<usize, Status> {
        self.calls += 1;
        let reply = b"pong from Rust";
        let n = reply.len().min(max as usize);
        data[..n].copy_from_slice(&reply[..n]);
        anvil::println!("console_rs: client {badge} read {n} bytes");
        Ok(n)
    }
}

fn main() -> u64 {
    let mut server = Server { calls: 0 };
    let ep = match Endpoint::create(&Quota::from_slot(types::BOOT_SLOT_QUOTA))
        .and_then(|ep| anvil::names::register("rs_console", &ep).map(|()| ep))
    {
        Ok(ep) => ep,
        Err(e) => {
            anvil::println!("console_rs: cannot serve: {e:?}");
            return 1;
        }
    };
    anvil::println!("console_rs: serving");
    Ipc::serve(&ep, |t| console_dispatch(&mut server, t))
}
