//! libanvil: the runtime for Rust services on Anvil. It provides the entry point (`entry!`),
//! the panic handler, `print!`/`println!` (through the IO server once the name server gives
//! its `console`, the kernel's debug console before that), the name server's client side, and
//! the bindings generated from `idl/` (typed capability handles with syscall methods, protocol
//! clients and server traits).

#![no_std]

extern crate alloc;

pub mod heap;
pub mod names;
pub mod process;
pub mod testing;
pub mod thread;

/// Everything generated from `idl/`: one module per library.
#[allow(clippy::all, missing_docs)]
pub mod sys {
    include!(concat!(env!("OUT_DIR"), "/anvil_bindings.rs"));
}

pub use sys::abi::{AnyCap, Handle};
pub use sys::kernel::*;
pub use sys::types::{self, MapFlags, Regs, Rights, Status};

impl Reply {
    /// Deletes this saved reply from the service's CNode if its caller no longer waits for it
    /// (it was killed or stopped); true if it did. A server that answers later keeps such
    /// replies from counting against their client's limits or holding its slots.
    pub fn forget_if_abandoned(&self) -> bool {
        if self.waiting().unwrap_or(false) {
            return false;
        }
        let _ = Cap::delete(&boot::cnode(), self.0);
        true
    }
}

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

/// Protocol calls over this thread's IPC buffer and `Endpoint.call`: the transport the
/// generated protocol clients take.
pub struct Ipc;

impl sys::abi::Transport for Ipc {
    fn message(&mut self) -> &mut sys::abi::Message {
        // SAFETY: the IPC buffer is a page mapped read-write for this thread by whoever started
        // it (kernel or init) at the address passed in rdi; `Message` fits in a page and is
        // plain data; `&mut self` keeps the borrow unique within this thread.
        unsafe { &mut *(ipc_buffer() as *mut sys::abi::Message) }
    }

    fn call(&mut self, ep: u64) -> u64 {
        match Endpoint::from_slot(ep).call() {
            Ok(()) => 0,
            Err(e) => u64::from(e.0),
        }
    }

    fn release(&mut self, slot: u64) {
        // A slot the kernel just filled: deleting it can only fail if someone else emptied it
        // already, which leaves nothing to release.
        let _ = sys::kernel::Cap::delete(&boot::cnode(), slot);
    }
}

impl Ipc {
    /// Serves requests on `ep` forever: waits for a message, lets `handle` (a generated
    /// `*_dispatch`) turn the request in the buffer into the reply, replies and waits again.
    pub fn serve(ep: &Endpoint, mut handle: impl FnMut(&mut Ipc)) -> ! {
        let mut t = Ipc;
        let mut st = ep.recv();
        loop {
            if st.is_ok() {
                handle(&mut t);
            }
            st = ep.reply_recv();
        }
    }
}

/// Address of the first thread's IPC buffer, as the kernel passed it at start.
static IPC_BUFFER: AtomicU64 = AtomicU64::new(0);

/// The capabilities the kernel or init placed in this process's CNode at start.
pub mod boot {
    use super::*;

    pub fn cnode() -> CNode {
        CNode::from_slot(types::BOOT_SLOT_CNODE)
    }
    pub fn vspace() -> VSpace {
        VSpace::from_slot(types::BOOT_SLOT_VSPACE)
    }
    pub fn tcb() -> Tcb {
        Tcb::from_slot(types::BOOT_SLOT_TCB)
    }
    pub fn debug() -> Debug {
        Debug::from_slot(types::BOOT_SLOT_DEBUG)
    }

    /// Where the boot archive is mapped (read-only) in the process that holds it (init).
    const ARCHIVE_VA: u64 = 0x0000_2000_0000_0000;
    static ARCHIVE_LEN: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    /// The boot archive (a CPIO file), mapped on first use. Needs the archive's VMO in
    /// `BOOT_SLOT_INITRD`, which the kernel gives init.
    pub fn archive() -> Result<&'static [u8], Status> {
        let mut len = ARCHIVE_LEN.load(Ordering::Acquire);
        if len == 0 {
            let rd = Vmo::from_slot(types::BOOT_SLOT_INITRD);
            len = rd.size()?;
            vspace().map(&rd, ARCHIVE_VA, 0, len, MapFlags::R)?;
            ARCHIVE_LEN.store(len, Ordering::Release);
        }
        // SAFETY: `len` bytes at ARCHIVE_VA were mapped read-only above (once: the length is
        // published after the mapping) and stay mapped for the rest of the process's life;
        // nothing writes them.
        Ok(unsafe { core::slice::from_raw_parts(ARCHIVE_VA as *const u8, len as usize) })
    }

    /// The file `name` of the boot archive.
    pub fn archive_file(name: &str) -> Option<&'static [u8]> {
        cpio_reader::iter_files(archive().ok()?)
            .find(|e| e.name() == name)
            .map(|e| e.file())
    }
}

