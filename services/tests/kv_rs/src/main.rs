//! kv_rs: a Store server (idl/testing.idl) in Rust, registered as `kv_rs`, for the restart
//! test: it keeps a few keys, faults while it holds a `crash` call, and keeps a `hold` call
//! unanswered (its saved reply) while it serves others. Init restarts it when it faults
//! (restart=on-failure); a restarted kv_rs starts empty and registers again.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use anvil::sys::testing::{store_dispatch, StoreServer};
use anvil::{types, Endpoint, Ipc, Quota, Reply, Status};

anvil::entry!(main);

struct Store {
    keys: Vec<(u32, u64)>,
    /// Calls kept unanswered (`hold`).
    held: Vec<Reply>,
}

impl StoreServer for Store {
    fn put(&mut self, _badge: u64, key: u32, value: u64) -> Result<(), Status> {
        match self.keys.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => self.keys.push((key, value)),
        }
        Ok(())
    }

    fn get(&mut self, _badge: u64, key: u32) -> Result<u64, Status> {
        self.keys
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, v)| v)
            .ok_or(Status::NOT_FOUND)
    }

    fn crash(&mut self, _badge: u64) -> Result<(), Status> {
        anvil::println!("kv_rs: crashing while holding a call");
        // SAFETY: deliberately not: a write to an unmapped address, so that the kernel stops
        // this thread with a page fault while it holds the caller's call.
        unsafe { core::ptr::write_volatile(0x10 as *mut u64, 1) };
        Ok(())
    }

    fn hold(&mut self, _badge: u64) -> Result<(), Status> {
        let r = Endpoint::save_reply(&Quota::from_slot(types::BOOT_SLOT_QUOTA))?;
        anvil::println!("kv_rs: holding a call");
        self.held.push(r);
        Err(Status::WOULD_BLOCK)
    }

    fn name(&mut self, _badge: u64, name: &mut [u8; 16]) -> Result<usize, Status> {
        name[..5].copy_from_slice(b"kv_rs");
        Ok(5)
    }
}

fn main() -> u64 {
    let ep = match Endpoint::create(&Quota::from_slot(types::BOOT_SLOT_QUOTA))
        .and_then(|ep| anvil::names::register("kv_rs", &ep).map(|()| ep))
    {
        Ok(ep) => ep,
        Err(e) => {
            anvil::println!("kv_rs: cannot serve: {e:?}");
            return 1;
        }
    };
    anvil::println!("kv_rs: serving");
    let mut store = Store {
        keys: Vec::new(),
        held: Vec::new(),
    };
    Ipc::serve(&ep, |t| store_dispatch(&mut store, t))
}
