//! FPU, SSE and AVX state per thread: CPU setup (CR0/CR4 bits, XCR0), the size of a save area,
//! the per-thread save area (`FpuArea`) and the save/restore instructions (XSAVE/XRSTOR where
//! the CPU has them, FXSAVE/FXRSTOR otherwise).
//!
//! The switch is eager: the scheduler saves the leaving thread's registers and loads the next
//! thread's at every context switch, before the kernel stacks are switched. That is correct
//! because the kernel itself never touches these registers (its target,
//! `x86_64-unknown-none`, is soft-float: no x87, MMX or SSE instruction is generated), so
//! between a thread's entry into the kernel and the switch away from it its user values are
//! still in the registers, and after `restore` nothing but user code changes them again. See
//! docs/architecture.md ("FPU and vector state") for why eager rather than lazy.

use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// The largest save area the kernel will use. Components whose area would not fit are not
/// enabled (see `wanted_xcr0`); `object::quota::cost::TCB` charges this much for every thread.
pub const MAX_AREA_SIZE: usize = 4096;

/// XSAVE needs a 64-byte aligned area (FXSAVE 16).
const AREA_ALIGN: usize = 64;

/// XCR0 state components: x87, SSE (XMM and MXCSR), AVX (upper YMM halves).
const XCR0_X87: u64 = 1 << 0;
const XCR0_SSE: u64 = 1 << 1;
const XCR0_AVX: u64 = 1 << 2;
/// AVX-512: opmask registers, upper ZMM halves of 0-15, ZMM 16-31. Enabled together or not.
const XCR0_AVX512: u64 = (1 << 5) | (1 << 6) | (1 << 7);

/// Offsets in the legacy (FXSAVE) region.
const FCW_OFFSET: usize = 0;
const MXCSR_OFFSET: usize = 24;

/// The power-on values of the x87 control word and MXCSR (all exceptions masked, round to
/// nearest), which a new thread starts with.
const FCW_INIT: u16 = 0x037F;
const MXCSR_INIT: u32 = 0x1F80;

/// Set by `init_boot_cpu`: whether XSAVE is used, XCR0, and the save-area size.
static USE_XSAVE: AtomicBool = AtomicBool::new(false);
static XCR0: AtomicU64 = AtomicU64::new(0);
static AREA_SIZE: AtomicUsize = AtomicUsize::new(512);

fn cpuid(leaf: u32, sub: u32) -> core::arch::x86_64::CpuidResult {
    core::arch::x86_64::__cpuid_count(leaf, sub)
}

fn has_xsave() -> bool {
    cpuid(1, 0).ecx & (1 << 26) != 0
}

/// The components to enable: x87 and SSE always, AVX and AVX-512 when the CPU has them and the
/// resulting area fits in `MAX_AREA_SIZE`.
fn wanted_xcr0() -> u64 {
    let supported = {
        let r = cpuid(0xD, 0);
        u64::from(r.eax) | (u64::from(r.edx) << 32)
    };
    let mut want = XCR0_X87 | XCR0_SSE;
    for extra in [XCR0_AVX, XCR0_AVX512] {
        if supported & extra != extra {
            break;
        }
        // Each component's offset and size in the standard (non-compacted) format.
        let end = (0..64)
            .filter(|i| extra & (1 << i) != 0)
            .map(|i| {
                let r = cpuid(0xD, i);
                r.ebx as usize + r.eax as usize
            })
            .max()
            .unwrap_or(0);
        if end > MAX_AREA_SIZE {
            break;
        }
        want |= extra;
    }
    want
}

fn xsetbv(xcr0: u64) {
    // SAFETY: called with CR4.OSXSAVE set and a value built from the components CPUID reports
    // as supported, always including x87 and SSE, so xsetbv does not fault. Only user-visible
    // register state is enabled; the kernel does not use it.
    unsafe {
        core::arch::asm!("xsetbv", in("ecx") 0u32, in("eax") xcr0 as u32, in("edx") (xcr0 >> 32) as u32,
            options(nomem, nostack, preserves_flags));
    }
}

/// Sets up this CPU for user floating point: CR0.MP and NE on, EM and TS off (no #NM traps:
/// the switch is eager); CR4.OSFXSR and OSXMMEXCPT (SSE allowed, SIMD exceptions as #XM);
/// CR4.OSXSAVE and XCR0 when the CPU has XSAVE.
fn setup_this_cpu(xsave: bool, xcr0: u64) {
    // SAFETY: only floating-point related bits change: x87 errors report natively (NE), wait
    // instructions honour TS (MP), and no instruction traps for emulation (EM, TS off). The
    // kernel does not execute FPU instructions besides the save and restore below.
    unsafe {
        Cr0::update(|c| {
            c.insert(Cr0Flags::MONITOR_COPROCESSOR | Cr0Flags::NUMERIC_ERROR);
            c.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
        })
    };
    let mut add = Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE;
    if xsave {
        add |= Cr4Flags::OSXSAVE;
    }
    // SAFETY: OSFXSR/OSXMMEXCPT let user code use SSE, which every x86-64 CPU has; OSXSAVE is
    // set only when CPUID reports XSAVE.
    unsafe { Cr4::update(|c| c.insert(add)) };
    if xsave {
        xsetbv(xcr0);
    }
}

