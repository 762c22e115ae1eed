//! init: the first user program and the supervisor of every service. It checks its boot
//! capabilities, reads `manifest` from the boot archive and starts each service listed there
//! (the name server first): its own address space, CNode and thread, its ELF segments mapped
//! with their own permissions, a stack with a guard page, an IPC buffer, a capability to the
//! name server badged with the service's identity, and exactly the other capabilities the
//! manifest grants. A bad line or a bad program is reported and skipped.
//!
//! Then it serves one endpoint, on which three kinds of message arrive:
//! - the fault and exit reports of every service (the kernel sends them, badged with
//!   `FAULT_BIT` and the service's instance): init logs them, destroys the service by revoking
//!   its quota, and restarts it as its `restart=` policy says, giving up after `RESTART_LIMIT`
//!   restarts within `RESTART_WINDOW_MS`;
//! - the name server's `NamePolicy.policy` questions (badge 0: init gave the name server its
//!   unbadged capability): what each service may register and look up;
//! - `Supervisor` requests from services whose line `uses=supervisor` (the shell): the list of
//!   services, their capabilities, start, kill, restart, wait, memory, CPUs, uptime.
//!
//! Init never calls another service, so no service can make it wait; it prints through the
//! kernel's debug console, which the IO server prints once it runs (`Debug.attach`).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use anvil::process::{destroy_quota, Process};
use anvil::sys::abi::Message;
use anvil::sys::kernel::{Cap, FaultKind, FaultReport, ThreadState, FAULT_LABEL};
use anvil::sys::name::{name_policy_dispatch, NamePolicyServer};
use anvil::sys::system::{supervisor_dispatch, ServiceInfo, ServiceState, SupervisorServer};
use anvil::{boot, println, types, Endpoint, IoPort, IrqControl, Quota, Rights, Status, Tcb};

anvil::entry!(main);

/// Fault-report badges carry this bit, so no client's badge (which the name server mints from
/// init's unbadged capability, with the client's identity) can pass for one.
const FAULT_BIT: u64 = 1 << 63;
/// A service failing more than this many times within the window is given up.
const RESTART_LIMIT: usize = 5;
const RESTART_WINDOW_MS: u64 = 10_000;
/// What `Supervisor.start` gives a program: its memory and the console.
const DEFAULT_QUOTA: u64 = 4 << 20;
/// Identities of services started by `Supervisor.start` (manifest lines have their line
/// numbers).
const FIRST_STARTED_BADGE: u64 = 1000;
/// The names every service may look up: printing needs the console.
const IMPLICIT_USES: &[&str] = &["console"];

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
    let root = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    let (Ok(me), Ok(names)) = (Endpoint::create(&root), Endpoint::create(&root)) else {
        println!("init: cannot create its endpoints");
        return 1;
    };
    let mut init = Init {
        me,
        names,
        services: Vec::new(),
        next_instance: 1,
        next_started: FIRST_STARTED_BADGE,
        irqs: Vec::new(),
        waits: Vec::new(),
        programs: Vec::new(),
    };
    let failed = match boot::archive() {
        Ok(_) => init.start_manifest(),
        Err(e) => {
            println!("init: cannot read the boot archive: {e:?}");
            0
        }
    };
    let running = init
        .services
        .iter()
        .filter(|s| s.state == ServiceState::RUNNING)
        .count();
    println!("init: started {running} services, {failed} failed");
    println!("init: done");
    init.serve()
}

/// Restart policies (`restart=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Restart {
    Never,
    OnFailure,
    Always,
}

/// What a service is given: its manifest line's grants, or `Supervisor.start`'s defaults.
#[derive(Clone)]
struct Grants {
    /// Rights on the debug console (none, WRITE, or READ | WRITE | MANAGE).
    debug: Rights,
    quota: u64,
    ioports: Vec<(u16, u16)>,
    irq: Option<u8>,
    provides: Vec<String>,
    uses: Vec<String>,
    restart: Restart,
    priority: u8,
    /// This service is the name server: it serves the names endpoint.
    nameserver: bool,
    /// The boot archive, read-only, in `BOOT_SLOT_INITRD` (a program that starts copies of
    /// itself, as the benchmark does).
    archive: bool,
}

