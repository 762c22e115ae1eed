//! Port I/O: the serial console and QEMU's exit device.

use x86_64::instructions::port::Port;

/// Writes one byte to an I/O port.
pub fn outb(port: u16, value: u8) {
    // SAFETY: callers pass ports the kernel owns (COM1, the QEMU exit device) or a port that
    // an I/O-port capability granted; writing them has no effect on kernel memory.
    unsafe { Port::<u8>::new(port).write(value) }
}

/// Reads one byte from an I/O port.
pub fn inb(port: u16) -> u8 {
    // SAFETY: as for `outb`; reading a port does not touch memory.
    unsafe { Port::<u8>::new(port).read() }
}

/// Ends the QEMU run through the `isa-debug-exit` device at 0xf4: QEMU exits with
/// `(code << 1) | 1`. Without that device the write is ignored and the CPU halts.
pub fn qemu_exit(code: u8) -> ! {
    outb(0xf4, code);
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Reads a port of `width` bytes (1, 2 or 4) for an I/O-port capability.
pub fn read(port: u16, width: u8) -> u32 {
    // SAFETY: the caller checked the port lies in a range an I/O-port capability granted;
    // port reads do not touch memory.
    unsafe {
        match width {
            1 => u32::from(Port::<u8>::new(port).read()),
            2 => u32::from(Port::<u16>::new(port).read()),
            _ => Port::<u32>::new(port).read(),
        }
    }
}

/// Writes a port of `width` bytes (1, 2 or 4) for an I/O-port capability.
pub fn write(port: u16, width: u8, value: u32) {
    // SAFETY: as for `read`; port writes do not touch kernel memory.
    unsafe {
        match width {
            1 => Port::<u8>::new(port).write(value as u8),
            2 => Port::<u16>::new(port).write(value as u16),
            _ => Port::<u32>::new(port).write(value),
        }
    }
}