/// Address of the calling thread's IPC buffer (0 for a thread started without one): the first
/// thread's, or the one `thread::spawn` gave the thread whose stack the caller runs on.
pub fn ipc_buffer() -> u64 {
    thread::own_ipc_buffer().unwrap_or_else(|| IPC_BUFFER.load(Ordering::Relaxed))
}

/// The argument the process was started with (`rsi`; see `process::Process::start`), 0 for
/// a program the kernel or init starts.
static START_ARG: AtomicU64 = AtomicU64::new(0);

pub fn start_arg() -> u64 {
    START_ARG.load(Ordering::Relaxed)
}

/// Called by `entry!` before `main`.
#[doc(hidden)]
pub fn runtime_init(ipc_buffer: u64, arg: u64) {
    IPC_BUFFER.store(ipc_buffer, Ordering::Relaxed);
    START_ARG.store(arg, Ordering::Relaxed);
}

/// Ends the calling thread with `code`.
pub fn exit(code: u64) -> ! {
    Tcb::exit(code)
}

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        console_write(s);
        Ok(())
    }
}

/// Writes text to the console.
pub fn console_write(s: &str) {
    console_write_bytes(s.as_bytes());
}

/// Writes bytes to the console as they are (the console takes any bytes, not only UTF-8):
/// through the IO server's `Console.write` once the name server gives this service the
/// `console` endpoint, else to the kernel's debug console if the service holds it (init,
/// the IO server, and anything before the IO server runs), else nowhere.
pub fn console_write_bytes(bytes: &[u8]) {
    console::write(bytes);
}

/// Where this process's output goes.
pub mod console {
    use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

    use super::*;
    use crate::sys::console::Console;

    /// The slot of the IO server's `Console` endpoint, 0 until looked up.
    static SLOT: AtomicU64 = AtomicU64::new(0);
    /// What the name server capability allows: unknown yet, a client, or none (no capability,
    /// or this process is the name server itself).
    static NAMES: AtomicU8 = AtomicU8::new(UNKNOWN);
    const UNKNOWN: u8 = 0;
    const CLIENT: u8 = 1;
    const NONE: u8 = 2;
    /// Serialises lookups (two threads printing first at once).
    static LOOKUP: spin::Mutex<()> = spin::Mutex::new(());
    /// A writer that replaces the console (the IO server prints to itself).
    static WRITER: spin::Once<fn(&[u8])> = spin::Once::new();

    /// Makes all of this process's output go to `w` (the IO server's own lines).
    pub fn set_writer(w: fn(&[u8])) {
        WRITER.call_once(|| w);
    }

    /// Sends output to the `Console` endpoint in `slot` from now on.
    pub fn use_endpoint(slot: u64) {
        SLOT.store(slot, Ordering::SeqCst);
    }

    pub(crate) fn write(bytes: &[u8]) {
        if let Some(w) = WRITER.get() {
            return w(bytes);
        }
        if ipc_buffer() == 0 {
            // A thread with no IPC buffer cannot call the IO server.
            return debug(bytes);
        }
        for chunk in bytes.chunks(256) {
            write_chunk(chunk);
        }
    }

    fn debug(bytes: &[u8]) {
        for chunk in bytes.chunks(4096) {
            let _ = boot::debug().write(chunk);
        }
    }

    fn write_chunk(chunk: &[u8]) {
        // A second try after a failure: the IO server may have been restarted (its old endpoint
        // is gone; the name server gives the new one).
        for _ in 0..2 {
            let slot = endpoint();
            if slot == 0 {
                break;
            }
            if Console::from_slot(slot).write(&mut Ipc, chunk).is_ok() {
                return;
            }
            forget(slot);
        }
        debug(chunk);
    }

