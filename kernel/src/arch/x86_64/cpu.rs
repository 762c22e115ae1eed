//! CPU features and control registers: NX, SMEP, SMAP, write protection, halting.

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};

#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub smep: bool,
    pub smap: bool,
    pub nx: bool,
}

fn cpuid(leaf: u32, sub: u32) -> core::arch::x86_64::CpuidResult {
    core::arch::x86_64::__cpuid_count(leaf, sub)
}

pub fn features() -> Features {
    let l7 = cpuid(7, 0);
    let ext = cpuid(0x8000_0001, 0);
    Features {
        smep: l7.ebx & (1 << 7) != 0,
        smap: l7.ebx & (1 << 20) != 0,
        nx: ext.edx & (1 << 20) != 0,
    }
}

/// Turns on the protections the CPU has: NX (already on from boot), write protection in ring 0,
/// SMEP and SMAP. Returns what was enabled.
pub fn enable_protections() -> Features {
    let f = features();
    // SAFETY: NXE is already set by the boot code; setting it again changes nothing else.
    unsafe { Efer::update(|e| e.insert(EferFlags::NO_EXECUTE_ENABLE | EferFlags::SYSTEM_CALL_EXTENSIONS)) };
    // SAFETY: WP only makes ring 0 honour read-only pages, which the kernel's own tables rely on.
    unsafe { Cr0::update(|c| c.insert(Cr0Flags::WRITE_PROTECT)) };
    let mut add = Cr4Flags::empty();
    if f.smep {
        add |= Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION;
    }
    if f.smap {
        add |= Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION;
    }
    // SAFETY: the kernel never executes user pages and touches user memory only in
    // `usercopy`, which brackets the access with stac/clac.
    unsafe { Cr4::update(|c| c.insert(add | Cr4Flags::PAGE_GLOBAL)) };
    f
}

pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Waits for an interrupt with interrupts enabled, then disables them again.
pub fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
    x86_64::instructions::interrupts::disable();
}

/// Reads CR2, the faulting address of the last page fault.
pub fn cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc only reads a counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}
