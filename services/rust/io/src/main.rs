//! io: the IO server. It owns the first serial port (COM1) through the I/O ports and the
//! interrupt line its manifest line grants, and serves the `Console` protocol under the name
//! `console`: any number of clients write, and their lines reach the port whole, never mixed
//! with another client's; clients read what is typed, and a read waits until there is input.
//! It also prints the kernel's log, which the kernel hands over to it (`Debug.attach`).
//!
//! One thread does everything and never polls: it waits in `Endpoint.recv` with a
//! notification bound to it, which the kernel signals for COM1's interrupt (bit 1) and for new
//! kernel output (bit 2). A read that finds no input saves its reply (`Endpoint.save_reply`)
//! and the request; when input arrives the saved request goes through the generated dispatch
//! again and its reply is sent with `Reply.send`. So the server keeps serving writers while
//! readers wait.
//!
//! Lines: each source (a client's badge, the kernel, this server) has a buffer; a write adds
//! to it and every complete line goes to the port at once. A client that reads first has its
//! partial line printed (a prompt, an echo) and its output then goes out as it comes, for the
//! terminal's sake; another source's line is printed on a line of its own and the partial line
//! shown again after it.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use anvil::sys::abi::Message;
use anvil::sys::console::{console_dispatch, ConsoleServer};
use anvil::sys::kernel::{Cap, NOTIFY_LABEL};
use anvil::{boot, types, Endpoint, IoPort, Ipc, Irq, Notification, Quota, Reply, Rights, Status};

anvil::entry!(main);

/// COM1's registers, as offsets into its port range.
const DATA: u16 = 0;
const IER: u16 = 1;
const FCR: u16 = 2;
const MCR: u16 = 4;
const LSR: u16 = 5;
const LSR_DATA_READY: u32 = 0x01;
const LSR_THR_EMPTY: u32 = 0x20;
/// Bytes the transmit FIFO takes when the holding register reports empty.
const TX_FIFO: usize = 16;

/// Bits of the bound notification.
const BIT_IRQ: u64 = 1;
const BIT_LOG: u64 = 2;

/// Source ids of lines that are not a client's.
const KERNEL: u64 = u64::MAX;
const SELF: u64 = u64::MAX - 1;
/// A partial line longer than this is printed as it is.
const LINE_MAX: usize = 1024;
/// Typed bytes kept while nobody reads.
const INPUT_MAX: usize = 4096;
/// Saved reads per client.
const READS_PER_CLIENT: usize = 4;

/// What this server prints itself (`console::set_writer`), taken by the loop.
static OWN: spin::Mutex<Vec<u8>> = spin::Mutex::new(Vec::new());

fn own_output(bytes: &[u8]) {
    OWN.lock().extend_from_slice(bytes);
}

/// A read waiting for input: its saved reply and the request.
struct Reader {
    badge: u64,
    reply: Reply,
    request: Message,
}

struct Io {
    port: IoPort,
    /// Partial lines by source.
    lines: Vec<(u64, Vec<u8>)>,
    /// The source whose partial line is on the terminal (the cursor is after it), and the
    /// bytes of that line so far, to show it again after another source's line.
    open: Option<u64>,
    shown: Vec<u8>,
    input: VecDeque<u8>,
    readers: VecDeque<Reader>,
    /// The request being dispatched, kept for a read that must wait.
    current: Message,
    replaying: bool,
    deferred: bool,
}

fn message() -> &'static mut Message {
    // SAFETY: this thread's IPC buffer, mapped read-write for it by init; a `Message` fits in
    // its page and is plain data; only this thread uses it.
    unsafe { &mut *(anvil::ipc_buffer() as *mut Message) }
}

fn fail(what: &str, e: impl core::fmt::Debug) -> ! {
    // Before the console works, the kernel's debug console is the only way to say why.
    let mut line = alloc::format!("io: {what} failed: {e:?}\n");
    let _ = boot::debug().write(line.as_bytes());
    line.clear();
    anvil::exit(1)
}

impl Io {
    fn reg(&self, r: u16) -> u32 {
        self.port.read(r, 1).unwrap_or(0)
    }

    fn set(&self, r: u16, v: u8) {
        let _ = self.port.write(r, 1, u32::from(v));
    }