/// Boot CPU: decides between XSAVE and FXSAVE, enables the components, and computes the size
/// of a save area. Returns a line for the boot log. Must run before the first `FpuArea`.
pub fn init_boot_cpu() -> alloc::string::String {
    let xsave = has_xsave();
    let xcr0 = if xsave { wanted_xcr0() } else { XCR0_X87 | XCR0_SSE };
    setup_this_cpu(xsave, xcr0);
    // With XCR0 set, CPUID.(0xD,0).EBX is the area size XSAVE needs for exactly those
    // components.
    let size = if xsave {
        (cpuid(0xD, 0).ebx as usize).max(512 + 64)
    } else {
        512
    };
    USE_XSAVE.store(xsave, Ordering::Release);
    XCR0.store(xcr0, Ordering::Release);
    AREA_SIZE.store(size, Ordering::Release);
    alloc::format!(
        "fpu: {}, components {xcr0:#x} (x87, SSE{}{}), {size}-byte save area per thread, switched eagerly",
        if xsave { "XSAVE" } else { "FXSAVE" },
        if xcr0 & XCR0_AVX != 0 { ", AVX" } else { "" },
        if xcr0 & XCR0_AVX512 != 0 { ", AVX-512" } else { "" },
    )
}

/// Application processors: the same setup as the boot CPU, so a thread's area can be restored
/// on any CPU.
pub fn init_ap() {
    setup_this_cpu(USE_XSAVE.load(Ordering::Acquire), XCR0.load(Ordering::Acquire));
}

/// A thread's saved FPU/SSE/AVX registers, in kernel heap memory. It is only ever touched by
/// the CPU that is switching the thread out (`save`) or in (`restore`); the scheduler's hand-off
/// (the thread is queued only after the switch away from it, under the run queue's lock) orders
/// a save on one CPU before a restore on another.
pub struct FpuArea {
    ptr: NonNull<u8>,
}

// SAFETY: the area is plain memory owned by this value; the scheduler guarantees that one CPU
// at a time accesses it (see the type's documentation and `save`/`restore`).
unsafe impl Send for FpuArea {}
// SAFETY: as above: `&FpuArea` is shared between CPUs only through the thread's TCB, and only
// the CPU switching the thread touches the memory behind it.
unsafe impl Sync for FpuArea {}

fn layout() -> Layout {
    // The size is at least 512 and at most MAX_AREA_SIZE (init_boot_cpu), the alignment a power
    // of two: the layout is always valid.
    Layout::from_size_align(AREA_SIZE.load(Ordering::Acquire), AREA_ALIGN).unwrap_or(Layout::new::<u8>())
}

impl FpuArea {
    /// A clean state (what the CPU has after reset: registers zero, exceptions masked), or
    /// `None` when the kernel heap is exhausted.
    pub fn new() -> Option<FpuArea> {
        let l = layout();
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc::alloc::alloc_zeroed(l) })?;
        // SAFETY: the allocation is at least 512 bytes, so both writes are in bounds; the
        // offsets are aligned for their types.
        unsafe {
            ptr.as_ptr().add(FCW_OFFSET).cast::<u16>().write(FCW_INIT);
            ptr.as_ptr().add(MXCSR_OFFSET).cast::<u32>().write(MXCSR_INIT);
        }
        // The XSAVE header (XSTATE_BV and XCOMP_BV) stays zero: XRSTOR then puts every
        // component in its initial state (x87 with FCW 0x37F, vector registers zero) and loads
        // MXCSR from the legacy region. FXRSTOR loads the legacy region as written: FCW and
        // MXCSR as above, an empty x87 stack (abridged tag word 0), zero registers.
        Some(FpuArea { ptr })
    }

    /// Saves this CPU's FPU/SSE/AVX registers into the area.
    ///
    /// # Safety
    /// The calling CPU runs the area's thread, which is being switched away from, and the
    /// registers still hold that thread's user values: no other CPU touches this area now.
    pub unsafe fn save(&self) {
        let p = self.ptr.as_ptr();
        if USE_XSAVE.load(Ordering::Relaxed) {
            // SAFETY: `p` is a 64-byte aligned area of the size CPUID gives for the enabled
            // components, owned by this thread and touched by this CPU only (caller's
            // guarantee). edx:eax = all ones: every enabled component.
            unsafe {
                core::arch::asm!("xsave64 [{}]", in(reg) p, in("eax") u32::MAX, in("edx") u32::MAX,
                    options(nostack, preserves_flags));
            }
        } else {
            // SAFETY: as above; the area is at least 512 bytes and 16-byte aligned.
            unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) p, options(nostack, preserves_flags)) };
        }
    }

    /// Loads the area into this CPU's FPU/SSE/AVX registers.
    ///
    /// # Safety
    /// The calling CPU is about to run the area's thread, and no other CPU touches this area
    /// now (the thread was saved by `save` before it was queued, or never ran).
    pub unsafe fn restore(&self) {
        let p = self.ptr.as_ptr();
        if USE_XSAVE.load(Ordering::Relaxed) {
            // SAFETY: the area holds either the clean state from `new` (a zero XSAVE header) or
            // what XSAVE wrote with the same XCR0, which XRSTOR accepts without faulting;
            // exclusive access as guaranteed by the caller.
            unsafe {
                core::arch::asm!("xrstor64 [{}]", in(reg) p, in("eax") u32::MAX, in("edx") u32::MAX,
                    options(nostack, preserves_flags, readonly));
            }
        } else {
            // SAFETY: the area holds the clean state from `new` or what FXSAVE wrote (MXCSR has
            // no reserved bit set in either), exclusively accessed as guaranteed by the caller.
            unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) p, options(nostack, preserves_flags, readonly)) };
        }
    }
}

impl Drop for FpuArea {
    fn drop(&mut self) {
        // SAFETY: `ptr` was allocated in `new` with the same layout (AREA_SIZE never changes
        // after boot) and is not used after this.
        unsafe { alloc::alloc::dealloc(self.ptr.as_ptr(), layout()) };
    }
}
