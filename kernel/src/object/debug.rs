//! The Debug object: the kernel's serial console, offered to early services as a capability.

/// There is one debug console; the capability's rights decide what its holder may do
/// (WRITE: print, READ: statistics, MANAGE: shut the machine down in test runs).
pub struct DebugConsole;

// ---- syscalls ------------------------------------------------------------------------------

use alloc::sync::Arc;

use crate::abi::types::Status;
use crate::abi::DebugSyscalls;
use crate::syscall::{After, Ctx, C};
use crate::uaccess::UserSlice;

/// Makes the memory figures exact: threads that died on other CPUs are released once those
/// CPUs have switched away, objects other CPUs deferred are dropped, stacks reclaimed.
fn settle_memory() {
    crate::sched::settle();
    super::reap::drain_all();
    crate::mm::kstack::reclaim_all();
}

impl DebugSyscalls for Ctx<'_> {
    fn debug_write(&mut self, _console: C<'_, Arc<DebugConsole>>, data: UserSlice) -> Result<(), Status> {
        let mut buf = [0u8; 4096];
        let n = data.len().min(buf.len());
        data.read_into(&mut buf[..n])?;
        crate::log::raw_bytes(&buf[..n]);
        Ok(())
    }

    fn debug_stats(&mut self, _console: C<'_, Arc<DebugConsole>>) -> Result<(u64, u64), Status> {
        settle_memory();
        let (free, _) = crate::mm::frame::stats();
        Ok((free, crate::mm::heap::used() as u64))
    }

    fn debug_memory(&mut self, _console: C<'_, Arc<DebugConsole>>) -> Result<(u64, u64, u64, u64, u64), Status> {
        settle_memory();
        let (free, total) = crate::mm::frame::stats();
        let kept = crate::mm::heap::frames() + crate::mm::kstack::table_frames() + super::vspace::spare_frames();
        let tables =
            super::cnode::CAPS.lock().table_bytes() + crate::sched::queue_bytes() + crate::mm::kstack::list_bytes();
        Ok((free, total, crate::mm::heap::used() as u64, kept, tables as u64))
    }

    fn debug_shutdown(&mut self, _console: C<'_, Arc<DebugConsole>>, code: u8) -> Result<(), Status> {
        self.after = After::Shutdown(code);
        Ok(())
    }
}
