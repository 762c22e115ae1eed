//! sys_hostile: an ordinary service (`uses=supervisor,ghost`, and the console everyone may use)
//! that attacks the system services with hostile sequences: raw garbage and capabilities to
//! the name server, the IO server and init; waiting lookups and console reads whose callers
//! vanish; odd and racing `Supervisor` calls; saved replies abandoned by the thousand. After
//! each attack it checks that the services still answer. Started by init with
//! `Supervisor.start` (no `supervisor` to look up) it is a child that only waits in
//! `Console.read` (the IO server attack).
//!
//! Lines: `sys_hostile: <attack>: <what happened>`; `FINDING` marks a service misbehaving.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering::SeqCst};

use anvil::sys::abi::Message;
use anvil::sys::console::Console;
use anvil::sys::kernel::Cap;
use anvil::sys::system::{ServiceInfo, Supervisor};
use anvil::thread::{self, Spawn, Thread};
use anvil::{boot, names, println, types, Endpoint, Ipc, Quota, Status, Tcb};

anvil::entry!(main);

const NAMES_PROTO: u64 = 0x77955e3a;
const CONSOLE_PROTO: u64 = 0x9fe1d381;
const SUPERVISOR_PROTO: u64 = 0xd0dfe36c;
const NONE: u64 = u64::MAX;

fn msg() -> &'static mut Message {
    // SAFETY: the calling thread's IPC buffer, mapped read-write for it; a `Message` fits in a
    // page and is plain data; only this thread uses it.
    unsafe { &mut *(anvil::ipc_buffer() as *mut Message) }
}

fn st(r: Result<(), Status>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => u64::from(e.0),
    }
}

fn code<T>(r: &Result<T, Status>) -> Status {
    match r {
        Ok(_) => Status(0),
        Err(e) => *e,
    }
}

/// Sends a raw message and returns (call status, reply label).
fn raw(ep: u64, label: u64, data_len: u32, fill: u8, caps: &[u64]) -> (u64, u64) {
    let m = msg();
    m.label = label;
    m.data_len = data_len;
    m.cap_count = caps.len() as u32;
    for (i, &c) in caps.iter().enumerate() {
        m.caps[i] = c;
    }
    for b in m.data.iter_mut() {
        *b = fill;
    }
    let r = st(Endpoint::from_slot(ep).call());
    (r, msg().label)
}

fn sup() -> Supervisor {
    loop {
        match names::lookup("supervisor") {
            Ok(ep) => return Supervisor::from_slot(ep.0),
            Err(e) => {
                println!("sys_hostile: lookup supervisor: {e:?}");
                let _ = Tcb::yield_now();
            }
        }
    }
}

fn info(s: &Supervisor, name: &str) -> Option<ServiceInfo> {
    let mut i = 0;
    while let Ok(info) = s.service(&mut Ipc, i) {
        let n = info.name.iter().position(|&c| c == 0).unwrap_or(32);
        if &info.name[..n] == name.as_bytes() {
            return Some(info);
        }
        i += 1;
    }
    None
}

fn slots(s: &Supervisor, name: &str) -> (u32, u64) {
    info(s, name).map_or((0, 0), |i| (i.slots_used, i.quota_used))
}

fn sleep_ms(s: &Supervisor, ms: u64) {
    let until = s.uptime(&mut Ipc).unwrap_or(0) + ms;
    while s.uptime(&mut Ipc).unwrap_or(u64::MAX) < until {
        let _ = Tcb::yield_now();
    }
}

/// Do the services still answer: a name lookup, a console write through a fresh console
/// capability, init's `uptime` and `service`.
fn alive(s: &Supervisor, after: &str) -> bool {
    let look = names::try_lookup("console");
    let write = match &look {
        Ok(ep) => {
            let r = Console::from_slot(ep.0).write(&mut Ipc, b"sys_hostile: (console write check)\n");
            let _ = Cap::delete(&boot::cnode(), ep.0);
            code(&r)
        }
        Err(e) => *e,
    };
    let up = s.uptime(&mut Ipc);
    let list = s.service(&mut Ipc, 0);
    let ok = look.is_ok() && write == Status(0) && up.is_ok() && list.is_ok();
    println!(
        "sys_hostile: alive after {after}: {} (lookup console {:?}, console write {write:?}, init uptime {:?}, init service(0) {:?})",
        if ok { "yes" } else { "NO: FINDING" },
        code(&look),
        code(&up),
        code(&list)
    );
    ok
}

