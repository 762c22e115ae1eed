//! init: the first user program. It checks its boot capabilities, then reads `manifest` from
//! the boot archive and starts each service listed there: its own address space, CNode and
//! thread, its ELF segments mapped with their own permissions, a stack with a guard page, an
//! IPC buffer, and exactly the capabilities the manifest grants. A bad line or a bad program is
//! reported and skipped; the other services still start.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use anvil::process::Process;
use anvil::sys::kernel::{Cap, FaultKind, FaultReport, FAULT_LABEL};
use anvil::{boot, println, types, Endpoint, IoPort, MapFlags, Quota, Rights, Status, Tcb, Vmo};

anvil::entry!(main);

/// Where init maps the boot archive (read-only).
const ARCHIVE_VA: u64 = 0x0000_2000_0000_0000;

fn main() -> u64 {
    println!("init: hello from user space (IPC buffer at {:#x})", anvil::ipc_buffer());
    let cpu = anvil::Tcb::current_cpu().unwrap_or(u32::MAX);
    println!("init: running on cpu {cpu}");
    match boot::debug().stats() {
        Ok((frames, heap)) => println!("init: kernel reports {frames} free frames, {heap} heap bytes used"),
        Err(e) => println!("init: Debug.stats failed: {e:?}"),
    }
    let bogus = anvil::Debug::from_slot(200);
    match bogus.write(b"must not print\n") {
        Err(Status::INVALID_CAP) => println!("init: empty slot refused with INVALID_CAP"),
        other => println!("init: empty slot gave {other:?}"),
    }
    let wrong = anvil::Debug::from_slot(types::BOOT_SLOT_VSPACE);
    match wrong.write(b"must not print\n") {
        Err(Status::WRONG_TYPE) => println!("init: wrong object type refused with WRONG_TYPE"),
        other => println!("init: wrong type gave {other:?}"),
    }
    let faults = match Endpoint::create(&Quota::from_slot(types::BOOT_SLOT_QUOTA)) {
        Ok(ep) => ep,
        Err(e) => {
            println!("init: cannot create the fault endpoint: {e:?}");
            return 1;
        }
    };
    let (running, failed) = match archive() {
        Ok(a) => start_all(a, faults),
        Err(e) => {
            println!("init: cannot read the boot archive: {e:?}");
            (Vec::new(), 0)
        }
    };
    println!("init: started {} services, {failed} failed", running.len());
    println!("init: done");
    supervise(faults, running)
}

/// A service init started and supervises: its fault reports carry `badge`; revoking `quota`
/// (init's capability to the quota everything of the service was made with) destroys it.
struct Running {
    name: String,
    badge: u64,
    quota: u64,
}

/// Receives the fault and exit reports of every service, logs them, and frees what the
/// service had. (Restart policies come with the system services.)
fn supervise(faults: Endpoint, mut running: Vec<Running>) -> ! {
    // SAFETY: init's IPC buffer, mapped read-write for this thread by the kernel; a `Message`
    // fits in its page and is plain data; only this thread uses it.
    let m = unsafe { &mut *(anvil::ipc_buffer() as *mut anvil::sys::abi::Message) };
    loop {
        if let Err(e) = faults.recv() {
            println!("init: waiting for fault reports failed: {e:?}");
            let _ = Tcb::yield_now();
            continue;
        }
        if m.label != FAULT_LABEL || (m.data_len as usize) < core::mem::size_of::<FaultReport>() {
            println!(
                "init: ignored a message with label {:#x} on the fault endpoint",
                m.label
            );
            continue;
        }
        let r: FaultReport = m.read();
        let Some(i) = running.iter().position(|s| s.badge == m.badge) else {
            println!("init: fault report from an unknown badge {}", m.badge);
            continue;
        };
        let s = running.swap_remove(i);
        println!("init: {} {}", s.name, describe(&r));
        let own = boot::cnode();
        let freed = Cap::revoke(&own, s.quota).and_then(|()| Cap::delete(&own, s.quota));
        if let Err(e) = freed {
            println!("init: freeing `{}` failed: {e:?}", s.name);
        }
    }
}

/// "faulted: page fault at 0x... rip 0x..." or "exited with code N".
fn describe(r: &FaultReport) -> String {
    let what = match r.kind {
        FaultKind::EXIT => return format!("exited with code {}", r.code),
        FaultKind::PAGE_FAULT => return format!("faulted: page fault at {:#x} rip {:#x}", r.addr, r.rip),
        FaultKind::GENERAL_PROTECTION => "general protection fault",
        FaultKind::INVALID_OPCODE => "invalid opcode",
        FaultKind::DIVIDE_ERROR => "divide error",
        _ => "exception",
    };
    format!("faulted: {what} (vector {}) rip {:#x}", r.vector, r.rip)
}

fn archive() -> Result<&'static [u8], Status> {
    let rd = Vmo::from_slot(types::BOOT_SLOT_INITRD);
    let size = rd.size()?;
    boot::vspace().map(&rd, ARCHIVE_VA, 0, size, MapFlags::R)?;
    // SAFETY: `size` bytes at ARCHIVE_VA were just mapped read-only and stay mapped for the
    // rest of init's life; nothing writes them.
    Ok(unsafe { core::slice::from_raw_parts(ARCHIVE_VA as *const u8, size as usize) })
}

fn find<'a>(archive: &'a [u8], name: &str) -> Option<&'a [u8]> {
    cpio_reader::iter_files(archive)
        .find(|e| e.name() == name)
        .map(|e| e.file())
}

