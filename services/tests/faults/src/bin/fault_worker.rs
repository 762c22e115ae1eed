//! A service whose worker threads end: one exits, which is not reported (the service goes on);
//! one reads an unmapped address, whose fault reaches the service's supervisor like a fault of
//! its first thread (`Tcb.create`: a new thread reports its faults where its creator does).

#![no_std]
#![no_main]

use anvil::sys::kernel::{Tcb, ThreadState};
use anvil::thread::{self, Spawn};

anvil::entry!(main);

extern "C" fn ends(_: u64) -> ! {
    anvil::exit(0)
}

extern "C" fn faults(_: u64) -> ! {
    // SAFETY: deliberately unsound: the read faults, which is what this test program is for.
    let v = unsafe { core::ptr::read_volatile(0x2000_0000 as *const u64) };
    anvil::exit(v)
}

fn main() -> u64 {
    let how = Spawn::default();
    let Ok(t) = thread::spawn(ends, 0, how) else {
        anvil::println!("fault_worker: FAIL spawn");
        return 1;
    };
    // Its exit leaves it dead, not stopped for a supervisor.
    while matches!(t.tcb.state(), Ok(s) if s != ThreadState::DEAD) {
        let _ = Tcb::yield_now();
    }
    anvil::println!("fault_worker: a worker exited: {:?}", t.tcb.state());
    let _ = t.free();
    // Said first: the supervisor may end the service as soon as the worker runs.
    anvil::println!("fault_worker: a worker reads 0x20000000");
    if thread::spawn(faults, 0, how).is_err() {
        anvil::println!("fault_worker: FAIL spawn");
        return 1;
    }
    // The supervisor ends the service.
    loop {
        let _ = Tcb::yield_now();
    }
}
