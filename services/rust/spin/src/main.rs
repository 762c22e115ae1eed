//! spin: keeps every CPU busy. It starts a thread pinned to each CPU that loops for ever
//! without a system call, at the lowest priority, so that a person (or a test) can see that
//! the system still answers: the shell still echoes, `ps` shows the CPU time going to spin,
//! `cpus` shows every CPU busy. `kill spin` stops it.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use anvil::thread::{self, Spawn};

anvil::entry!(main);

static ROUNDS: AtomicU64 = AtomicU64::new(0);

extern "C" fn busy(_: u64) -> ! {
    loop {
        ROUNDS.fetch_add(1, Ordering::Relaxed);
        core::hint::spin_loop();
    }
}

fn main() -> u64 {
    let cpus = thread::cpu_count().unwrap_or(1);
    let mut started = 0;
    for cpu in 0..cpus {
        let how = Spawn {
            cpu: Some(cpu),
            ..Spawn::default()
        };
        if thread::spawn(busy, 0, how).is_ok() {
            started += 1;
        }
    }
    anvil::println!("spin: {started} busy threads, one on each of {cpus} CPU(s)");
    // The first thread is busy too: it waits for nothing, and is one more loop.
    busy(0)
}