impl Grants {
    fn defaults() -> Grants {
        Grants {
            debug: Rights::NONE,
            quota: DEFAULT_QUOTA,
            ioports: Vec::new(),
            irq: None,
            provides: Vec::new(),
            uses: Vec::new(),
            restart: Restart::Never,
            priority: 0,
            nameserver: false,
            archive: false,
        }
    }
}

/// A running instance: init's capabilities to its quota (revoking it destroys everything),
/// CNode and first thread, and the badge of its fault reports.
#[derive(Clone, Copy)]
struct Instance {
    quota: u64,
    cnode: u64,
    tcb: u64,
    fault_badge: u64,
}

struct Service {
    name: String,
    binary: String,
    grants: Grants,
    badge: u64,
    state: ServiceState,
    running: Option<Instance>,
    restarts: u32,
    /// Uptimes (ms) of its recent failures, for the restart limit.
    failures: Vec<u64>,
    last_code: u64,
}

impl Service {
    /// A service not started yet (`launch` starts it).
    fn new(name: String, binary: String, grants: Grants, badge: u64) -> Service {
        Service {
            name,
            binary,
            grants,
            badge,
            state: ServiceState::FAILED,
            running: None,
            restarts: 0,
            failures: Vec::new(),
            last_code: 0,
        }
    }
}

/// A `Supervisor.wait` that waits for a service to stop: the saved reply and the request.
struct Wait {
    reply: u64,
    request: Message,
    name: String,
    /// The service that waits (its index).
    client: Option<usize>,
}

/// `Supervisor.wait` calls one client may have waiting at once.
const WAITS_PER_CLIENT: usize = 8;
/// All waiting `Supervisor.wait` calls: a few dozen slots of init's CNode at most.
const MAX_WAITS: usize = 32;

struct Init {
    me: Endpoint,
    names: Endpoint,
    services: Vec<Service>,
    next_instance: u64,
    next_started: u64,
    /// Interrupt lines init took from IrqControl (it keeps each for the services' restarts).
    irqs: Vec<(u8, u64)>,
    waits: Vec<Wait>,
    /// The `program` lines: binaries `Supervisor.start` gives other grants than the defaults.
    programs: Vec<(String, Grants)>,
}

fn st(what: &str) -> impl Fn(Status) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

