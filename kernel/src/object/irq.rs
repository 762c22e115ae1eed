//! IrqControl and Irq: the authority over interrupt lines, and one line bound to an endpoint.
//! Binding is recorded; delivery of interrupts as messages comes with IPC and the I/O APIC.

use alloc::sync::Weak;

use spin::Mutex;

use super::endpoint::Endpoint;
use super::quota::Charge;

/// Interrupt lines user space may claim (the I/O APIC's 24 inputs).
pub const IRQ_LINES: u8 = 24;

pub struct IrqControl;

pub struct Irq {
    pub line: u8,
    /// Weak: a binding does not keep the endpoint (and the memory charged for it) alive.
    pub bound: Mutex<Option<Weak<Endpoint>>>,
    _charge: Option<Charge>,
}

impl Irq {
    pub fn new(line: u8, charge: Option<Charge>) -> Irq {
        Irq {
            line,
            bound: Mutex::new(None),
            _charge: charge,
        }
    }
}
