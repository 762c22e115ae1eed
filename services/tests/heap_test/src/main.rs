//! heap_test: the Rust heap grows on demand. With a 24 MiB quota of its own, the heap takes
//! 16 MiB in pieces of many sizes (growing through `VSpace.alloc`), keeps every byte, refuses to
//! grow past the quota (an error, not a crash), and gives the memory back to the quota when
//! the pieces are freed. Prints `heap_test: ok ...` per check, then PASS or FAIL, and shuts
//! the machine down with the verdict.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use anvil::{boot, heap, println, types, Quota};

anvil::entry!(main);

const MIB: u64 = 1 << 20;

static FAILURES: AtomicU32 = AtomicU32::new(0);

fn check(what: &str, ok: bool) {
    if ok {
        println!("heap_test: ok {what}");
    } else {
        println!("heap_test: FAIL {what}");
        FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() -> u64 {
    let quota = match Quota::from_slot(types::BOOT_SLOT_QUOTA).split(24 * MIB) {
        Ok(q) => q,
        Err(e) => {
            println!("heap_test: FAIL cannot split a 24 MiB quota: {e:?}");
            boot::debug().shutdown(1)
        }
    };
    heap::use_quota(&quota);
    let quota_used = || quota.info().map_or(u64::MAX, |(_, used)| used);
    let start_used = heap::used();

    // 16 MiB in pieces from 24 bytes to 1 MiB, each filled with its own pattern.
    let sizes = [24usize, 1000, 4096, 30_000, 65_536, 200_000, 1 << 20];
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut total = 0u64;
    let mut i = 0usize;
    while total < 16 * MIB {
        let n = sizes[i % sizes.len()];
        let mut v = Vec::new();
        if v.try_reserve_exact(n).is_err() {
            println!("heap_test: allocation {i} of {n} bytes failed after {total} bytes");
            break;
        }
        v.resize(n, (i % 251) as u8);
        pieces.push(v);
        total += n as u64;
        i += 1;
    }
    let intact = pieces
        .iter()
        .enumerate()
        .all(|(i, v)| v.iter().all(|&b| b == (i % 251) as u8));
    let grown = heap::reserved();
    println!(
        "heap_test: {} pieces, {} bytes; heap has {} KiB mapped, the quota {} KiB charged",
        pieces.len(),
        total,
        grown / 1024,
        quota_used() / 1024
    );
    check(
        "16 MiB allocated in pieces, every byte kept",
        total >= 16 * MIB && intact,
    );
    check(
        "the heap grew through VSpace.alloc, charged to its quota",
        grown >= 16 * MIB && quota_used() >= 16 * MIB,
    );

    // Past the quota: an error, and nothing charged beyond the limit.
    let mut big: Vec<u8> = Vec::new();
    let refused = big.try_reserve_exact((16 * MIB) as usize).is_err();
    check(
        "growing past the quota fails cleanly",
        refused && quota_used() <= 24 * MIB,
    );
    drop(big);

    drop(pieces);
    let after = heap::reserved();
    println!(
        "heap_test: after freeing: {} bytes in use, {} KiB mapped, the quota {} KiB charged",
        heap::used(),
        after / 1024,
        quota_used() / 1024
    );
    check("everything freed is accounted", heap::used() == start_used);
    check(
        "freed regions go back to the quota (one spare kept)",
        after <= heap::MAX_GROWTH && quota_used() <= heap::MAX_GROWTH + MIB,
    );

    // And it grows again after shrinking.
    let again: Vec<u64> = (0..MIB).collect();
    check(
        "the heap grows again after giving memory back",
        again.iter().enumerate().all(|(i, &x)| x == i as u64),
    );
    drop(again);

    let failures = FAILURES.load(Ordering::Relaxed);
    println!("heap_test: {}", if failures == 0 { "PASS" } else { "FAIL" });
    boot::debug().shutdown(if failures == 0 { 0 } else { 1 })
}
