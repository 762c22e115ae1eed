//! The I/O APICs: where device interrupt lines (global system interrupts, GSIs) become vectors
//! on a CPU. Each input has a redirection entry (vector, trigger mode, polarity, mask and the
//! destination CPU's APIC id), reached through a select register and a window register, so
//! every access is two MMIO operations under the unit's lock. The MADT lists the units and the
//! ISA lines that are wired to another input (interrupt source overrides); `object::irq`
//! decides which lines are programmed and when they are masked.

use alloc::vec::Vec;

use anvil_kcore::acpi::{IoApic as MadtIoApic, IsaOverride};
use spin::{Mutex, Once};

/// Vector of GSI 0; GSI `g` arrives on vector `VECTOR_BASE + g`.
pub const VECTOR_BASE: u8 = 0x40;
/// GSIs the kernel can route: vectors 0x40 up to 0xDF (0xF0 and above are IPIs and spurious).
pub const MAX_GSI: u32 = 0xE0 - VECTOR_BASE as u32;

const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10;
const MASKED: u32 = 1 << 16;
const LEVEL: u32 = 1 << 15;
const ACTIVE_LOW: u32 = 1 << 13;

struct Unit {
    /// Direct-map address of the unit's registers (mapped uncached by `mm::paging::init`).
    base: u64,
    gsi_base: u32,
    inputs: u32,
    /// Serialises the select/window pairs.
    lock: Mutex<()>,
}

impl Unit {
    fn read(&self, reg: u32) -> u32 {
        let sel = self.base as *mut u32;
        let win = (self.base + 0x10) as *mut u32;
        // SAFETY: `base` is the direct-map address of an I/O APIC's register page, mapped
        // uncached; IOREGSEL and IOWIN are 32-bit registers at offsets 0 and 0x10. The caller
        // holds the unit's lock, so the select and the window access stay paired.
        unsafe {
            sel.write_volatile(reg);
            win.read_volatile()
        }
    }

    fn write(&self, reg: u32, v: u32) {
        let sel = self.base as *mut u32;
        let win = (self.base + 0x10) as *mut u32;
        // SAFETY: as in `read`.
        unsafe {
            sel.write_volatile(reg);
            win.write_volatile(v);
        }
    }
}

static UNITS: Once<Vec<Unit>> = Once::new();
static OVERRIDES: Once<Vec<IsaOverride>> = Once::new();

/// Records the units and overrides of the MADT and masks every input (the firmware may have
/// left some enabled). `phys_to_virt` gives the direct-map address of a unit's registers.
pub fn init(units: &[MadtIoApic], overrides: &[IsaOverride], phys_to_virt: impl Fn(u64) -> u64) {
    let units: Vec<Unit> = units
        .iter()
        .map(|u| {
            let mut unit = Unit {
                base: phys_to_virt(u64::from(u.addr)),
                gsi_base: u.gsi_base,
                inputs: 0,
                lock: Mutex::new(()),
            };
            unit.inputs = ((unit.read(REG_VERSION) >> 16) & 0xFF) + 1;
            for i in 0..unit.inputs {
                unit.write(REG_REDIRECTION + 2 * i, MASKED);
            }
            unit
        })
        .collect();
    UNITS.call_once(|| units);
    OVERRIDES.call_once(|| overrides.to_vec());
}

/// The unit that has `gsi` and the input number there.
fn unit_of(gsi: u32) -> Option<(&'static Unit, u32)> {
    if gsi >= MAX_GSI {
        return None;
    }
    UNITS
        .get()?
        .iter()
        .find(|u| gsi >= u.gsi_base && gsi - u.gsi_base < u.inputs)
        .map(|u| (u, gsi - u.gsi_base))
}

/// True if some I/O APIC has input `gsi` and the kernel has a vector for it.
pub fn has(gsi: u32) -> bool {
    unit_of(gsi).is_some()
}

/// Inputs of all units (for the boot log).
pub fn inputs() -> u32 {
    UNITS.get().map_or(0, |u| u.iter().map(|u| u.inputs).sum())
}

/// Where ISA line `isa` arrives: (GSI, level-triggered, active low).
pub fn isa_route(isa: u8) -> (u32, bool, bool) {
    anvil_kcore::acpi::isa_route(OVERRIDES.get().map_or(&[], |o| o.as_slice()), isa)
}

/// Programs `gsi`'s entry: its vector, trigger mode and polarity, fixed delivery to the CPU
/// with APIC id `dest`, masked or not.
pub fn program(gsi: u32, level: bool, active_low: bool, dest: u32, masked: bool) {
    let Some((u, input)) = unit_of(gsi) else { return };
    let mut low = u32::from(VECTOR_BASE) + gsi;
    if level {
        low |= LEVEL;
    }
    if active_low {
        low |= ACTIVE_LOW;
    }
    if masked {
        low |= MASKED;
    }
    let _g = u.lock.lock();
    // Masked first, so the line never fires half-programmed.
    u.write(REG_REDIRECTION + 2 * input, low | MASKED);
    u.write(REG_REDIRECTION + 2 * input + 1, dest << 24);
    u.write(REG_REDIRECTION + 2 * input, low);
}

/// Masks `gsi` (its interrupts wait in the device until it is unmasked).
pub fn mask(gsi: u32) {
    let Some((u, input)) = unit_of(gsi) else { return };
    let _g = u.lock.lock();
    let low = u.read(REG_REDIRECTION + 2 * input);
    u.write(REG_REDIRECTION + 2 * input, low | MASKED);
}

/// GSI of an I/O APIC vector, if it is one.
pub fn gsi_of_vector(v: u64) -> Option<u32> {
    let base = u64::from(VECTOR_BASE);
    (base..base + u64::from(MAX_GSI))
        .contains(&v)
        .then(|| (v - base) as u32)
}
