//! IrqControl and Irq: the authority over interrupt lines, and one line, delivered to user
//! space through a notification.
//!
//! Each GSI has a `Line` in a fixed table: whether an `Irq` object for it lives (there is at
//! most one, so the table and the objects are bounded by the number of lines and no quota is
//! needed), its trigger mode and polarity, the notification it signals, and the CPU its
//! interrupts go to. An interrupt masks its line at the I/O APIC, acknowledges the local APIC,
//! and signals the notification: the kernel never waits for the driver. `Irq.ack` unmasks
//! the line and moves it to the next CPU, so a line's interrupts arrive on every CPU in turn
//! and nothing assumes they arrive where the driver runs. The line lock is only ever held
//! for a few register writes, never while signalling (see docs/smp.md, "Lifetime").

use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use super::notification::{self, Notification};
use crate::abi::types::Status;
use crate::arch::x86_64::ioapic::{self, MAX_GSI};
use crate::arch::x86_64::tlb::{APIC_IDS, MAX_CPUS};

/// Legacy (ISA) lines `IrqControl.get` takes.
pub const ISA_LINES: u8 = 16;

pub struct IrqControl;

/// The capability's object for one GSI; dropping it (its last capability went) unbinds and
/// masks the line and lets `IrqControl` issue it again.
pub struct Irq {
    pub gsi: u32,
}

struct Line {
    issued: bool,
    level: bool,
    active_low: bool,
    /// The notification to signal, with the bits. Weak: a binding does not keep the
    /// notification (and the memory charged for it) alive.
    bound: Option<(Weak<Notification>, u64)>,
    /// CPU index the line is routed to.
    cpu: u32,
}

static LINES: [Mutex<Line>; MAX_GSI as usize] = [const {
    Mutex::new(Line {
        issued: false,
        level: false,
        active_low: false,
        bound: None,
        cpu: 0,
    })
}; MAX_GSI as usize];

/// Device interrupts each CPU took (`Debug.cpu`).
pub static TAKEN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn line(gsi: u32) -> &'static Mutex<Line> {
    &LINES[(gsi % MAX_GSI) as usize]
}

/// `IrqControl.get` and `get_gsi`: the one `Irq` of `gsi`, programmed masked.
pub fn issue(gsi: u32, level: bool, active_low: bool) -> Result<Irq, Status> {
    if !ioapic::has(gsi) {
        return Err(Status::INVALID_ARGS);
    }
    let mut l = line(gsi).lock();
    if l.issued {
        return Err(Status::ALREADY_EXISTS);
    }
    l.issued = true;
    l.level = level;
    l.active_low = active_low;
    l.bound = None;
    l.cpu = 0;
    ioapic::program(gsi, level, active_low, APIC_IDS[0].load(Ordering::Acquire), true);
    Ok(Irq { gsi })
}

/// `IrqControl.get`: an ISA line, through the MADT's overrides.
pub fn issue_isa(isa: u8) -> Result<Irq, Status> {
    if isa >= ISA_LINES {
        return Err(Status::INVALID_ARGS);
    }
    let (gsi, level, active_low) = ioapic::isa_route(isa);
    issue(gsi, level, active_low)
}

impl Drop for Irq {
    fn drop(&mut self) {
        let old = {
            let mut l = line(self.gsi).lock();
            ioapic::mask(self.gsi);
            l.issued = false;
            l.bound.take()
        };
        drop(old);
    }
}

/// `Irq.bind`: interrupts signal `n` with `bits`; the line stays masked until `ack`.
pub fn bind(irq: &Irq, n: &Arc<Notification>, bits: u64) {
    let old = {
        let mut l = line(irq.gsi).lock();
        ioapic::mask(irq.gsi);
        l.bound.replace((Arc::downgrade(n), bits))
    };
    drop(old);
}

/// `Irq.ack`: unmasks the line, routed to the CPU after the one that took it last.
pub fn ack(irq: &Irq) -> Result<(), Status> {
    let mut l = line(irq.gsi).lock();
    if l.bound.is_none() {
        return Err(Status::BAD_STATE);
    }
    let cpus = crate::cpu_count().max(1);
    l.cpu = (l.cpu + 1) % cpus;
    let dest = APIC_IDS[l.cpu as usize % MAX_CPUS].load(Ordering::Acquire);
    ioapic::program(irq.gsi, l.level, l.active_low, dest, false);
    Ok(())
}

/// An interrupt on `gsi`'s vector, on CPU `cpu`, with no kernel lock held (it arrived in user
/// mode or in the idle loop): mask the line, signal its notification. The caller sends the
/// local APIC's end of interrupt.
pub fn handle(gsi: u32, cpu: usize) {
    TAKEN[cpu % MAX_CPUS].fetch_add(1, Ordering::Relaxed);
    let target = {
        let l = line(gsi).lock();
        ioapic::mask(gsi);
        l.bound.clone()
    };
    if let Some((n, bits)) = target {
        if let Some(n) = n.upgrade() {
            notification::signal(&n, bits);
        }
    }
}

// ---- syscalls ------------------------------------------------------------------------------

use crate::abi::{IrqControlSyscalls, IrqSyscalls};
use crate::object::{NewCap, Object};
use crate::syscall::{Ctx, C};

fn new_cap(irq: Irq) -> NewCap {
    NewCap {
        object: Object::Irq(Arc::new(irq)),
        parent: None,
    }
}

impl IrqControlSyscalls for Ctx<'_> {
    fn irq_control_get(&mut self, _control: C<'_, Arc<IrqControl>>, line: u8) -> Result<NewCap, Status> {
        issue_isa(line).map(new_cap)
    }

    fn irq_control_get_gsi(
        &mut self,
        _control: C<'_, Arc<IrqControl>>,
        gsi: u32,
        level: bool,
        active_low: bool,
    ) -> Result<NewCap, Status> {
        issue(gsi, level, active_low).map(new_cap)
    }
}

impl IrqSyscalls for Ctx<'_> {
    fn irq_bind(&mut self, irq: C<'_, Arc<Irq>>, n: C<'_, Arc<notification::NotificationCap>>) -> Result<(), Status> {
        bind(&irq, &n.0, notification::bits_of(n.badge));
        Ok(())
    }

    fn irq_ack(&mut self, irq: C<'_, Arc<Irq>>) -> Result<(), Status> {
        ack(&irq)
    }
}
