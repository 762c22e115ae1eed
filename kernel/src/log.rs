//! The kernel log on the serial console (COM1), with levels. Each line is written whole under
//! one lock, so lines from different CPUs do not interleave.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};

use spin::Mutex;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

struct Serial;

const COM1: u16 = 0x3F8;

impl Serial {
    fn init() {
        use crate::arch::x86_64::port::outb;
        outb(COM1 + 1, 0x00); // no interrupts
        outb(COM1 + 3, 0x80); // divisor latch
        outb(COM1, 0x01); // 115200 baud
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03); // 8N1
        outb(COM1 + 2, 0xC7); // FIFO
        outb(COM1 + 4, 0x0B);
    }

    fn put(b: u8) {
        use crate::arch::x86_64::port::{inb, outb};
        let mut spins = 0;
        while inb(COM1 + 5) & 0x20 == 0 && spins < 100_000 {
            spins += 1;
        }
        outb(COM1, b);
    }
}

impl Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                Serial::put(b'\r');
            }
            Serial::put(b);
        }
        Ok(())
    }
}

static LOCK: Mutex<()> = Mutex::new(());

pub fn init() {
    Serial::init();
}

pub fn set_level(l: Level) {
    LEVEL.store(l as u8, Ordering::Relaxed);
}

pub fn enabled(l: Level) -> bool {
    l as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one log line.
pub fn line(l: Level, args: fmt::Arguments) {
    if !enabled(l) {
        return;
    }
    let tag = match l {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
    };
    let _g = LOCK.lock();
    let _ = writeln!(Serial, "[{tag}] {args}");
}

/// Writes user console output as it is: any bytes, not only UTF-8.
pub fn raw_bytes(bytes: &[u8]) {
    let _g = LOCK.lock();
    for &b in bytes {
        if b == b'\n' {
            Serial::put(b'\r');
        }
        Serial::put(b);
    }
}

/// Writes without taking the lock: for panics and fatal traps, where the lock may be held by
/// the code that failed.
pub fn emergency(args: fmt::Arguments) {
    let _ = Serial.write_fmt(args);
}

#[macro_export]
macro_rules! kerr { ($($t:tt)*) => { $crate::log::line($crate::log::Level::Error, format_args!($($t)*)) } }
#[macro_export]
macro_rules! kwarn { ($($t:tt)*) => { $crate::log::line($crate::log::Level::Warn, format_args!($($t)*)) } }
#[macro_export]
macro_rules! kinfo { ($($t:tt)*) => { $crate::log::line($crate::log::Level::Info, format_args!($($t)*)) } }
#[macro_export]
macro_rules! kdebug { ($($t:tt)*) => { $crate::log::line($crate::log::Level::Debug, format_args!($($t)*)) } }
