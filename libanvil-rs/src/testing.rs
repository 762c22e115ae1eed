//! Helpers for test services: checks that print `NAME: ok WHAT` or stop the run with
//! `NAME: FAIL WHAT: WHY`, and memory snapshots for leak checks.

use crate::{boot, println, Quota, Status};

/// A test program's checks, all printed with its name.
#[derive(Clone, Copy)]
pub struct Test {
    pub name: &'static str,
}

impl Test {
    pub const fn new(name: &'static str) -> Test {
        Test { name }
    }

    /// Prints the failure and ends the QEMU run with a failing status.
    pub fn fail(&self, what: &str, why: impl core::fmt::Debug) -> ! {
        println!("{}: FAIL {what}: {why:?}", self.name);
        boot::debug().shutdown(1)
    }

    /// Prints `ok WHAT`, or fails.
    pub fn check(&self, what: &str, ok: bool) {
        if ok {
            println!("{}: ok {what}", self.name);
        } else {
            self.fail(what, "check failed");
        }
    }

    /// Fails unless `ok`, printing nothing on success.
    pub fn assert(&self, what: &str, ok: bool) {
        if !ok {
            self.fail(what, "check failed");
        }
    }

    /// The value, or a failure naming the status.
    pub fn want<T>(&self, what: &str, r: Result<T, Status>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => self.fail(what, e),
        }
    }

    /// Fails unless `r` is exactly `expected`.
    pub fn expect<T: core::fmt::Debug + PartialEq>(&self, what: &str, r: T, expected: T) {
        if r != expected {
            println!("{}: FAIL {what}: got {r:?}, expected {expected:?}", self.name);
            boot::debug().shutdown(1)
        }
    }

    /// Prints `PASS` and ends the run successfully.
    pub fn pass(&self) -> ! {
        println!("{}: PASS", self.name);
        boot::debug().shutdown(0)
    }
}

/// What the kernel and a quota hold, for checking that a round of work leaked nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// Free frames plus the frames the kernel keeps once taken (its heap grows and never
    /// shrinks, so memory that went to the heap and came back to it counts as free).
    pub frames: u64,
    /// Heap in use, less the kernel's own tables (which keep the room of their peak: a round
    /// that ran more threads at once than any before must not read as a leak, while whatever
    /// the entries hold still counts).
    pub heap_used: u64,
    pub quota_used: u64,
}

impl Memory {
    /// Needs READ on the debug capability in the boot slot.
    pub fn now(quota: &Quota) -> Result<Memory, Status> {
        let (free, _, heap_used, kept, tables) = boot::debug().memory()?;
        let (_, quota_used) = quota.info()?;
        Ok(Memory {
            frames: free + kept,
            heap_used: heap_used - tables,
            quota_used,
        })
    }
}
