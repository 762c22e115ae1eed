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