    /// Drops a console endpoint that failed: deletes it if it is still there (a revoked
    /// capability leaves its slot empty, and the slot may hold something else later).
    fn forget(slot: u64) {
        if SLOT
            .compare_exchange(slot, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            && sys::kernel::Cap::identify(&boot::cnode(), slot).is_ok_and(|(t, _, _)| t == sys::kernel::OBJ_ENDPOINT)
        {
            let _ = sys::kernel::Cap::delete(&boot::cnode(), slot);
        }
    }

    /// Moves the console capability to the CNode's last slot if it is free: the kernel gives
    /// out the lowest free slot, so the console's is not one a revoked capability of the
    /// service's own code leaves empty and the service might delete by its old number.
    fn keep_apart(slot: u64) -> u64 {
        let own = boot::cnode();
        let Ok((slots, _)) = own.info() else { return slot };
        let last = u64::from(slots) - 1;
        if slot != last
            && sys::kernel::Cap::identify(&own, last).is_err()
            && sys::kernel::Cap::transfer(&own, slot, &own, last).is_ok()
        {
            return last;
        }
        slot
    }

    /// The console endpoint, looked up on first use: waiting for the IO server when this
    /// service has no debug console to print to meanwhile, else only if it is there now.
    fn endpoint() -> u64 {
        let slot = SLOT.load(Ordering::SeqCst);
        if slot != 0 || NAMES.load(Ordering::SeqCst) == NONE {
            return slot;
        }
        let _g = LOOKUP.lock();
        let slot = SLOT.load(Ordering::SeqCst);
        if slot != 0 {
            return slot;
        }
        let own = boot::cnode();
        if NAMES.load(Ordering::SeqCst) == UNKNOWN {
            // A client holds the name server's endpoint without READ; the name server serves it.
            let client = sys::kernel::Cap::identify(&own, types::BOOT_SLOT_NAMES)
                .is_ok_and(|(t, r, _)| t == sys::kernel::OBJ_ENDPOINT && !r.contains(Rights::READ));
            NAMES.store(if client { CLIENT } else { NONE }, Ordering::SeqCst);
            if !client {
                return 0;
            }
        }
        // The debug console's slot holds it only if init granted it; otherwise the slot is
        // free and may hold anything this process made since (the kernel gives out the lowest
        // free slot: a thread's capabilities, say), so the type is checked, not only the right.
        // (Taking such a capability for a debug console made a service that printed while the
        // IO server was not yet registered skip the wait, and lose the line.)
        let has_debug = sys::kernel::Cap::identify(&own, types::BOOT_SLOT_DEBUG)
            .is_ok_and(|(t, r, _)| t == sys::kernel::OBJ_DEBUG && r.contains(Rights::WRITE));
        let found = if has_debug {
            names::try_lookup("console")
        } else {
            names::lookup("console")
        };
        match found {
            Ok(ep) => {
                let slot = keep_apart(ep.0);
                SLOT.store(slot, Ordering::SeqCst);
                slot
            }
            // Not allowed: do not ask at every line.
            Err(Status::ACCESS_DENIED) => {
                NAMES.store(NONE, Ordering::SeqCst);
                0
            }
            // Not registered yet, or the name server was restarted meanwhile: ask again next
            // time.
            Err(_) => 0,
        }
    }
}

#[doc(hidden)]
pub fn print_fmt(args: fmt::Arguments) {
    let mut buf = Buffered { buf: [0; 256], len: 0 };
    let _ = buf.write_fmt(args);
    buf.flush();
}

/// Collects small writes so that one `println!` becomes one syscall.
struct Buffered {
    buf: [u8; 256],
    len: usize,
}

impl Buffered {
    fn flush(&mut self) {
        if self.len > 0 {
            console_write_bytes(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for Buffered {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > self.buf.len() {
            self.flush();
        }
        if s.len() > self.buf.len() {
            return Console.write_str(s);
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

#[macro_export]
macro_rules! print {
    ($($t:tt)*) => { $crate::print_fmt(format_args!($($t)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($t:tt)*) => { $crate::print_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

/// Declares the service's entry point: `entry!(main)` with `fn main() -> u64`; the return value
/// becomes the thread's exit code.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        pub extern "C" fn _start(ipc_buffer: u64, arg: u64) -> ! {
            $crate::runtime_init(ipc_buffer, arg);
            let code: u64 = $main();
            $crate::exit(code)
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if let Some(l) = info.location() {
        print_fmt(format_args!("panic at {}:{}: {}\n", l.file(), l.line(), info.message()));
    } else {
        print_fmt(format_args!("panic: {}\n", info.message()));
    }
    exit(101)
}