// ---- threads ----------------------------------------------------------------------------

/// Per-worker results (NONE while its call has not returned).
static RESULTS: [AtomicU64; 8] = [const { AtomicU64::new(NONE) }; 8];
static CONSOLE: AtomicU64 = AtomicU64::new(0);
static SUP: AtomicU64 = AtomicU64::new(0);

fn try_spawn(f: extern "C" fn(u64) -> !, arg: u64) -> Result<Thread, Status> {
    RESULTS[arg as usize % 8].store(NONE, SeqCst);
    let how = Spawn {
        ipc_buffer: true,
        ..Spawn::default()
    };
    thread::spawn(f, arg, how)
}

fn spawn(f: extern "C" fn(u64) -> !, arg: u64) -> Thread {
    try_spawn(f, arg).unwrap_or_else(|e| {
        println!("sys_hostile: spawn failed: {e:?}");
        anvil::exit(3)
    })
}

/// A `Console.read` on a thread of its own (`console_read` with result slot `k`), given 300 ms:
/// its result, `NONE` if it still waits; the thread is then abandoned.
fn read_once(s: &Supervisor, k: usize) -> u64 {
    let t = spawn(console_read, k as u64);
    sleep_ms(s, 300);
    let r = RESULTS[k].load(SeqCst);
    abandon(t);
    r
}

/// Stops a worker wherever it is (in a call: the server keeps its saved reply) and frees it.
fn abandon(t: Thread) {
    let _ = t.tcb.suspend();
    if let Err(e) = t.free() {
        println!("sys_hostile: freeing a thread: {e:?}");
    }
}

extern "C" fn lookup_ghost(arg: u64) -> ! {
    let r = names::lookup("ghost");
    RESULTS[arg as usize % 8].store(u64::from(code(&r).0), SeqCst);
    loop {
        let _ = Tcb::yield_now();
    }
}

extern "C" fn console_read(arg: u64) -> ! {
    let mut buf = [0u8; 64];
    let r = Console::from_slot(CONSOLE.load(SeqCst)).read(&mut Ipc, 64, &mut buf);
    RESULTS[arg as usize % 8].store(u64::from(code(&r).0), SeqCst);
    loop {
        let _ = Tcb::yield_now();
    }
}

extern "C" fn wait_names(arg: u64) -> ! {
    let r = Supervisor::from_slot(SUP.load(SeqCst)).wait(&mut Ipc, "names");
    RESULTS[arg as usize % 8].store(u64::from(code(&r).0), SeqCst);
    loop {
        let _ = Tcb::yield_now();
    }
}

static STORM_DONE: AtomicU64 = AtomicU64::new(0);

extern "C" fn storm(arg: u64) -> ! {
    let s = sup();
    let target = if arg == 1 { "names" } else { "io" };
    let rounds = if arg == 1 { 5 } else { 15 };
    let mut fails = 0;
    for _ in 0..rounds {
        if let Err(e) = s.restart(&mut Ipc, target) {
            fails += 1;
            println!("sys_hostile: storm: restart {target}: {e:?}");
        }
    }
    RESULTS[arg as usize].store(fails, SeqCst);
    STORM_DONE.fetch_add(1, SeqCst);
    loop {
        let _ = Tcb::yield_now();
    }
}

// ---- the child --------------------------------------------------------------------------

fn child() -> u64 {
    let con = loop {
        match names::lookup("console") {
            Ok(ep) => break ep.0,
            Err(_) => {
                let _ = Tcb::yield_now();
            }
        }
    };
    CONSOLE.store(con, SeqCst);
    for k in 1..4 {
        let _ = spawn(console_read, k);
    }
    let mut buf = [0u8; 64];
    loop {
        let _ = Console::from_slot(con).read(&mut Ipc, 64, &mut buf);
    }
}

// ---- the attacks ------------------------------------------------------------------------

