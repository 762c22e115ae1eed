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

// ---- syscalls ------------------------------------------------------------------------------

use alloc::sync::Arc;

use super::endpoint::EndpointCap;
use crate::abi::types::Status;
use crate::abi::{IrqControlSyscalls, IrqSyscalls};
use crate::object::{NewCap, Object};
use crate::syscall::{Ctx, C};

impl IrqControlSyscalls for Ctx<'_> {
    fn irq_control_get(&mut self, _control: C<'_, Arc<IrqControl>>, line: u8) -> Result<NewCap, Status> {
        if line >= IRQ_LINES {
            return Err(Status::INVALID_ARGS);
        }
        Ok(NewCap {
            object: Object::Irq(Arc::new(Irq::new(line, None))),
            parent: None,
        })
    }
}

impl IrqSyscalls for Ctx<'_> {
    fn irq_bind(&mut self, irq: C<'_, Arc<Irq>>, ep: C<'_, Arc<EndpointCap>>) -> Result<(), Status> {
        crate::kdebug!("irq line {} bound to an endpoint", irq.line);
        let old = irq.bound.lock().replace(Arc::downgrade(&ep.0));
        drop(old);
        Ok(())
    }

    fn irq_ack(&mut self, irq: C<'_, Arc<Irq>>) -> Result<(), Status> {
        if irq.bound.lock().is_none() {
            return Err(Status::BAD_STATE);
        }
        Ok(())
    }
}
