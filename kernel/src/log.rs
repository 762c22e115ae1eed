//! The kernel log on the serial console (COM1), with levels. Each line is written whole under
//! one lock, so lines from different CPUs do not interleave.
//!
//! Until a user-space console server (the IO server) takes the console over (`Debug.attach`),
//! log lines and `Debug.write` bytes go to the serial port. After that they go to a ring
//! buffer, and the server, signalled through a notification at the next safe point, reads
//! them (`Debug.read_log`) and prints them between its clients' lines, so that a kernel line
//! never lands in the middle of a service's line. Panics, fatal traps and a test run's last
//! lines go straight to the port, after whatever the buffer still holds; so does everything
//! again once the server's notification is gone.

use alloc::sync::{Arc, Weak};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use spin::Mutex;

use crate::object::notification::Notification;

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

/// The serial port's lock, and the ring the log goes to while a console server is attached.
static LOCK: Mutex<Ring> = Mutex::new(Ring {
    bytes: [0; RING],
    head: 0,
    len: 0,
    lost: 0,
    handed: 0,
});

const RING: usize = 16 * 1024;

struct Ring {
    bytes: [u8; RING],
    head: usize,
    len: usize,
    /// Bytes dropped because the ring was full, since the last `read`.
    lost: u64,
    /// The first bytes of the ring, handed to the server by the last `read` and taken out by
    /// the next: if the server dies while it prints them, its successor gets them again.
    handed: usize,
}

impl Ring {
    fn push(&mut self, b: u8) {
        if self.len == RING {
            self.lost += 1;
            return;
        }
        self.bytes[(self.head + self.len) % RING] = b;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.bytes[self.head];
        self.head = (self.head + 1) % RING;
        self.len -= 1;
        Some(b)
    }

    /// Writes what the ring holds to the port and empties it.
    fn drain_to_port(&mut self) {
        self.handed = 0;
        while let Some(b) = self.pop() {
            put_text(b);
        }
    }
}

fn put_text(b: u8) {
    if b == b'\n' {
        Serial::put(b'\r');
    }
    Serial::put(b);
}

/// True while a console server is attached: output goes to the ring.
static ATTACHED: AtomicBool = AtomicBool::new(false);
/// Output went to the ring since the server was last signalled.
static PENDING: AtomicBool = AtomicBool::new(false);
/// The attached server's notification and the bits to signal it with. Its own lock (never
/// held with the ring's): a `Weak` is cloned and dropped under it, which may free memory.
static SERVER: Mutex<Option<(Weak<Notification>, u64)>> = Mutex::new(None);

/// `Debug.attach`: from now on output goes to the ring, and `n` is signalled with `bits` when
/// there is some.
pub fn attach(n: &Arc<Notification>, bits: u64) {
    let old = SERVER.lock().replace((Arc::downgrade(n), bits));
    drop(old);
    // Under the port's lock: a line going straight to the port (a drain after the previous
    // server went) ends before the new server may write to the port.
    let mut r = LOCK.lock();
    // What the previous server was handed and may not have printed goes to this one.
    r.handed = 0;
    ATTACHED.store(true, Ordering::SeqCst);
    PENDING.store(true, Ordering::SeqCst);
}

/// At a safe point (no lock held: `reap::drain`): signals the console server if output waits
/// for it; if the server is gone, the console goes back to the port, with what the ring holds.
/// One load when nothing waits.
#[inline]
pub fn kick() {
    if PENDING.load(Ordering::Acquire) {
        kick_now();
    }
}

#[inline(never)]
fn kick_now() {
    if !PENDING.swap(false, Ordering::AcqRel) {
        return;
    }
    let server = SERVER.lock().clone();
    match server.as_ref().map(|(w, bits)| (w.upgrade(), *bits)) {
        Some((Some(n), bits)) => crate::object::notification::signal(&n, bits),
        Some((None, _)) => detach(),
        None => {}
    }
}

/// The run ends (`Debug.shutdown` by `me`): the console server's thread (the one its
/// notification is bound to) is stopped, so that it is not writing to the port while the
/// kernel prints its last lines there. The caller holds no lock.
pub fn quiesce(me: &Arc<crate::object::tcb::Tcb>) {
    let server = SERVER.lock().clone();
    let thread = server.and_then(|(w, _)| w.upgrade()).and_then(|n| n.bound_thread());
    if let Some(t) = thread.filter(|t| !Arc::ptr_eq(t, me)) {
        let _ = crate::object::tcb::suspend(&t, me);
    }
}

/// Sends the console back to the serial port, first with what the ring holds (a test run's
/// end, a server that is gone).
pub fn detach() {
    let old = SERVER.lock().take();
    drop(old);
    let mut r = LOCK.lock();
    if ATTACHED.swap(false, Ordering::SeqCst) {
        // The server may have stopped in the middle of a line: the kernel's start on their own.
        put_text(b'\n');
    }
    r.drain_to_port();
}

/// `Debug.read_log`: takes out what the last call handed over (the server has printed it), then
/// hands over up to `buf.len()` bytes, which stay in the ring until the next call; returns how
/// many and the bytes lost since the last call.
pub fn read(buf: &mut [u8]) -> (usize, u64) {
    let mut r = LOCK.lock();
    for _ in 0..core::mem::take(&mut r.handed) {
        r.pop();
    }
    let n = buf.len().min(r.len);
    for (i, b) in buf[..n].iter_mut().enumerate() {
        *b = r.bytes[(r.head + i) % RING];
    }
    r.handed = n;
    (n, core::mem::take(&mut r.lost))
}

/// The bytes the last `read` handed over never reached the server, nor its count of `lost`
/// bytes: the next `read` hands them over again.
pub fn unhand(lost: u64) {
    let mut r = LOCK.lock();
    r.handed = 0;
    // Reported by the next call instead.
    r.lost += lost;
}

/// `Debug.log_pending`: the bytes in the ring, handed over or not.
pub fn pending() -> usize {
    LOCK.lock().len
}

/// Writes one line's bytes to wherever the console is now.
fn emit(write: impl FnOnce(&mut dyn FnMut(u8))) {
    let mut r = LOCK.lock();
    if ATTACHED.load(Ordering::SeqCst) {
        write(&mut |b| r.push(b));
        PENDING.store(true, Ordering::Release);
    } else {
        write(&mut put_text);
    }
}

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
    emit(|put| {
        let _ = writeln!(Sink(put), "[{tag}] {args}");
    });
}

/// Writes user console output as it is: any bytes, not only UTF-8.
pub fn raw_bytes(bytes: &[u8]) {
    emit(|put| bytes.iter().for_each(|&b| put(b)));
}

/// `fmt::Write` into a byte sink.
struct Sink<'a>(&'a mut dyn FnMut(u8));

impl Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(|b| (self.0)(b));
        Ok(())
    }
}

/// Writes without waiting for the lock: for panics and fatal traps, where the lock may be held
/// by the code that failed. What the ring holds goes first, if the lock is free.
pub fn emergency(args: fmt::Arguments) {
    if let Some(mut r) = LOCK.try_lock() {
        ATTACHED.store(false, Ordering::SeqCst);
        r.drain_to_port();
    }
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