/// Raw garbage: unknown labels, other protocols, every ordinal with garbage bytes,
/// oversized data_len, capabilities where none belong.
fn garbage(s: &Supervisor) {
    let con = names::try_lookup("console").map(|e| e.0).unwrap_or(0);
    let sv = names::try_lookup("supervisor").map(|e| e.0).unwrap_or(0);
    let q = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    let mine = Endpoint::create(&q).map(|e| e.0).unwrap_or(0);
    let caps = [mine, mine, mine, mine];
    let before = (slots(s, "names"), slots(s, "io"), s.memory(&mut Ipc));
    let mut calls = 0u32;
    let mut failed_calls = 0u32;
    for round in 0..60u32 {
        for &(ep, proto) in &[
            (types::BOOT_SLOT_NAMES, NAMES_PROTO),
            (con, CONSOLE_PROTO),
            (sv, SUPERVISOR_PROTO),
        ] {
            for ord in [0u64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 99, 0xFFFF_FFFF] {
                // Reads that wait, and init's shutdown, are not garbage-tested.
                if (proto == CONSOLE_PROTO && ord == 2) || (proto == SUPERVISOR_PROTO && (ord == 10 || ord == 6)) {
                    continue;
                }
                for &label in &[proto << 32 | ord, ord, (proto ^ 1) << 32 | ord] {
                    let ncaps = (round as usize + ord as usize) % 5;
                    let len = [0u32, 1, 3, 68, 511, 512, 513, 4096, u32::MAX][(round as usize + ord as usize) % 9];
                    let (r, _) = raw(ep, label, len, if round % 2 == 0 { 0xFF } else { 0x00 }, &caps[..ncaps]);
                    calls += 1;
                    if r != 0 {
                        failed_calls += 1;
                    }
                }
            }
        }
    }
    let after = (slots(s, "names"), slots(s, "io"), s.memory(&mut Ipc));
    println!("sys_hostile: garbage: {calls} raw calls ({failed_calls} refused by the kernel)");
    println!(
        "sys_hostile: garbage: names (slots, quota) {:?} -> {:?}",
        before.0, after.0
    );
    println!(
        "sys_hostile: garbage: io (slots, quota) {:?} -> {:?}",
        before.1, after.1
    );
    println!("sys_hostile: garbage: memory {:?} -> {:?}", before.2, after.2);
    if after.0 .0 > before.0 .0 + 2 || after.1 .0 > before.1 .0 + 2 {
        println!("sys_hostile: garbage: FINDING: slots grew");
    }
    let _ = Cap::delete(&boot::cnode(), con);
    let _ = Cap::delete(&boot::cnode(), sv);
    let _ = Cap::delete(&boot::cnode(), mine);
}

/// Odd names: empty, 64 bytes, 65 bytes, invalid UTF-8, with a NUL.
fn odd_names() {
    let r = |n: &str| code(&names::try_lookup(n));
    let long = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    println!(
        "sys_hostile: names: try_lookup \"\" {:?}, 64 x a {:?}, \"console\\0\" {:?}, \"console \" {:?}, register console {:?}",
        r(""),
        r(long),
        r("console\0"),
        r("console "),
        code(&names::register("console", &Endpoint::from_slot(types::BOOT_SLOT_NAMES)))
    );
    // 65 bytes and invalid UTF-8 through raw requests (name_len, then the name).
    for (len, fill) in [(65u32, b'a'), (2, 0xFF), (u32::MAX, b'a')] {
        let m = msg();
        m.data[..4].copy_from_slice(&len.to_le_bytes());
        for b in &mut m.data[4..68] {
            *b = fill;
        }
        m.label = NAMES_PROTO << 32 | 2;
        m.data_len = 68;
        m.cap_count = 0;
        let r = st(Endpoint::from_slot(types::BOOT_SLOT_NAMES).call());
        println!(
            "sys_hostile: names: raw lookup name_len {len} fill {fill:#x}: call {r}, label {:#x}",
            msg().label
        );
    }
}