    /// Writes bytes to the port (newlines as CR LF), a FIFO's worth each time it is empty.
    fn out(&self, bytes: &[u8]) {
        let mut pending = [0u8; TX_FIFO];
        let mut n = 0;
        let flush = |buf: &[u8]| {
            let mut spins = 0;
            while self.reg(LSR) & LSR_THR_EMPTY == 0 && spins < 1_000_000 {
                spins += 1;
            }
            for &b in buf {
                self.set(DATA, b);
            }
        };
        for &b in bytes {
            if b == b'\n' {
                if n == TX_FIFO {
                    flush(&pending[..n]);
                    n = 0;
                }
                pending[n] = b'\r';
                n += 1;
            }
            if n == TX_FIFO {
                flush(&pending[..n]);
                n = 0;
            }
            pending[n] = b;
            n += 1;
        }
        if n > 0 {
            flush(&pending[..n]);
        }
    }

    /// Prints `bytes` of `src`: a line (ending in a newline) or the partial line `src` shows.
    /// A line of another source than the one whose partial line is on the terminal (the
    /// shell's prompt and what is typed after it) goes on a line of its own, and the partial
    /// line is shown again after it, as it was.
    fn emit(&mut self, src: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let interrupted = self.open.filter(|&o| o != src);
        if interrupted.is_some() {
            self.out(b"\n");
        }
        self.out(bytes);
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(nl) if nl + 1 == bytes.len() => {
                if let Some(o) = interrupted {
                    let shown = core::mem::take(&mut self.shown);
                    self.out(&shown);
                    self.shown = shown;
                    self.open = Some(o);
                } else {
                    self.open = None;
                    self.shown.clear();
                }
            }
            Some(nl) => {
                self.open = Some(src);
                self.shown = bytes[nl + 1..].to_vec();
            }
            None => {
                if interrupted.is_some() {
                    self.shown.clear();
                }
                self.open = Some(src);
                if self.shown.len() + bytes.len() <= LINE_MAX {
                    self.shown.extend_from_slice(bytes);
                }
            }
        }
    }

    fn buffer(&mut self, src: u64) -> &mut Vec<u8> {
        let i = match self.lines.iter().position(|(s, _)| *s == src) {
            Some(i) => i,
            None => {
                self.lines.push((src, Vec::new()));
                self.lines.len() - 1
            }
        };
        &mut self.lines[i].1
    }

    /// Adds what `src` wrote; prints every line it completed.
    fn write_from(&mut self, src: u64, data: &[u8]) {
        if self.open == Some(src) && self.buffer(src).is_empty() {
            // Its partial line is on the terminal: what follows goes out as it comes, up to the
            // last newline, the rest after it too (it continues what is shown).
            self.emit(src, data);
            return;
        }
        let mut buf = core::mem::take(self.buffer(src));
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + nl + 1;
            let line: Vec<u8> = buf[start..end].to_vec();
            self.emit(src, &line);
            start = end;
        }
        buf.drain(..start);
        if buf.len() > LINE_MAX {
            let line = core::mem::take(&mut buf);
            self.emit(src, &line);
        }
        *self.buffer(src) = buf;
    }

    /// Prints `src`'s partial line (it is about to read: a prompt, an echo).
    fn flush_partial(&mut self, src: u64) {
        let buf = core::mem::take(self.buffer(src));
        self.emit(src, &buf);
        if !buf.is_empty() || self.open.is_none() {
            self.open = Some(src);
        }
    }

    /// Everything the UART has received.
    fn take_input(&mut self) {
        while self.reg(LSR) & LSR_DATA_READY != 0 {
            let b = self.reg(DATA) as u8;
            if self.input.len() < INPUT_MAX {
                self.input.push_back(b);
            }
        }
    }

    /// The kernel's buffered output.
    fn take_kernel_log(&mut self) {
        loop {
            let Ok((len, lost)) = boot::debug().read_log() else {
                return;
            };
            if lost > 0 {
                let note = alloc::format!("[io: {lost} bytes of kernel log lost]\n");
                self.write_from(KERNEL, note.as_bytes());
            }
            if len == 0 {
                return;
            }
            let m = message();
            let bytes: Vec<u8> = m.data[..(len as usize).min(m.data.len())].to_vec();
            self.write_from(KERNEL, &bytes);
        }
    }

    fn take_own(&mut self) {
        let own = core::mem::take(&mut *OWN.lock());
        if !own.is_empty() {
            self.write_from(SELF, &own);
        }
    }

    /// Answers the saved reads while there is input, first come first served.
    fn answer_readers(&mut self) {
        while !self.input.is_empty() {
            let Some(r) = self.readers.pop_front() else { return };
            // What the read takes, given back if its client is gone (or stopped): the input is
            // for the next reader then.
            let before = self.input.clone();
            *message() = r.request;
            self.current = r.request;
            self.replaying = true;
            self.deferred = false;
            console_dispatch(self, &mut Ipc);
            self.replaying = false;
            if self.deferred {
                // Not reachable while there is input; keep its place if it happens.
                self.readers.push_front(r);
                return;
            }
            if r.reply.send().is_err() {
                self.input = before;
            }
            let _ = Cap::delete(&boot::cnode(), r.reply.0);
        }
    }

    /// Deletes the saved reads whose clients no longer wait for them (killed, or stopped): they
    /// would count against their client's limit and hold this server's slots.
    fn forget_dead_readers(&mut self) {
        self.readers.retain(|r| !r.reply.forget_if_abandoned());
    }
}