fn size(s: &str) -> Option<u64> {
    let (num, mul) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn list(v: &str) -> Vec<String> {
    v.split(',').filter(|w| !w.is_empty()).map(String::from).collect()
}

/// One manifest line: `service NAME BINARY [GRANT...]`.
fn parse(line: &str) -> Result<(String, String, Grants), String> {
    let mut words = line.split_ascii_whitespace();
    match words.next() {
        Some("service") => {}
        Some(other) => return Err(format!("unknown directive `{other}` (expected `service` or `program`)")),
        None => return Err("empty line".into()),
    }
    let name = words.next().ok_or("`service` needs a name and a binary")?;
    let binary = words.next().ok_or("`service` needs a binary after the name")?;
    let g = grants(words)?;
    if g.quota == 0 {
        return Err(format!("service `{name}` needs a quota=SIZE grant for its memory"));
    }
    Ok((String::from(name), String::from(binary), g))
}

/// A `program BINARY [GRANT...]` line: what `Supervisor.start` gives BINARY (the default
/// grants, and a quota of `DEFAULT_QUOTA`, where the line says nothing).
fn parse_program(line: &str) -> Result<(String, Grants), String> {
    let mut words = line.split_ascii_whitespace().skip(1);
    let binary = words.next().ok_or("`program` needs a binary")?;
    let mut g = grants(words)?;
    if g.quota == 0 {
        g.quota = DEFAULT_QUOTA;
    }
    Ok((String::from(binary), g))
}

/// The grants of a manifest line (a quota of 0 if it names none).
fn grants<'a>(words: impl Iterator<Item = &'a str>) -> Result<Grants, String> {
    let mut g = Grants::defaults();
    g.quota = 0;
    for w in words {
        match w.split_once('=') {
            None if w == "debug" => g.debug = Rights::WRITE,
            None if w == "nameserver" => g.nameserver = true,
            None if w == "archive" => g.archive = true,
            Some(("debug", "full")) => g.debug = Rights::READ | Rights::WRITE | Rights::MANAGE,
            Some(("quota", v)) => g.quota = size(v).ok_or_else(|| format!("bad quota size `{v}`"))?,
            Some(("ioport", v)) => {
                let (b, c) = v
                    .split_once(':')
                    .ok_or_else(|| format!("ioport wants BASE:COUNT, not `{v}`"))?;
                let base =
                    u16::from_str_radix(b.trim_start_matches("0x"), 16).map_err(|_| format!("bad port `{b}`"))?;
                let count = c.parse::<u16>().map_err(|_| format!("bad port count `{c}`"))?;
                g.ioports.push((base, count));
            }
            Some(("irq", v)) => g.irq = Some(v.parse().map_err(|_| format!("bad interrupt line `{v}`"))?),
            Some(("provides", v)) => g.provides.extend(list(v)),
            Some(("uses", v)) => g.uses.extend(list(v)),
            Some(("priority", v)) => {
                g.priority = v
                    .parse()
                    .ok()
                    .filter(|&p| p <= 31)
                    .ok_or_else(|| format!("bad priority `{v}` (0 to 31)"))?
            }
            Some(("restart", v)) => {
                g.restart = match v {
                    "never" => Restart::Never,
                    "on-failure" => Restart::OnFailure,
                    "always" => Restart::Always,
                    _ => return Err(format!("bad restart policy `{v}` (never, on-failure, always)")),
                }
            }
            _ => {
                return Err(format!(
                "unknown capability grant `{w}` (known: debug, debug=full, quota=SIZE, ioport=BASE:COUNT, irq=LINE, \
                     provides=NAMES, uses=NAMES, restart=POLICY, priority=N, archive, nameserver)"
            ))
            }
        }
    }
    Ok(g)
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

/// How long init waits for the console server to print what the kernel's log holds before it
/// stops that server.
const LOG_WAIT_MS: u64 = 500;

/// Waits until the console server has printed the kernel's buffered log (init's own lines go
/// there), for at most `LOG_WAIT_MS`: a server that does not read it is not waited for longer.
fn wait_for_log() {
    let debug = boot::debug();
    let until = uptime() + LOG_WAIT_MS;
    while debug.log_pending().is_ok_and(|n| n > 0) && uptime() < until {
        let _ = Tcb::yield_now();
    }
}

fn uptime() -> u64 {
    boot::debug().uptime().unwrap_or(0)
}

/// This thread's IPC buffer as a message.
fn message() -> &'static mut Message {
    // SAFETY: init's IPC buffer, mapped read-write for this thread by the kernel; a `Message`
    // fits in its page and is plain data; only this thread uses it.
    unsafe { &mut *(anvil::ipc_buffer() as *mut Message) }
}

/// Copies `s` into a fixed string field, cut at a character boundary.
fn fixed<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let mut n = s.len().min(N);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
    out
}