/// Waiting lookups whose callers vanish: do they keep counting against the client?
fn pending_lookups(s: &Supervisor) {
    let mut ts = [const { None }; 6];
    for (k, t) in ts.iter_mut().enumerate() {
        *t = Some(spawn(lookup_ghost, k as u64));
    }
    sleep_ms(s, 300);
    let res: [u64; 6] = core::array::from_fn(|k| RESULTS[k].load(SeqCst));
    println!("sys_hostile: names: 6 lookups of `ghost` (never registered): results {res:?} (NONE=waiting; 4 may wait)");
    for t in ts.iter_mut() {
        abandon(t.take().unwrap());
    }
    // Its callers are gone. A new lookup of a name that is not registered:
    let t = spawn(lookup_ghost, 7);
    sleep_ms(s, 300);
    let r = RESULTS[7].load(SeqCst);
    if r == NONE {
        println!(
            "sys_hostile: names: after the 4 waiting callers vanished, a new lookup waits (their entries were dropped)"
        );
    } else {
        println!(
            "sys_hostile: names: FINDING: after the 4 waiting callers vanished, a new lookup got {:?} at once: the dead callers' saved lookups still count (names main.c on_lookup/PENDING_PER_CLIENT)",
            Status(r as u32)
        );
    }
    abandon(t);
}

/// Console reads whose callers vanish, then typed input.
fn stale_reads(s: &Supervisor) {
    let con = names::try_lookup("console").map(|e| e.0).unwrap_or(0);
    CONSOLE.store(con, SeqCst);
    let mut ts = [const { None }; 6];
    for (k, t) in ts.iter_mut().enumerate() {
        *t = Some(spawn(console_read, k as u64));
    }
    sleep_ms(s, 300);
    let res: [u64; 6] = core::array::from_fn(|k| RESULTS[k].load(SeqCst));
    println!("sys_hostile: io: 6 reads with nothing typed: results {res:?} (NONE=waiting; 4 may wait)");
    let before = slots(s, "io");
    for t in ts.iter_mut() {
        abandon(t.take().unwrap());
    }
    sleep_ms(s, 100);
    let mut buf = [0u8; 64];
    // max 0 with no input returns at once; a real read:
    let r = read_once(s, 7);
    if r == NONE {
        println!("sys_hostile: io: after the readers vanished, a new read waits");
    } else {
        println!(
            "sys_hostile: io: FINDING: after its 4 waiting readers vanished, the client's next read got {:?} at once: dead readers still count (io main.rs read/READS_PER_CLIENT); io slots {:?}",
            Status(r as u32),
            before
        );
    }
    // Now the person types "0123456789\n": what does a live reader get?
    println!("sys_hostile: io: type now");
    let mut got = [0u8; 64];
    let mut n = 0;
    let until = s.uptime(&mut Ipc).unwrap_or(0) + 15_000;
    while n < 64 && s.uptime(&mut Ipc).unwrap_or(u64::MAX) < until {
        match Console::from_slot(con).read(&mut Ipc, 64, &mut buf) {
            Ok(k) => {
                got[n..(n + k).min(64)].copy_from_slice(&buf[..k.min(64 - n)]);
                n = (n + k).min(64);
                if got[..n].contains(&b'\n') {
                    break;
                }
            }
            Err(_) => {
                let _ = Tcb::yield_now();
            }
        }
    }
    let text = core::str::from_utf8(&got[..n]).unwrap_or("?").trim_end();
    println!("sys_hostile: io: typed \"0123456789\", a live reader got {text:?}");
    if text != "0123456789" {
        println!("sys_hostile: io: FINDING: typed input went to dead readers (io main.rs answer_readers replays readers whose callers are gone)");
    }
    let _ = Cap::delete(&boot::cnode(), con);
}

/// Children started in turn by `io_exhaustion`: more than the IO server's CNode and init's
/// root quota could hold if killed readers stayed.
const CHILDREN: usize = 70;

