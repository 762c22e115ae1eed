//! Per-CPU descriptor tables and data: GDT, TSS with interrupt stacks, the GS-based per-CPU
//! block, and the MSRs that route `syscall` to the kernel.

use alloc::boxed::Box;

use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::model_specific::{GsBase, KernelGsBase, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// Interrupt stack table slots (1-based in the IDT, 0-based in the TSS).
pub const IST_DOUBLE_FAULT: u16 = 1;
pub const IST_NMI: u16 = 2;
pub const IST_MACHINE_CHECK: u16 = 3;

pub const IST_STACK_SIZE: usize = 16 * 1024;

/// The per-CPU block GS points at while in the kernel. The assembly in `trap.rs` uses the
/// offsets of the first three fields; keep them in this order.
#[repr(C)]
pub struct PerCpu {
    /// Address of this block (gs:0), so Rust code can find it with one load.
    pub self_ptr: u64,
    /// Kernel stack top for `syscall` entry (gs:8).
    pub kernel_rsp: u64,
    /// Scratch for the user stack pointer during `syscall` entry (gs:16).
    pub user_rsp: u64,
    pub index: u32,
    pub apic_id: u32,
    tss: *mut TaskStateSegment,
    /// The scheduler's word for the thread this CPU runs (opaque here; see `sched::make_current`).
    /// Only this CPU writes it, so reading it is one load from the block.
    pub current: core::sync::atomic::AtomicPtr<u8>,
    /// The reaper's flag: this CPU's list of objects to drop may hold something (see
    /// `object::reap`). Here so that the end of every syscall reads it in one load.
    pub reap_queued: core::sync::atomic::AtomicBool,
    /// The scheduler's word for the thread this CPU just switched away from, released once
    /// the switch is complete (opaque here; see `sched::anvil_sched_finish`). Only this CPU
    /// touches it.
    pub prev: core::sync::atomic::AtomicPtr<u8>,
}

/// Builds and loads this CPU's GDT, TSS and per-CPU block, and programs the syscall MSRs.
/// `boot_rsp` is the stack the CPU runs on now; it serves as the ring-0 stack until a thread runs.
/// `ist` are the tops of the double-fault, NMI and machine-check stacks (`IST_STACK_SIZE` each).
pub fn init_cpu(index: u32, apic_id: u32, boot_rsp: u64, ist: [u64; 3]) -> &'static PerCpu {
    let tss: &'static mut TaskStateSegment = Box::leak(Box::new(TaskStateSegment::new()));
    for (i, top) in [IST_DOUBLE_FAULT, IST_NMI, IST_MACHINE_CHECK].into_iter().zip(ist) {
        tss.interrupt_stack_table[(i - 1) as usize] = VirtAddr::new(top);
    }
    tss.privilege_stack_table[0] = VirtAddr::new(boot_rsp);
    let tss_ptr: *mut TaskStateSegment = tss;

    let gdt: &'static mut GlobalDescriptorTable = Box::leak(Box::new(GlobalDescriptorTable::new()));
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    // SAFETY: the TSS is leaked, so it lives for the rest of the kernel's life, and it is only
    // changed through `set_kernel_stack`, which writes rsp0 of this CPU's own TSS.
    let tss_sel = gdt.append(Descriptor::tss_segment(unsafe { &*tss_ptr }));
    let gdt: &'static GlobalDescriptorTable = gdt;
    gdt.load();
    // SAFETY: the selectors come from the GDT just loaded and name segments of the right kind.
    unsafe {
        CS::set_reg(kernel_code);
        SS::set_reg(kernel_data);
        DS::set_reg(SegmentSelector(0));
        ES::set_reg(SegmentSelector(0));
        load_tss(tss_sel);
    }

    let percpu: &'static mut PerCpu = Box::leak(Box::new(PerCpu {
        self_ptr: 0,
        kernel_rsp: boot_rsp,
        user_rsp: 0,
        index,
        apic_id,
        tss: tss_ptr,
        current: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
        reap_queued: core::sync::atomic::AtomicBool::new(false),
        prev: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
    }));
    percpu.self_ptr = percpu as *mut PerCpu as u64;
    GsBase::write(VirtAddr::new(percpu.self_ptr));
    KernelGsBase::write(VirtAddr::new(0));

    // Star checks the selector layout sysret needs (user data = user code - 8, kernel data = kernel code + 8).
    if let Err(e) = Star::write(user_code, user_data, kernel_code, kernel_data) {
        panic!("GDT layout unusable for sysret: {e}");
    }
    LStar::write(VirtAddr::new(super::trap::syscall_entry_addr()));
    // Interrupts stay off in the kernel, and the direction and trap flags are cleared.
    SFMask::write(RFlags::INTERRUPT_FLAG | RFlags::DIRECTION_FLAG | RFlags::TRAP_FLAG | RFlags::ALIGNMENT_CHECK);
    percpu
}

/// This CPU's per-CPU block: one load through GS (the block's first word is its address).
#[inline]
pub fn this_cpu() -> &'static PerCpu {
    let p: u64;
    // SAFETY: GS base points at this CPU's leaked `PerCpu` whenever the kernel runs (entry
    // paths swap GS before reaching Rust, `init_cpu` sets it up first), and its first field is
    // its own address; the load has no other effect.
    // `pure`: two reads with no write between them (no switch to another CPU) give the same
    // block, so the compiler may keep it in a register.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(pure, nostack, readonly, preserves_flags)) };
    // SAFETY: as above: the pointer is the CPU's leaked block, valid for 'static.
    unsafe { &*(p as *const PerCpu) }
}

/// Sets the stack the CPU switches to on an interrupt or syscall from user mode. `top` is the
/// top of a kernel stack, a canonical kernel address (so truncating it changes nothing, and
/// the switch path skips `VirtAddr::new`'s check).
#[inline]
pub fn set_kernel_stack(top: u64) {
    debug_assert_eq!(VirtAddr::new_truncate(top).as_u64(), top);
    let cpu = this_cpu();
    // SAFETY: `cpu.tss` is this CPU's leaked TSS; only this CPU writes it, with interrupts
    // off in the kernel, and the hardware reads rsp0 only on the next privilege change.
    unsafe { (*cpu.tss).privilege_stack_table[0] = VirtAddr::new_truncate(top) };
    let p = cpu.self_ptr as *mut PerCpu;
    // SAFETY: as above: the block is this CPU's own, and no other reference writes it now.
    unsafe { (*p).kernel_rsp = top };
}
