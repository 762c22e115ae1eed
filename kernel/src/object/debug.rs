//! The Debug object: the kernel's serial console and the figures the kernel keeps, offered to
//! init (and the IO server) as a capability. The capability's rights decide what its holder
//! may do (WRITE: print, READ: statistics and the buffered console, MANAGE: hand the console
//! over, shut the machine down in test runs).

use core::sync::atomic::Ordering;

use crate::arch::x86_64::tlb::{APIC_IDS, MAX_CPUS};

/// There is one debug console.
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

    fn debug_cpu(
        &mut self,
        _console: C<'_, Arc<DebugConsole>>,
        cpu: u32,
    ) -> Result<(u32, u64, u64, u64, bool), Status> {
        if cpu >= crate::cpu_count() || cpu as usize >= MAX_CPUS {
            return Err(Status::INVALID_ARGS);
        }
        let c = cpu as usize;
        Ok((
            APIC_IDS[c].load(Ordering::Acquire),
            crate::interrupts::CPU_TICKS[c].load(Ordering::Relaxed),
            super::irq::TAKEN[c].load(Ordering::Relaxed),
            crate::sched::DISPATCHES[c].load(Ordering::Relaxed),
            crate::sched::is_idle(c),
        ))
    }

    fn debug_uptime(&mut self, _console: C<'_, Arc<DebugConsole>>) -> Result<u64, Status> {
        // The boot CPU's ticks.
        Ok(crate::interrupts::CPU_TICKS[0].load(Ordering::Relaxed) * crate::interrupts::TICK_MS)
    }

    fn debug_attach(
        &mut self,
        _console: C<'_, Arc<DebugConsole>>,
        n: C<'_, Arc<super::notification::NotificationCap>>,
    ) -> Result<(), Status> {
        crate::log::attach(&n.0, super::notification::bits_of(n.badge));
        Ok(())
    }

    fn debug_read_log(&mut self, _console: C<'_, Arc<DebugConsole>>) -> Result<(u32, u64), Status> {
        // Into the caller's IPC buffer, which it must have before anything is taken.
        if self.thread.inner.lock().ipc.is_none() {
            return Err(Status::BAD_STATE);
        }
        let mut buf = [0u8; crate::abi::types::MSG_DATA_BYTES as usize];
        let (n, lost) = crate::log::read(&mut buf);
        if let Err(e) = super::endpoint::write_data(self.thread, &buf[..n]) {
            crate::log::unhand(lost);
            return Err(e);
        }
        Ok((n as u32, lost))
    }

    fn debug_log_pending(&mut self, _console: C<'_, Arc<DebugConsole>>) -> Result<u64, Status> {
        Ok(crate::log::pending() as u64)
    }
}