/// Children (Supervisor.start gives each a new identity) wait in 4 reads each, then are
/// killed: do the IO server's saved replies stay, and does its CNode fill?
fn io_exhaustion(s: &Supervisor) {
    let first = slots(s, "io");
    let before = s.memory(&mut Ipc);
    let mut k = 0;
    while k < CHILDREN {
        let mut name = [0u8; 32];
        let n = match s.start(&mut Ipc, "sys_hostile", &mut name) {
            Ok(n) => n,
            Err(e) => {
                println!("sys_hostile: io-exhaustion: FINDING: start failed after {k} children: {e:?}");
                break;
            }
        };
        let name = core::str::from_utf8(&name[..n]).unwrap_or("");
        // Until its 4 reads wait in the IO server (the dead children's are dropped by then), or
        // a second passes.
        let until = s.uptime(&mut Ipc).unwrap_or(0) + 1000;
        while slots(s, "io").0 < first.0 + 4 && s.uptime(&mut Ipc).unwrap_or(u64::MAX) < until {
            let _ = Tcb::yield_now();
        }
        let _ = s.kill(&mut Ipc, name);
        k += 1;
        if k % 10 == 0 {
            println!(
                "sys_hostile: io-exhaustion: {k} children started and killed; io (slots, quota) {:?}",
                slots(s, "io")
            );
        }
    }
    let end = slots(s, "io");
    println!("sys_hostile: io-exhaustion: {k} children; io (slots, quota) {first:?} -> {end:?}");
    sleep_ms(s, 300);
    let mem = s.memory(&mut Ipc);
    println!(
        "sys_hostile: io-exhaustion: memory (free, total, heap, kept, root_used, root_limit) after the kills: {mem:?}"
    );
    if end.0 > first.0 + 4 {
        println!("sys_hostile: io-exhaustion: FINDING: the IO server keeps the killed readers' saved replies: slots {first:?} -> {end:?}");
    }
    if let (Ok(b), Ok(a)) = (before, mem) {
        if a.4 != b.4 {
            println!(
                "sys_hostile: io-exhaustion: FINDING: root quota use {} -> {} after {k} children were killed",
                b.4, a.4
            );
        }
    }
    if let Ok((_, _, _, _, used, limit)) = mem {
        if used + (8 << 20) > limit {
            println!("sys_hostile: io-exhaustion: FINDING: the killed children's quotas stay charged while the IO server holds their saved replies: init's root quota is exhausted and it cannot start or restart services");
        }
    }
    // Can a live client still read?
    let con = names::try_lookup("console").map(|e| e.0).unwrap_or(0);
    CONSOLE.store(con, SeqCst);
    let r = read_once(s, 5);
    if r == NONE {
        println!("sys_hostile: io-exhaustion: a live client's read still waits normally");
    } else {
        println!(
            "sys_hostile: io-exhaustion: FINDING: a live client's Console.read now fails at once with {:?}: killed readers' saved replies fill the IO server",
            Status(r as u32)
        );
    }
    let _ = Cap::delete(&boot::cnode(), con);
}

/// Odd Supervisor calls.
fn odd_supervisor(s: &Supervisor) {
    let mut name = [0u8; 32];
    println!(
        "sys_hostile: supervisor: kill init {:?}, kill nope {:?}, kill \"\" {:?}, restart nope {:?}, wait nope {:?}, wait init {:?}",
        code(&s.kill(&mut Ipc, "init")),
        code(&s.kill(&mut Ipc, "nope")),
        code(&s.kill(&mut Ipc, "")),
        code(&s.restart(&mut Ipc, "nope")),
        code(&s.wait(&mut Ipc, "nope")),
        code(&s.wait(&mut Ipc, "init")),
    );
    println!(
        "sys_hostile: supervisor: capability io u32::MAX {:?}, start \"\" {:?}, start manifest {:?}, start 32 x a {:?}",
        code(&s.capability(&mut Ipc, "io", u32::MAX)),
        code(&s.start(&mut Ipc, "", &mut name)),
        code(&s.start(&mut Ipc, "manifest", &mut name)),
        code(&s.start(&mut Ipc, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &mut name)),
    );
    for bin in ["init", "names", "io"] {
        let r = s.start(&mut Ipc, bin, &mut name);
        let n = *r.as_ref().unwrap_or(&0);
        let started = core::str::from_utf8(&name[..n]).unwrap_or("");
        sleep_ms(s, 300);
        let i = info(s, started);
        println!(
            "sys_hostile: supervisor: start {bin}: {:?} as {started:?}, state {:?}, ticks {:?}",
            code(&r),
            i.as_ref().map(|i| i.state),
            i.as_ref().map(|i| i.ticks)
        );
        if r.is_ok() {
            let _ = s.kill(&mut Ipc, started);
        }
    }
    // Strings that are not UTF-8 / too long, raw: kill with name_len 33 and with 0xFF bytes.
    for (len, fill) in [(33u32, b'a'), (4, 0xFF)] {
        let m = msg();
        m.data[..4].copy_from_slice(&len.to_le_bytes());
        for b in &mut m.data[4..36] {
            *b = fill;
        }
        m.label = SUPERVISOR_PROTO << 32 | 4;
        m.data_len = 36;
        m.cap_count = 0;
        let r = st(Endpoint::from_slot(s.0).call());
        println!(
            "sys_hostile: supervisor: raw kill name_len {len} fill {fill:#x}: call {r}, label {:#x}",
            msg().label
        );
    }
    alive(s, "odd Supervisor calls");
    // A restart storm: io 15 times and names 5 times, from two threads at once.
    let before = s.memory(&mut Ipc);
    SUP.store(s.0, SeqCst);
    let a = spawn(storm, 0);
    let b = spawn(storm, 1);
    while STORM_DONE.load(SeqCst) < 2 {
        let _ = Tcb::yield_now();
    }
    abandon(a);
    abandon(b);
    let s = sup();
    sleep_ms(&s, 500);
    let after = s.memory(&mut Ipc);
    println!(
        "sys_hostile: storm: failures io {} names {}; memory (free, total, heap, kept, root_used, root_limit) {before:?} -> {after:?}",
        RESULTS[0].load(SeqCst),
        RESULTS[1].load(SeqCst)
    );
    alive(&s, "the restart storm");
}