impl Init {
    /// Reads the manifest and starts its services, in order, except that the name server
    /// goes first (every other service may call it as soon as it runs). Returns how many lines
    /// failed.
    fn start_manifest(&mut self) -> u32 {
        let Some(manifest) = boot::archive_file("manifest") else {
            println!("init: the archive has no manifest; nothing to start");
            return 0;
        };
        let text = String::from_utf8_lossy(manifest);
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .map(|(n, l)| (n, l.split('#').next().unwrap_or("").trim()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        let is_nameserver = |l: &str| parse(l).is_ok_and(|(_, _, g)| g.nameserver);
        let order = lines
            .iter()
            .filter(|(_, l)| is_nameserver(l))
            .chain(lines.iter().filter(|(_, l)| !is_nameserver(l)));
        let mut bad = 0;
        for &(n, line) in order {
            // `program BINARY [GRANT...]`: in the archive for `Supervisor.start`, with these
            // grants; not started now.
            if line.starts_with("program ") {
                match parse_program(line) {
                    Ok((binary, _)) if boot::archive_file(&binary).is_none() => {
                        println!(
                            "init: manifest line {}: program `{binary}` is not in the archive",
                            n + 1
                        );
                        bad += 1;
                    }
                    Ok(p) => self.programs.push(p),
                    Err(e) => {
                        println!("init: manifest line {}: {e}; skipped", n + 1);
                        bad += 1;
                    }
                }
                continue;
            }
            let r = parse(line).and_then(|(name, binary, grants)| {
                if self.find(&name).is_some() {
                    return Err(format!("a service named `{name}` exists already"));
                }
                self.services.push(Service::new(name, binary, grants, n as u64 + 1));
                let i = self.services.len() - 1;
                self.launch(i).map(|()| i).inspect_err(|_| {
                    self.services.pop();
                })
            });
            match r {
                Ok(i) => {
                    let s = &self.services[i];
                    println!("init: started `{}` from `{}`", s.name, s.binary);
                }
                Err(e) => {
                    println!("init: manifest line {}: {e}; skipped", n + 1);
                    bad += 1;
                }
            }
        }
        bad
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    /// Init's capability to interrupt line `line`, taken once and kept across restarts.
    fn irq(&mut self, line: u8) -> Result<u64, String> {
        if let Some(&(_, slot)) = self.irqs.iter().find(|(l, _)| *l == line) {
            return Ok(slot);
        }
        let irq = IrqControl::from_slot(types::BOOT_SLOT_IRQ_CONTROL)
            .get(line)
            .map_err(st("IrqControl.get"))?;
        self.irqs.push((line, irq.0));
        Ok(irq.0)
    }

    /// Starts service `i` from its binary with its grants.
    fn launch(&mut self, i: usize) -> Result<(), String> {
        let (binary, g, badge, name) = {
            let s = &self.services[i];
            (s.binary.clone(), s.grants.clone(), s.badge, s.name.clone())
        };
        let image = boot::archive_file(&binary).ok_or_else(|| format!("binary `{binary}` is not in the archive"))?;
        let root = Quota::from_slot(types::BOOT_SLOT_QUOTA);
        let p = Process::load(&root, g.quota, image, types::BOOT_CNODE_SLOTS).map_err(|e| format!("`{binary}` {e}"))?;
        // Exactly the capabilities granted, in the same slots the kernel gives init.
        p.grant_own()?;
        if g.debug != Rights::NONE {
            p.grant(types::BOOT_SLOT_DEBUG, types::BOOT_SLOT_DEBUG, g.debug)?;
        }
        if g.nameserver {
            p.grant(self.names.0, types::BOOT_SLOT_NAMES, Rights::READ | Rights::WRITE)?;
            p.grant(self.me.0, types::BOOT_SLOT_INIT, Rights::WRITE | Rights::GRANT)?;
        } else {
            // Badged with the service's identity: the name server tells its clients apart.
            p.grant_badged(self.names.0, types::BOOT_SLOT_NAMES, Rights::WRITE, badge)?;
        }
        for &(base, count) in &g.ioports {
            let range = IoPort::from_slot(types::BOOT_SLOT_IOPORT)
                .split(base, count)
                .map_err(st("ioport"))?;
            let r = p.grant(range.0, types::BOOT_SLOT_IOPORT, Rights::READ | Rights::WRITE);
            let _ = Cap::delete(&boot::cnode(), range.0);
            r?;
        }
        if g.archive {
            p.grant(
                types::BOOT_SLOT_INITRD,
                types::BOOT_SLOT_INITRD,
                Rights::READ | Rights::MAP,
            )?;
        }
        if let Some(line) = g.irq {
            let irq = self.irq(line)?;
            p.grant(irq, types::BOOT_SLOT_IRQ, Rights::READ | Rights::WRITE | Rights::MANAGE)?;
        }
        // Its faults and its exit come to init, badged with this instance.
        let fault_badge = FAULT_BIT | self.next_instance;
        self.next_instance += 1;
        p.report_to(self.me, fault_badge)?;
        if g.priority != 0 {
            p.set_priority(g.priority)?;
        }
        p.start(&name, 0)?;
        let (quota, cnode, tcb) = p.release_keeping();
        let s = &mut self.services[i];
        s.running = Some(Instance {
            quota,
            cnode,
            tcb,
            fault_badge,
        });
        s.state = ServiceState::RUNNING;
        Ok(())
    }

    /// Destroys service `i`'s running instance, if any.
    fn destroy(&mut self, i: usize) {
        let s = &mut self.services[i];
        if let Some(inst) = s.running.take() {
            if s.state == ServiceState::RUNNING && s.grants.debug.contains(Rights::MANAGE) {
                // It may be the console server, printing the kernel's log (init's own lines):
                // they reach the screen first, not half a line of them.
                wait_for_log();
            }
            destroy_quota(inst.quota);
        }
    }

    /// Receives and handles messages for ever.
    fn serve(&mut self) -> ! {
        let m = message();
        loop {
            if let Err(e) = self.me.recv() {
                println!("init: receive failed: {e:?}");
                let _ = Tcb::yield_now();
                continue;
            }
            if m.label == FAULT_LABEL {
                if m.badge & FAULT_BIT != 0 && (m.data_len as usize) >= core::mem::size_of::<FaultReport>() {
                    let r: FaultReport = m.read();
                    self.fault(m.badge, &r);
                } else {
                    println!("init: ignored a fault report with badge {:#x}", m.badge);
                }
            } else {
                if m.badge == 0 {
                    name_policy_dispatch(&mut Policy(self), &mut anvil::Ipc);
                } else {
                    supervisor_dispatch(self, &mut anvil::Ipc);
                }
                // A saved reply (wait) leaves nothing to reply to.
                let _ = Endpoint::reply();
            }
            self.answer_waits();
        }
    }

    /// A fault or exit report of the instance `badge` names.
    fn fault(&mut self, badge: u64, r: &FaultReport) {
        let Some(i) = self
            .services
            .iter()
            .position(|s| s.running.is_some_and(|x| x.fault_badge == badge))
        else {
            // A report of an instance init has destroyed meanwhile.
            return;
        };
        println!("init: {} {}", self.services[i].name, describe(r));
        let failed = r.kind != FaultKind::EXIT || r.code != 0;
        // Stopped already: `destroy` must not wait for it to print the log.
        self.services[i].state = ServiceState::FAILED;
        self.destroy(i);
        let now = uptime();
        let s = &mut self.services[i];
        s.last_code = if r.kind == FaultKind::EXIT {
            r.code
        } else {
            u64::from(r.vector)
        };
        let again = match s.grants.restart {
            Restart::Never => false,
            Restart::OnFailure => failed,
            Restart::Always => true,
        };
        s.state = if failed {
            ServiceState::FAILED
        } else {
            ServiceState::EXITED
        };
        if !again {
            return;
        }
        s.failures.retain(|&t| now.saturating_sub(t) < RESTART_WINDOW_MS);
        if s.failures.len() >= RESTART_LIMIT {
            println!(
                "init: {} ended {} times within {} s; giving up (restart limit {RESTART_LIMIT})",
                s.name,
                s.failures.len() + 1,
                RESTART_WINDOW_MS / 1000
            );
            s.state = ServiceState::GAVE_UP;
            s.failures.clear();
            return;
        }
        s.failures.push(now);
        s.restarts += 1;
        println!("init: restarting {} (restart {})", s.name, s.restarts);
        self.relaunch(i);
    }

    /// Starts service `i` again; when it is the name server, also the services that registered
    /// names (the new name server knows none).
    fn relaunch(&mut self, i: usize) {
        if let Err(e) = self.launch(i) {
            println!("init: restarting {} failed: {e}", self.services[i].name);
            self.services[i].state = ServiceState::FAILED;
            return;
        }
        if self.services[i].grants.nameserver {
            let providers: Vec<usize> = (0..self.services.len())
                .filter(|&k| {
                    k != i && !self.services[k].grants.provides.is_empty() && self.services[k].running.is_some()
                })
                .collect();
            for k in providers {
                // Destroyed first: a line printed while the IO server is being destroyed could
                // be lost with it.
                self.destroy(k);
                println!("init: restarting {} (it registered names)", self.services[k].name);
                self.services[k].restarts += 1;
                if let Err(e) = self.launch(k) {
                    println!("init: restarting {} failed: {e}", self.services[k].name);
                }
            }
        }
    }

    /// Answers the `wait`s whose service no longer runs: the saved request is dispatched again
    /// (now it has an answer) and sent through its saved reply.
    fn answer_waits(&mut self) {
        let mut k = 0;
        while k < self.waits.len() {
            let ready = self
                .find(&self.waits[k].name)
                .is_none_or(|i| self.services[i].running.is_none());
            if !ready {
                k += 1;
                continue;
            }
            let w = self.waits.swap_remove(k);
            *message() = w.request;
            supervisor_dispatch(self, &mut anvil::Ipc);
            let _ = anvil::Reply(w.reply).send();
            let _ = Cap::delete(&boot::cnode(), w.reply);
        }
    }

    /// The service whose identity `badge` is, if its line uses `supervisor`.
    fn may_supervise(&self, badge: u64) -> bool {
        self.services
            .iter()
            .any(|s| s.badge == badge && s.grants.uses.iter().any(|u| u == "supervisor"))
    }

    fn info(&self, s: &Service) -> ServiceInfo {
        let mut info = ServiceInfo {
            name: fixed(&s.name),
            binary: fixed(&s.binary),
            state: s.state,
            thread: ThreadState::DEAD,
            threads: 0,
            cpu: u32::MAX,
            ticks: 0,
            restarts: s.restarts,
            quota_used: 0,
            quota_limit: s.grants.quota,
            slots_used: 0,
            slots: 0,
            badge: s.badge,
            last_code: s.last_code,
        };
        let Some(inst) = s.running else { return info };
        if let Ok((state, cpu, _)) = Tcb::from_slot(inst.tcb).stats() {
            info.thread = state;
            info.cpu = cpu;
        }
        if let Ok((limit, used)) = Quota::from_slot(inst.quota).info() {
            info.quota_limit = limit;
            info.quota_used = used;
        }
        let cnode = anvil::CNode::from_slot(inst.cnode);
        if let Ok((slots, used)) = cnode.info() {
            info.slots = slots;
            info.slots_used = used;
        }
        // Its threads: the live thread capabilities in its CNode (each counted once per
        // capability; a service that copies a thread capability counts it twice).
        for slot in 1..u64::from(info.slots) {
            if let Ok((state, _, ticks)) = Cap::thread_stats(&cnode, slot) {
                if state != ThreadState::DEAD {
                    info.threads += 1;
                    info.ticks += ticks;
                }
            }
        }
        info
    }
}

/// The name server's questions about policies.
struct Policy<'a>(&'a mut Init);

impl NamePolicyServer for Policy<'_> {
    fn policy(
        &mut self,
        _badge: u64,
        client: u64,
        provides: &mut [u8; 200],
        uses: &mut [u8; 300],
    ) -> Result<(usize, usize), Status> {
        let s = self
            .0
            .services
            .iter()
            .find(|s| s.badge == client)
            .ok_or(Status::NOT_FOUND)?;
        let p = s.grants.provides.join(" ");
        let mut u: Vec<&str> = s.grants.uses.iter().map(String::as_str).collect();
        for extra in IMPLICIT_USES {
            if !u.contains(extra) {
                u.push(extra);
            }
        }
        let u = u.join(" ");
        if p.len() > provides.len() || u.len() > uses.len() {
            return Err(Status::INVALID_ARGS);
        }
        provides[..p.len()].copy_from_slice(p.as_bytes());
        uses[..u.len()].copy_from_slice(u.as_bytes());
        Ok((p.len(), u.len()))
    }
}

impl SupervisorServer for Init {
    fn service(&mut self, badge: u64, index: u32) -> Result<ServiceInfo, Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        let s = self.services.get(index as usize).ok_or(Status::NOT_FOUND)?;
        Ok(self.info(s))
    }