/// Endpoints named in the manifest (`serve=NAME`, `use=NAME`), created on first mention.
struct Endpoints(Vec<(String, Endpoint)>);

impl Endpoints {
    fn get(&mut self, name: &str) -> Result<Endpoint, String> {
        if let Some((_, ep)) = self.0.iter().find(|(n, _)| n == name) {
            return Ok(*ep);
        }
        let ep = Endpoint::create(&Quota::from_slot(types::BOOT_SLOT_QUOTA)).map_err(st("Endpoint.create"))?;
        self.0.push((String::from(name), ep));
        Ok(ep)
    }
}

fn start_all(archive: &[u8], faults: Endpoint) -> (Vec<Running>, u32) {
    let mut eps = Endpoints(Vec::new());
    let mut running = Vec::new();
    let Some(manifest) = find(archive, "manifest") else {
        println!("init: the archive has no manifest; nothing to start");
        return (running, 0);
    };
    let text = String::from_utf8_lossy(manifest);
    let mut bad = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let badge = n as u64 + 1;
        match parse(line).and_then(|s| start(&s, archive, &mut eps, badge, faults).map(|q| (s, q))) {
            Ok((s, quota)) => {
                println!("init: started `{}` from `{}`", s.name, s.binary);
                running.push(Running {
                    name: String::from(s.name),
                    badge,
                    quota,
                });
            }
            Err(e) => {
                println!("init: manifest line {}: {e}; skipped", n + 1);
                bad += 1;
            }
        }
    }
    (running, bad)
}

/// One manifest line: `service NAME BINARY [GRANT...]`.
struct Service<'a> {
    name: &'a str,
    binary: &'a str,
    debug: bool,
    quota: u64,
    ioports: Vec<(u16, u16)>,
    serve: Option<&'a str>,
    uses: Option<&'a str>,
}

fn size(s: &str) -> Option<u64> {
    let (num, mul) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn parse(line: &str) -> Result<Service<'_>, String> {
    let mut words = line.split_ascii_whitespace();
    match words.next() {
        Some("service") => {}
        Some(other) => return Err(format!("unknown directive `{other}` (expected `service`)")),
        None => return Err("empty line".into()),
    }
    let name = words.next().ok_or("`service` needs a name and a binary")?;
    let binary = words.next().ok_or("`service` needs a binary after the name")?;
    let mut s = Service {
        name,
        binary,
        debug: false,
        quota: 0,
        ioports: Vec::new(),
        serve: None,
        uses: None,
    };
    for g in words {
        match g.split_once('=') {
            None if g == "debug" => s.debug = true,
            Some(("serve", v)) => s.serve = Some(v),
            Some(("use", v)) => s.uses = Some(v),
            Some(("quota", v)) => s.quota = size(v).ok_or_else(|| format!("bad quota size `{v}`"))?,
            Some(("ioport", v)) => {
                let (b, c) = v
                    .split_once(':')
                    .ok_or_else(|| format!("ioport wants BASE:COUNT, not `{v}`"))?;
                let base =
                    u16::from_str_radix(b.trim_start_matches("0x"), 16).map_err(|_| format!("bad port `{b}`"))?;
                let count = c.parse::<u16>().map_err(|_| format!("bad port count `{c}`"))?;
                s.ioports.push((base, count));
            }
            _ => {
                return Err(format!(
                    "unknown capability grant `{g}` (known: debug, quota=SIZE, ioport=BASE:COUNT, serve=NAME, use=NAME)"
                ))
            }
        }
    }
    if s.quota == 0 {
        return Err(format!("service `{name}` needs a quota=SIZE grant for its memory"));
    }
    Ok(s)
}

fn st(what: &str) -> impl Fn(Status) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

/// Starts a service; returns the slot of init's capability to its quota.
fn start(s: &Service, archive: &[u8], eps: &mut Endpoints, badge: u64, faults: Endpoint) -> Result<u64, String> {
    let image = find(archive, s.binary).ok_or_else(|| format!("binary `{}` is not in the archive", s.binary))?;
    let root = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    let p = Process::load(&root, s.quota, image, types::BOOT_CNODE_SLOTS).map_err(|e| format!("`{}` {e}", s.binary))?;
    // Exactly the capabilities granted, in the same slots the kernel gives init.
    p.grant_own()?;
    if s.debug {
        p.grant(types::BOOT_SLOT_DEBUG, types::BOOT_SLOT_DEBUG, Rights::WRITE)?;
    }
    if let Some(name) = s.serve {
        p.grant(eps.get(name)?.0, types::BOOT_SLOT_SERVE, Rights::READ | Rights::WRITE)?;
    }
    if let Some(name) = s.uses {
        // A client's capability carries a badge (its manifest line), so the server can tell
        // its callers apart; it may only send.
        p.grant_badged(
            eps.get(name)?.0,
            types::BOOT_SLOT_USE,
            Rights::WRITE | Rights::GRANT,
            badge,
        )?;
    }
    for &(base, count) in &s.ioports {
        let range = IoPort::from_slot(types::BOOT_SLOT_IOPORT)
            .split(base, count)
            .map_err(st("ioport"))?;
        let r = p.grant(range.0, types::BOOT_SLOT_IOPORT, Rights::READ | Rights::WRITE);
        let _ = Cap::delete(&boot::cnode(), range.0);
        r?;
    }
    // Its faults and its exit come to init, badged with its manifest line.
    p.report_to(faults, badge)?;
    p.start(s.name, 0)?;
    Ok(p.release())
}
