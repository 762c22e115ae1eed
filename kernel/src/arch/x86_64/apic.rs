//! The local APIC in xAPIC mode (MMIO through the direct map): enable, timer, EOI, IPIs.

use core::sync::atomic::{AtomicU64, Ordering};

pub const TIMER_VECTOR: u8 = 32;
pub const SPURIOUS_VECTOR: u8 = 0xFF;
/// IPI: look at the run queues (a thread was queued here, or one here was suspended).
pub const RESCHED_VECTOR: u8 = 0xF0;
/// IPI: flush the TLB (a mapping this CPU may cache was removed).
pub const TLB_VECTOR: u8 = 0xF1;

const REG_ID: u64 = 0x20;
const REG_EOI: u64 = 0xB0;
const REG_SVR: u64 = 0xF0;
const REG_ICR_LOW: u64 = 0x300;
const REG_ICR_HIGH: u64 = 0x310;
const REG_LVT_TIMER: u64 = 0x320;
const REG_TIMER_INIT: u64 = 0x380;
const REG_TIMER_DIV: u64 = 0x3E0;

static BASE: AtomicU64 = AtomicU64::new(0);

fn write(reg: u64, v: u32) {
    let p = (BASE.load(Ordering::Relaxed) + reg) as *mut u32;
    // SAFETY: BASE is the direct-map address of the local APIC page (mapped uncached by
    // `mm::init`), and `reg` is one of the 32-bit registers above.
    unsafe { p.write_volatile(v) }
}

fn read(reg: u64) -> u32 {
    let p = (BASE.load(Ordering::Relaxed) + reg) as *const u32;
    // SAFETY: as in `write`.
    unsafe { p.read_volatile() }
}

/// Enables this CPU's local APIC at virtual address `virt_base`.
pub fn init(virt_base: u64) {
    BASE.store(virt_base, Ordering::Relaxed);
    write(REG_SVR, 0x100 | u32::from(SPURIOUS_VECTOR));
}

fn icr(apic_id: u32, low: u32) {
    write(REG_ICR_HIGH, apic_id << 24);
    write(REG_ICR_LOW, low);
    let mut n = 0;
    // Wait until the APIC has sent it (delivery-status bit clears).
    while read(REG_ICR_LOW) & (1 << 12) != 0 && n < 1_000_000 {
        core::hint::spin_loop();
        n += 1;
    }
}

/// Sends a fixed-vector IPI to the CPU with `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    icr(apic_id, u32::from(vector));
}

/// INIT IPI (level assert), the first step of starting an AP.
pub fn send_init(apic_id: u32) {
    icr(apic_id, 0x4500);
}

/// Startup IPI: the AP starts in real mode at `page << 12`.
pub fn send_startup(apic_id: u32, page: u8) {
    icr(apic_id, 0x4600 | u32::from(page));
}

pub fn id() -> u32 {
    read(REG_ID) >> 24
}

/// Starts the periodic timer. QEMU's APIC timer counts at 1 GHz; with divider 16, `count`
/// ticks of 16 ns each elapse per interrupt.
pub fn start_timer(count: u32) {
    write(REG_TIMER_DIV, 0x3);
    write(REG_LVT_TIMER, u32::from(TIMER_VECTOR) | (1 << 17));
    write(REG_TIMER_INIT, count);
}

pub fn eoi() {
    write(REG_EOI, 0);
}

/// Remaps the legacy 8259 PICs above the exception vectors and masks every line. The firmware
/// leaves them delivering the PIT at vector 8, which would look like a double fault.
pub fn disable_legacy_pic() {
    use super::port::outb;
    outb(0x20, 0x11);
    outb(0xA0, 0x11);
    outb(0x21, 0x20);
    outb(0xA1, 0x28);
    outb(0x21, 0x04);
    outb(0xA1, 0x02);
    outb(0x21, 0x01);
    outb(0xA1, 0x01);
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
}