impl ConsoleServer for Io {
    fn write(&mut self, badge: u64, data: &[u8]) -> Result<u32, Status> {
        self.write_from(badge, data);
        Ok(data.len() as u32)
    }

    fn read(&mut self, badge: u64, max: u32, data: &mut [u8; 256]) -> Result<usize, Status> {
        self.flush_partial(badge);
        if !self.input.is_empty() {
            let n = (max as usize).min(data.len()).min(self.input.len());
            for (d, b) in data.iter_mut().zip(self.input.drain(..n)) {
                *d = b;
            }
            return Ok(n);
        }
        if self.replaying {
            self.deferred = true;
            return Err(Status::WOULD_BLOCK);
        }
        if max == 0 {
            return Ok(0);
        }
        self.forget_dead_readers();
        if self.readers.iter().filter(|r| r.badge == badge).count() >= READS_PER_CLIENT {
            return Err(Status::WOULD_BLOCK);
        }
        // Nothing typed yet: answered when there is (`answer_readers`).
        let reply = Endpoint::save_reply(&Quota::from_slot(types::BOOT_SLOT_QUOTA))?;
        self.readers.push_back(Reader {
            badge,
            reply,
            request: self.current,
        });
        self.deferred = true;
        Err(Status::WOULD_BLOCK)
    }
}

fn main() -> u64 {
    anvil::console::set_writer(own_output);
    let own = boot::cnode();
    let quota = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    let port = IoPort::from_slot(types::BOOT_SLOT_IOPORT);
    let irq = Irq::from_slot(types::BOOT_SLOT_IRQ);
    let ntfn = Notification::create(&quota).unwrap_or_else(|e| fail("Notification.create", e));
    let badged = |bits: u64| -> Notification {
        let slot = anvil::process::free_slot(&own).unwrap_or_else(|| fail("a free slot", Status::NO_SLOT));
        Cap::mint(&own, ntfn.0, &own, slot, Rights::WRITE, bits).unwrap_or_else(|e| fail("Cap.mint", e));
        Notification::from_slot(slot)
    };
    let for_irq = badged(BIT_IRQ);
    let for_log = badged(BIT_LOG);
    boot::tcb()
        .bind_notification(&ntfn)
        .unwrap_or_else(|e| fail("Tcb.bind_notification", e));
    irq.bind(&for_irq).unwrap_or_else(|e| fail("Irq.bind", e));
    let io = &mut Io {
        port,
        lines: Vec::new(),
        open: None,
        shown: Vec::new(),
        input: VecDeque::new(),
        readers: VecDeque::new(),
        current: Message::new(),
        replaying: false,
        deferred: false,
    };
    // COM1 keeps the speed and format the kernel set; FIFOs on (cleared, interrupt at one
    // byte), OUT2 on (it gates the interrupt on a PC), and the received-data interrupt.
    io.set(FCR, 0x07);
    io.set(MCR, 0x0B);
    io.set(IER, 0x01);
    irq.ack().unwrap_or_else(|e| fail("Irq.ack", e));
    // From here on the kernel's lines come through this server.
    boot::debug()
        .attach(&for_log)
        .unwrap_or_else(|e| fail("Debug.attach", e));
    let ep = Endpoint::create(&quota).unwrap_or_else(|e| fail("Endpoint.create", e));
    anvil::println!("io: serving COM1 (irq 4) as `console`");
    io.take_own();
    io.take_kernel_log();
    anvil::names::register("console", &ep).unwrap_or_else(|e| fail("registering `console`", e));

    let m = message();
    loop {
        if ep.recv().is_err() {
            continue;
        }
        if m.label == NOTIFY_LABEL {
            let bits = m.badge;
            if bits & BIT_IRQ != 0 {
                // Unmasked first: a byte that arrives while the FIFO is drained raises a new
                // edge, which an edge-triggered line would lose while masked.
                let _ = irq.ack();
                io.take_input();
            }
            if bits & BIT_LOG != 0 {
                io.take_kernel_log();
            }
        } else {
            io.current = *m;
            io.deferred = false;
            console_dispatch(io, &mut Ipc);
            // Nothing is sent for a read that waits: its reply was saved.
            let _ = Endpoint::reply();
        }
        io.answer_readers();
        io.take_own();
    }
}
