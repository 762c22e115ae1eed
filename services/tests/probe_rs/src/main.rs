//! probe_rs: the Rust server of the `Probe` test protocol (idl/testing.idl). Its generated
//! dispatch must answer hostile requests exactly as probe_c, the C server, does; the handlers
//! only report what they were given, so every refusal in the boot test comes from generated
//! code.

#![no_std]
#![no_main]

use anvil::sys::abi::{AnyCap, Message, Received, Transport};
use anvil::sys::testing::{
    probe_dispatch, Echo, LookupResult, ProbeLookupRequest, ProbeServer, ProbeZerosRequest, Shape, PROBE_LOOKUP_LABEL,
    PROBE_ZEROS_LABEL,
};
use anvil::{boot, types, Endpoint, Ipc, MapFlags, Status, Vmo};

anvil::entry!(main);

struct Server {
    /// Whether the last `zeros` request had zero bytes wherever it carried no value.
    last_clean: bool,
    /// Endpoints helpers offered, by kind (1 and 2).
    helpers: [Option<AnyCap>; 3],
}

/// The test hook of `lookup`: key 1000 gets the reply label 1 << 32 instead of the dispatch.
fn wide_label_hook(m: &mut Message) -> bool {
    if m.label != PROBE_LOOKUP_LABEL || (m.data_len as usize) < core::mem::size_of::<ProbeLookupRequest>() {
        return false;
    }
    let q: ProbeLookupRequest = m.read();
    if q.key != 1000 {
        return false;
    }
    m.clear();
    m.label = 1 << 32;
    true
}

/// The stale-bytes check: looks at the request as it arrived, before the dispatch decodes it.
fn unused_bytes_zero(m: &Message) -> bool {
    let size = core::mem::size_of::<ProbeZerosRequest>();
    if m.data_len as usize != size {
        return false;
    }
    let q: ProbeZerosRequest = m.read();
    let len = (q.data_len as usize).min(q.data.len());
    let pad = core::mem::offset_of!(ProbeZerosRequest, pad);
    let wide = core::mem::offset_of!(ProbeZerosRequest, wide);
    let dlen = core::mem::offset_of!(ProbeZerosRequest, data_len);
    let data = core::mem::offset_of!(ProbeZerosRequest, data);
    (0..size).all(|i| {
        let used = i == pad
            || (wide..wide + 8).contains(&i)
            || (dlen..dlen + 4).contains(&i)
            || (data..data + len).contains(&i);
        used || m.data[i] == 0
    })
}

impl ProbeServer for Server {
    fn check(
        &mut self,
        _badge: u64,
        vmo: &mut Received<Vmo>,
        _shape: Shape,
        _flags: MapFlags,
        _on: bool,
        name: &str,
    ) -> Result<(u64, u32), Status> {
        Ok((vmo.size()?, name.len() as u32))
    }

    fn carry(
        &mut self,
        _badge: u64,
        _a: &mut Received<AnyCap>,
        _b: &mut Received<AnyCap>,
        _c: &mut Received<AnyCap>,
        _d: &mut Received<AnyCap>,
    ) -> Result<(), Status> {
        Ok(())
    }

    fn keep(&mut self, _badge: u64, held: &mut Received<AnyCap>) -> Result<u64, Status> {
        Ok(held.take().0)
    }

    fn info(&mut self, _badge: u64, lang: &mut [u8; 8]) -> Result<(usize, u32), Status> {
        lang[..4].copy_from_slice(b"Rust");
        let (_, used) = boot::cnode().info()?;
        Ok((4, used))
    }

    fn relay(&mut self, _badge: u64, target: &mut Received<Echo>, value: u64) -> Result<u64, Status> {
        target.echo(&mut Ipc, value)
    }

    fn zeros(&mut self, _badge: u64, _pad: u8, _wide: u64, _data: &[u8]) -> Result<bool, Status> {
        Ok(self.last_clean)
    }

    fn offer(&mut self, _badge: u64, kind: u8, endpoint: &mut Received<AnyCap>) -> Result<(), Status> {
        let slot = self
            .helpers
            .get_mut(usize::from(kind))
            .filter(|_| kind >= 1)
            .ok_or(Status::INVALID_ARGS)?;
        *slot = Some(endpoint.take());
        Ok(())
    }

    fn helper(&mut self, _badge: u64, kind: u8) -> Result<AnyCap, Status> {
        let slot = self
            .helpers
            .get(usize::from(kind))
            .filter(|_| kind >= 1)
            .ok_or(Status::INVALID_ARGS)?;
        slot.ok_or(Status::NOT_FOUND)
    }

    fn lookup(&mut self, _badge: u64, key: u32) -> Result<u64, LookupResult> {
        if key == 7 {
            Ok(49)
        } else {
            Err(LookupResult::MISSING)
        }
    }
}

fn main() -> u64 {
    let mut server = Server {
        last_clean: false,
        helpers: [None; 3],
    };
    // Served under the name `probe_rs` (the clients look it up as `probe`).
    let ep = match Endpoint::create(&anvil::Quota::from_slot(types::BOOT_SLOT_QUOTA))
        .and_then(|ep| anvil::names::register("probe_rs", &ep).map(|()| ep))
    {
        Ok(ep) => ep,
        Err(e) => {
            anvil::println!("probe_rs: cannot serve: {e:?}");
            return 1;
        }
    };
    anvil::println!("probe_rs: serving");
    Ipc::serve(&ep, |t| {
        let m = t.message();
        if m.label == PROBE_ZEROS_LABEL {
            server.last_clean = unused_bytes_zero(m);
        }
        if !wide_label_hook(m) {
            probe_dispatch(&mut server, t)
        }
    })
}
