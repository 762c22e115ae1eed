//! What the kernel does with a trap: interrupts are acknowledged (a device interrupt signals the
//! notification its line is bound to, `object::irq`), a fault in user mode stops
//! the faulting thread and reports which program faulted, a fault in the kernel is fatal and
//! prints a full report.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::abi::kernel::{FaultKind, FaultReport};
use crate::arch::x86_64::tlb::MAX_CPUS;
use crate::arch::x86_64::trap::{exception_name, TrapFrame};
use crate::arch::x86_64::{apic, cpu, ioapic, usercopy};

pub static TICKS: AtomicU64 = AtomicU64::new(0);
/// Timer ticks per CPU (`Debug.cpu`, `Debug.uptime`).
pub static CPU_TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The timer's period.
pub const TICK_MS: u64 = 10;

pub fn trap(frame: &mut TrapFrame) {
    match frame.vector {
        v if v == u64::from(apic::TIMER_VECTOR) => {
            TICKS.fetch_add(1, Ordering::Relaxed);
            CPU_TICKS[crate::arch::x86_64::gdt::this_cpu().index as usize % MAX_CPUS].fetch_add(1, Ordering::Relaxed);
            if frame.is_user() {
                // A sample of CPU time: the thread the tick found running in user mode.
                if let Some(t) = crate::sched::current() {
                    t.ticks.fetch_add(1, Ordering::Relaxed);
                }
            }
            apic::eoi();
            crate::sched::tick(frame);
        }
        v if ioapic::gsi_of_vector(v).is_some() => {
            let cpu = crate::arch::x86_64::gdt::this_cpu().index as usize;
            if let Some(gsi) = ioapic::gsi_of_vector(v) {
                crate::object::irq::handle(gsi, cpu);
            }
            apic::eoi();
            // The driver the interrupt woke runs now rather than at the end of the time slice.
            crate::sched::tick(frame);
        }
        v if v == u64::from(apic::SPURIOUS_VECTOR) => {}
        v if v == u64::from(apic::TLB_VECTOR) => {
            crate::arch::x86_64::tlb::service(crate::arch::x86_64::gdt::this_cpu().index as usize);
            apic::eoi();
        }
        v if v == u64::from(apic::RESCHED_VECTOR) => {
            apic::eoi();
            crate::sched::tick(frame);
        }
        v if v >= 32 => apic::eoi(),
        14 if !frame.is_user() => {
            if let Some(fix) = usercopy::fixup_for(frame.rip) {
                frame.rip = fix;
                return;
            }
            kernel_fault(frame);
        }
        _ if frame.is_user() => user_fault(frame),
        _ => kernel_fault(frame),
    }
    if frame.is_user() {
        crate::object::reap::drain();
        crate::sched::check_stopped();
    }
}

/// A fault in user mode: reported to the thread's fault endpoint (the thread then waits for
/// its supervisor), or the end of the thread. Returns only if the thread is resumed, to retry
/// the instruction or to start over at the registers its supervisor gave it.
fn user_fault(frame: &TrapFrame) {
    let outcome = {
        let Some(t) = crate::sched::current() else { return };
        let addr = if frame.vector == 14 { cpu::cr2() } else { 0 };
        let kind = match frame.vector {
            14 => FaultKind::PAGE_FAULT,
            13 => FaultKind::GENERAL_PROTECTION,
            6 => FaultKind::INVALID_OPCODE,
            0 => FaultKind::DIVIDE_ERROR,
            _ => FaultKind::OTHER,
        };
        let report = FaultReport {
            kind,
            vector: frame.vector as u32,
            thread: t.id,
            addr,
            rip: frame.rip,
            rsp: frame.rsp,
            error: frame.error,
            code: 0,
        };
        let outcome = crate::object::tcb::fault(&t, report);
        let what = match outcome {
            crate::object::tcb::Fault::Reported => "reported to its fault endpoint",
            _ => "thread stopped",
        };
        let extra = if frame.vector == 14 {
            alloc::format!(" accessing {addr:#x} ({})", pf_reason(frame.error))
        } else {
            alloc::string::String::new()
        };
        crate::kwarn!(
            "user fault: process `{}` thread {}: {} at rip={:#x}{extra}, error={:#x}; {what}",
            t.name(),
            t.id,
            exception_name(frame.vector),
            frame.rip,
            frame.error
        );
        outcome
    };
    crate::object::reap::drain();
    match outcome {
        crate::object::tcb::Fault::Dead => crate::sched::exit_current(),
        _ => crate::sched::block(),
    }
}

fn pf_reason(err: u64) -> &'static str {
    match (err & 1 != 0, err & 2 != 0, err & 16 != 0) {
        (_, _, true) => "instruction fetch",
        (false, false, _) => "read of an unmapped page",
        (false, true, _) => "write to an unmapped page",
        (true, true, _) => "write to a protected page",
        (true, false, _) => "read of a protected page",
    }
}

fn kernel_fault(frame: &TrapFrame) -> ! {
    crate::log::emergency(format_args!(
        "\n[fatal] KERNEL {} (vector {}) error={:#x} cr2={:#x}\n{}\n",
        exception_name(frame.vector),
        frame.vector,
        frame.error,
        cpu::cr2(),
        frame
    ));
    if frame.vector == 8 {
        crate::log::emergency(format_args!(
            "[fatal] double fault: likely a kernel stack overflow into a guard page\n"
        ));
    }
    crate::log::emergency(format_args!("[fatal] kernel halted\n"));
    crate::arch::x86_64::port::qemu_exit(1)
}
