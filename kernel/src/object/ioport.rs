//! IoPort: a range of x86 I/O ports a user-space driver may read and write.

use super::quota::Charge;

pub struct IoPort {
    pub base: u16,
    /// Number of ports (up to 65536 for the root range).
    pub count: u32,
    _charge: Option<Charge>,
}

impl IoPort {
    pub fn new(base: u16, count: u32, charge: Option<Charge>) -> IoPort {
        IoPort {
            base,
            count,
            _charge: charge,
        }
    }

    /// The port at `offset` if `width` bytes from it lie inside the range.
    pub fn port(&self, offset: u16, width: u8) -> Option<u16> {
        let end = u32::from(offset) + u32::from(width);
        (matches!(width, 1 | 2 | 4) && end <= self.count).then(|| self.base.wrapping_add(offset))
    }
}

// ---- syscalls ------------------------------------------------------------------------------

use alloc::sync::Arc;

use crate::abi::types::Status;
use crate::abi::IoPortSyscalls;
use crate::object::{NewCap, Object};
use crate::syscall::{Ctx, C};

impl IoPortSyscalls for Ctx<'_> {
    fn io_port_split(&mut self, parent: C<'_, Arc<IoPort>>, base: u16, count: u16) -> Result<NewCap, Status> {
        let start = u32::from(base);
        let end = start + u32::from(count);
        let pstart = u32::from(parent.base);
        if count == 0 || start < pstart || end > pstart + parent.count {
            return Err(Status::INVALID_ARGS);
        }
        Ok(NewCap {
            object: Object::IoPort(Arc::new(IoPort::new(base, u32::from(count), None))),
            parent: None,
        })
    }

    fn io_port_read(&mut self, r: C<'_, Arc<IoPort>>, off: u16, w: u8) -> Result<u32, Status> {
        let port = r.port(off, w).ok_or(Status::INVALID_ARGS)?;
        Ok(crate::arch::x86_64::port::read(port, w))
    }

    fn io_port_write(&mut self, r: C<'_, Arc<IoPort>>, off: u16, w: u8, v: u32) -> Result<(), Status> {
        let port = r.port(off, w).ok_or(Status::INVALID_ARGS)?;
        crate::arch::x86_64::port::write(port, w, v);
        Ok(())
    }
}
