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