/// `Supervisor.wait` from threads that are then destroyed: init keeps each saved reply.
fn init_exhaustion(s: &Supervisor) {
    SUP.store(s.0, SeqCst);
    let before = s.memory(&mut Ipc);
    let mut k = 0;
    let mut refused = None;
    while k < 400 {
        let t = match try_spawn(wait_names, 0) {
            Ok(t) => t,
            Err(e) => {
                println!(
                    "sys_hostile: init-exhaustion: spawn failed after {k}: {e:?} (this service's quota: {:?})",
                    info(s, "sys_hostile").map(|i| (i.quota_used, i.quota_limit, i.threads))
                );
                break;
            }
        };
        // Until it waits in init (or init answered).
        let mut spins = 0;
        while RESULTS[0].load(SeqCst) == NONE && spins < 50 {
            let _ = Tcb::yield_now();
            spins += 1;
        }
        let r = RESULTS[0].load(SeqCst);
        abandon(t);
        if r != NONE {
            refused = Some(Status(r as u32));
            break;
        }
        k += 1;
        if k % 50 == 0 {
            println!(
                "sys_hostile: init-exhaustion: {k} waits abandoned; memory {:?}",
                s.memory(&mut Ipc)
            );
        }
    }
    let after = s.memory(&mut Ipc);
    println!("sys_hostile: init-exhaustion: {k} Supervisor.wait calls abandoned, then {refused:?}; memory {before:?} -> {after:?}");
    // Can init still (re)start services?
    let r = s.restart(&mut Ipc, "io");
    println!("sys_hostile: init-exhaustion: restart io: {:?}", code(&r));
    sleep_ms(s, 500);
    let mut name = [0u8; 32];
    let r2 = s.start(&mut Ipc, "sys_hostile", &mut name);
    println!("sys_hostile: init-exhaustion: start a program: {:?}", code(&r2));
    if let Ok(n) = r2 {
        let _ = s.kill(&mut Ipc, core::str::from_utf8(&name[..n]).unwrap_or(""));
    }
    if r.is_err() || r2.is_err() {
        println!("sys_hostile: init-exhaustion: FINDING: init can no longer start services after abandoned waits (init main.rs wait keeps every saved reply)");
    }
    alive(s, "abandoned waits");
}

fn main() -> u64 {
    if names::try_lookup("supervisor").is_err() {
        return child();
    }
    let s = sup();
    println!("sys_hostile: start");
    // The IO server may not have registered the console yet: wait for it once.
    if let Ok(ep) = names::lookup("console") {
        let _ = Cap::delete(&boot::cnode(), ep.0);
    }
    alive(&s, "boot");
    garbage(&s);
    alive(&s, "garbage");
    odd_names();
    alive(&s, "odd names");
    pending_lookups(&s);
    alive(&s, "vanished lookups");
    stale_reads(&s);
    alive(&s, "vanished reads");
    odd_supervisor(&s);
    let s = sup();
    io_exhaustion(&s);
    alive(&s, "io exhaustion");
    // Last: it leaves init unable to start anything (and the IO server dead).
    init_exhaustion(&s);
    println!("sys_hostile: done");
    // The scenario boots without exit_when_idle (a read waiting for typed input is idle).
    let _ = sup().shutdown(&mut Ipc, 0);
    0
}