    fn capability(&mut self, badge_: u64, name: &str, from: u32) -> Result<(bool, u32, u32, Rights, u64), Status> {
        if !self.may_supervise(badge_) {
            return Err(Status::ACCESS_DENIED);
        }
        let i = self.find(name).ok_or(Status::NOT_FOUND)?;
        let inst = self.services[i].running.ok_or(Status::BAD_STATE)?;
        let cnode = anvil::CNode::from_slot(inst.cnode);
        let (slots, _) = cnode.info()?;
        for slot in from.max(1)..slots {
            if let Ok((ty, rights, badge)) = Cap::identify(&cnode, u64::from(slot)) {
                return Ok((true, slot, ty, rights, badge));
            }
        }
        Ok((false, 0, 0, Rights::NONE, 0))
    }

    fn start(&mut self, badge: u64, binary: &str, name: &mut [u8; 32]) -> Result<usize, Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        let image = boot::archive_file(binary).ok_or(Status::NOT_FOUND)?;
        if anvil_kcore::elf::plan(image).is_err() || binary == "manifest" {
            return Err(Status::INVALID_ARGS);
        }
        let mut chosen = String::from(binary);
        let mut k = 2;
        while self.find(&chosen).is_some() {
            chosen = format!("{binary}-{k}");
            k += 1;
        }
        let badge = self.next_started;
        self.next_started += 1;
        let grants = match self.programs.iter().find(|(b, _)| b == binary) {
            Some((_, g)) => g.clone(),
            None => {
                let mut g = Grants::defaults();
                g.quota = DEFAULT_QUOTA;
                g
            }
        };
        self.services
            .push(Service::new(chosen.clone(), String::from(binary), grants, badge));
        let i = self.services.len() - 1;
        if let Err(e) = self.launch(i) {
            println!("init: starting `{binary}` failed: {e}");
            self.services.pop();
            return Err(Status::QUOTA_EXCEEDED);
        }
        println!("init: started `{chosen}` from `{binary}`");
        let n = chosen.len().min(name.len());
        name[..n].copy_from_slice(&chosen.as_bytes()[..n]);
        Ok(n)
    }

    fn kill(&mut self, badge: u64, name: &str) -> Result<(), Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        let i = self.find(name).ok_or(Status::NOT_FOUND)?;
        if self.services[i].running.is_none() {
            return Err(Status::BAD_STATE);
        }
        self.destroy(i);
        self.services[i].state = ServiceState::KILLED;
        println!("init: killed {name}");
        Ok(())
    }

    fn restart(&mut self, badge: u64, name: &str) -> Result<(), Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        let i = self.find(name).ok_or(Status::NOT_FOUND)?;
        self.destroy(i);
        self.services[i].restarts += 1;
        self.services[i].failures.clear();
        println!("init: restarting {name} (restart {})", self.services[i].restarts);
        self.relaunch(i);
        if self.services[i].running.is_some() {
            Ok(())
        } else {
            Err(Status::BAD_STATE)
        }
    }

    fn wait(&mut self, badge: u64, name: &str) -> Result<u64, Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        let i = self.find(name).ok_or(Status::NOT_FOUND)?;
        let s = &self.services[i];
        if s.running.is_none() {
            return Ok(s.last_code);
        }
        // Answered when it stops (`answer_waits`), with this request dispatched again. Waits
        // whose callers went are dropped first; a client may have only so many, and all of
        // them together leave init the slots it needs to start and restart services.
        self.waits.retain(|w| !anvil::Reply(w.reply).forget_if_abandoned());
        let caller = self.services.iter().position(|s| s.badge == badge);
        let theirs = self.waits.iter().filter(|w| w.client == caller).count();
        if theirs >= WAITS_PER_CLIENT || self.waits.len() >= MAX_WAITS {
            return Err(Status::NO_SLOT);
        }
        let request = *message();
        let reply = Endpoint::save_reply(&Quota::from_slot(types::BOOT_SLOT_QUOTA))?;
        self.waits.push(Wait {
            reply: reply.0,
            request,
            name: String::from(name),
            client: caller,
        });
        Err(Status::WOULD_BLOCK)
    }

    fn memory(&mut self, badge: u64) -> Result<(u64, u64, u64, u64, u64, u64), Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        let (free, total, heap, kept, _) = boot::debug().memory()?;
        let (limit, used) = Quota::from_slot(types::BOOT_SLOT_QUOTA).info()?;
        Ok((free, total, heap, kept, used, limit))
    }

    fn cpu(&mut self, badge: u64, cpu: u32) -> Result<(u32, u64, u64, u64, bool), Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        boot::debug().cpu(cpu)
    }

    fn uptime(&mut self, badge: u64) -> Result<u64, Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        boot::debug().uptime()
    }

    fn shutdown(&mut self, badge: u64, code: u8) -> Result<(), Status> {
        if !self.may_supervise(badge) {
            return Err(Status::ACCESS_DENIED);
        }
        println!("init: shutting down (code {code})");
        boot::debug().shutdown(code)
    }
}
