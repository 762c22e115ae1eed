//! shell: the command line on the serial console. It reads keys from the IO server
//! (`Console.read`) and edits the line itself: backspace, Ctrl-U (erase the line), Ctrl-C
//! (cancel it), left and right arrows, and a history on up and down. The commands ask init
//! (`Supervisor`, found through the name server as `supervisor`) about the services, their
//! capabilities and the kernel's figures, and to start and stop services. A bad command or
//! argument gets a one-line error; nothing a person types makes the shell fail.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use anvil::sys::console::Console;
use anvil::sys::syscalls::SYSCALLS;
use anvil::sys::system::{ServiceInfo, ServiceState, Supervisor};
use anvil::{names, print, println, Ipc, Rights, Status, Tcb};

anvil::entry!(main);

const PROMPT: &str = "anvil> ";
const HISTORY: usize = 32;
const LINE_MAX: usize = 200;

/// The commands, with their arguments and what they do (`help`).
const COMMANDS: &[(&str, &str, &str)] = &[
    ("help", "", "this list"),
    (
        "ps",
        "",
        "services: state, threads, CPU, CPU time, restarts, quota used/limit",
    ),
    (
        "caps",
        "NAME",
        "the capabilities of service NAME: slot, object type, rights, badge",
    ),
    ("start", "BINARY", "start BINARY from the boot archive as a new service"),
    ("kill", "NAME", "stop service NAME (it is not restarted)"),
    ("restart", "NAME", "stop service NAME if it runs and start it again"),
    (
        "mem",
        "",
        "free frames, kernel memory, and the memory of each service's quota",
    ),
    (
        "cpus",
        "",
        "each CPU: timer ticks, device interrupts, threads run, idle or busy",
    ),
    ("bench", "", "run the benchmark program and wait for it"),
    ("echo", "WORDS...", "print WORDS"),
    ("uptime", "", "time since boot"),
    ("shutdown", "[CODE]", "end the run (QEMU exits)"),
];

fn main() -> u64 {
    let mut sh = Shell {
        console: None,
        supervisor: None,
        pending: Vec::new(),
        after_cr: false,
        history: Vec::new(),
    };
    println!("anvil shell: type `help` for the commands");
    loop {
        let line = sh.read_line();
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if sh.history.last().is_none_or(|h| h != line) {
            if sh.history.len() == HISTORY {
                sh.history.remove(0);
            }
            sh.history.push(String::from(line));
        }
        sh.run(line);
    }
}

struct Shell {
    console: Option<Console>,
    supervisor: Option<Supervisor>,
    /// Keys read and not yet handled.
    pending: Vec<u8>,
    /// The last key was a carriage return (a following line feed is the same Enter).
    after_cr: bool,
    history: Vec<String>,
}

/// A key, decoded from the bytes a terminal sends.
enum Key {
    Char(u8),
    Enter,
    Backspace,
    KillLine,
    Cancel,
    Left,
    Right,
    Up,
    Down,
    /// A control character or escape sequence the editor does not use.
    Other,
}

impl Shell {
    /// The console to read from (found again if the IO server was restarted).
    fn console(&mut self) -> Console {
        loop {
            if let Some(c) = self.console {
                return c;
            }
            match names::lookup("console") {
                Ok(ep) => self.console = Some(Console::from_slot(ep.0)),
                Err(_) => {
                    let _ = Tcb::yield_now();
                }
            }
        }
    }

    fn supervisor(&mut self) -> Result<Supervisor, Status> {
        if let Some(s) = self.supervisor {
            return Ok(s);
        }
        let s = Supervisor::from_slot(names::lookup("supervisor")?.0);
        self.supervisor = Some(s);
        Ok(s)
    }

    /// The next byte typed.
    fn byte(&mut self) -> u8 {
        while self.pending.is_empty() {
            let c = self.console();
            let mut buf = [0u8; 64];
            match c.read(&mut Ipc, buf.len() as u32, &mut buf) {
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(_) => {
                    // The IO server went away (or refused): find it again.
                    let _ = anvil::sys::kernel::Cap::delete(&anvil::boot::cnode(), c.0);
                    self.console = None;
                }
            }
        }
        self.pending.remove(0)
    }

    fn key(&mut self) -> Key {
        let b = self.byte();
        let cr = core::mem::replace(&mut self.after_cr, b == b'\r');
        match b {
            b'\r' => Key::Enter,
            b'\n' if cr => Key::Other,
            b'\n' => Key::Enter,
            0x7F | 0x08 => Key::Backspace,
            0x15 => Key::KillLine,
            0x03 => Key::Cancel,
            0x1B => {
                // ESC [ X or ESC O X: arrows; other sequences end at their final byte.
                let intro = self.byte();
                if intro != b'[' && intro != b'O' {
                    return Key::Other;
                }
                let mut fin = self.byte();
                while (0x20..0x40).contains(&fin) {
                    fin = self.byte();
                }
                match fin {
                    b'A' => Key::Up,
                    b'B' => Key::Down,
                    b'C' => Key::Right,
                    b'D' => Key::Left,
                    _ => Key::Other,
                }
            }
            0x20..=0x7E => Key::Char(b),
            _ => Key::Other,
        }
    }

    /// Shows the prompt and `line` with the cursor at `cursor`, over what was shown.
    fn redraw(line: &[u8], cursor: usize) {
        let text = core::str::from_utf8(line).unwrap_or("");
        let back = line.len() - cursor;
        if back > 0 {
            print!("\r{PROMPT}{text}\x1b[K\x1b[{back}D");
        } else {
            print!("\r{PROMPT}{text}\x1b[K");
        }
    }

    /// Reads one line, with editing.
    fn read_line(&mut self) -> String {
        let mut line: Vec<u8> = Vec::new();
        let mut cursor = 0;
        // History position: `history.len()` is the line being typed, kept in `typed` while an
        // older one is shown.
        let mut at = self.history.len();
        let mut typed: Vec<u8> = Vec::new();
        print!("{PROMPT}");
        loop {
            let key = self.key();
            match key {
                Key::Char(c) => {
                    if line.len() < LINE_MAX {
                        line.insert(cursor, c);
                        cursor += 1;
                        if cursor == line.len() {
                            print!("{}", c as char);
                        } else {
                            Self::redraw(&line, cursor);
                        }
                    }
                }
                Key::Enter => {
                    println!();
                    return String::from_utf8(line).unwrap_or_default();
                }
                Key::Backspace => {
                    if cursor > 0 {
                        cursor -= 1;
                        line.remove(cursor);
                        Self::redraw(&line, cursor);
                    }
                }
                Key::KillLine => {
                    line.clear();
                    cursor = 0;
                    Self::redraw(&line, cursor);
                }
                Key::Cancel => {
                    println!("^C");
                    line.clear();
                    cursor = 0;
                    at = self.history.len();
                    print!("{PROMPT}");
                }
                Key::Left => {
                    if cursor > 0 {
                        cursor -= 1;
                        print!("\x1b[D");
                    }
                }
                Key::Right => {
                    if cursor < line.len() {
                        cursor += 1;
                        print!("\x1b[C");
                    }
                }
                Key::Up | Key::Down => {
                    let n = self.history.len();
                    let next = match key {
                        Key::Up => at.checked_sub(1),
                        _ => (at < n).then_some(at + 1),
                    };
                    if let Some(next) = next {
                        if at == n {
                            typed = line.clone();
                        }
                        at = next;
                        line = if at == n {
                            typed.clone()
                        } else {
                            self.history[at].as_bytes().to_vec()
                        };
                        cursor = line.len();
                        Self::redraw(&line, cursor);
                    }
                }
                Key::Other => {}
            }
        }
    }

    /// Runs one command line.
    fn run(&mut self, line: &str) {
        let mut words = line.split_ascii_whitespace();
        let Some(cmd) = words.next() else { return };
        let args: Vec<&str> = words.collect();
        let r = match (cmd, args.as_slice()) {
            ("help", []) => {
                println!("commands:");
                for (name, args, what) in COMMANDS {
                    let usage = if args.is_empty() {
                        String::from(*name)
                    } else {
                        format!("{name} {args}")
                    };
                    println!("  {usage:<18} {what}");
                }
                Ok(())
            }
            ("ps", []) => self.ps(),
            ("caps", [name]) => self.caps(name),
            ("start", [binary]) => self.start(binary),
            ("kill", [name]) => self.kill(name),
            ("restart", [name]) => self.restart(name),
            ("mem", []) => self.mem(),
            ("cpus", []) => self.cpus(),
            ("bench", []) => self.bench(),
            ("echo", words) => {
                println!("{}", words.join(" "));
                Ok(())
            }
            ("uptime", []) => self.uptime(),
            ("shutdown", []) => self.shutdown(0),
            ("shutdown", [code]) => match code.parse::<u8>() {
                Ok(c) => self.shutdown(c),
                Err(_) => Err(format!("shutdown: `{code}` is not a code from 0 to 255")),
            },
            _ => match COMMANDS.iter().find(|(name, _, _)| *name == cmd) {
                Some((name, args, _)) => Err(format!("usage: {name} {args}").trim_end().into()),
                None => Err(format!("unknown command `{cmd}` (try `help`)")),
            },
        };
        if let Err(e) = r {
            println!("{e}");
        }
    }

    fn sup(&mut self, cmd: &str) -> Result<Supervisor, String> {
        self.supervisor()
            .map_err(|e| format!("{cmd}: cannot reach init: {}", status(e)))
    }

    fn ps(&mut self) -> Result<(), String> {
        let sup = self.sup("ps")?;
        println!(
            "{:<14} {:<8} {:>7} {:>4} {:>8} {:>8}  {}",
            "NAME", "STATE", "THREADS", "CPU", "CPU TIME", "RESTARTS", "QUOTA USED/LIMIT"
        );
        let mut i = 0;
        loop {
            let info = match sup.service(&mut Ipc, i) {
                Ok(info) => info,
                Err(Status::NOT_FOUND) => break,
                Err(e) => return Err(format!("ps: {}", status(e))),
            };
            let cpu = if info.cpu == u32::MAX {
                String::from("-")
            } else {
                format!("{}", info.cpu)
            };
            println!(
                "{:<14} {:<8} {:>7} {:>4} {:>7}s {:>8}  {}/{}",
                text(&info.name),
                state(&info),
                info.threads,
                cpu,
                format!("{}.{:02}", info.ticks / 100, info.ticks % 100),
                info.restarts,
                kib(info.quota_used),
                kib(info.quota_limit)
            );
            i += 1;
        }
        Ok(())
    }

    fn caps(&mut self, name: &str) -> Result<(), String> {
        let sup = self.sup("caps")?;
        let mut from = 0;
        let mut first = true;
        loop {
            let (found, slot, ty, rights, badge) = sup.capability(&mut Ipc, name, from).map_err(|e| match e {
                Status::NOT_FOUND => format!("caps: no service named `{name}`"),
                Status::BAD_STATE => format!("caps: `{name}` is not running"),
                e => format!("caps: {}", status(e)),
            })?;
            if first {
                println!("{:>5}  {:<13} {:<32} {}", "SLOT", "TYPE", "RIGHTS", "BADGE");
                first = false;
            }
            if !found {
                return Ok(());
            }
            println!(
                "{slot:>5}  {:<13} {:<32} {badge:#x}",
                object_name(ty),
                rights_text(rights)
            );
            from = slot + 1;
        }
    }

    fn start(&mut self, binary: &str) -> Result<(), String> {
        let sup = self.sup("start")?;
        let mut name = [0u8; 32];
        let n = sup.start(&mut Ipc, binary, &mut name).map_err(|e| match e {
            Status::NOT_FOUND => format!("start: the boot archive has no `{binary}`"),
            Status::INVALID_ARGS => format!("start: `{binary}` is not a program"),
            e => format!("start: {}", status(e)),
        })?;
        println!("started {}", core::str::from_utf8(&name[..n]).unwrap_or("?"));
        Ok(())
    }

    fn kill(&mut self, name: &str) -> Result<(), String> {
        let sup = self.sup("kill")?;
        sup.kill(&mut Ipc, name).map_err(|e| match e {
            Status::NOT_FOUND => format!("kill: no service named `{name}`"),
            Status::BAD_STATE => format!("kill: `{name}` is not running"),
            e => format!("kill: {}", status(e)),
        })?;
        println!("killed {name}");
        Ok(())
    }

    fn restart(&mut self, name: &str) -> Result<(), String> {
        let sup = self.sup("restart")?;
        sup.restart(&mut Ipc, name).map_err(|e| match e {
            Status::NOT_FOUND => format!("restart: no service named `{name}`"),
            e => format!("restart: {}", status(e)),
        })?;
        println!("restarted {name}");
        Ok(())
    }

    fn mem(&mut self) -> Result<(), String> {
        let sup = self.sup("mem")?;
        let (free, total, heap, kept, root_used, root_limit) =
            sup.memory(&mut Ipc).map_err(|e| format!("mem: {}", status(e)))?;
        println!(
            "frames: {free} free of {total} ({} KiB free of {} KiB)",
            free * 4,
            total * 4
        );
        println!("kernel: heap {} KiB in use, {kept} frames kept for itself", heap / 1024);
        println!("quotas: all services {}/{}", kib(root_used), kib(root_limit));
        let mut i = 0;
        while let Ok(info) = sup.service(&mut Ipc, i) {
            if info.state == ServiceState::RUNNING {
                println!(
                    "  {:<14} {}/{}",
                    text(&info.name),
                    kib(info.quota_used),
                    kib(info.quota_limit)
                );
            }
            i += 1;
        }
        Ok(())
    }

    fn cpus(&mut self) -> Result<(), String> {
        let sup = self.sup("cpus")?;
        let mut rows = Vec::new();
        let mut cpu = 0;
        loop {
            match sup.cpu(&mut Ipc, cpu) {
                Ok(r) => rows.push(r),
                Err(Status::INVALID_ARGS) => break,
                Err(e) => return Err(format!("cpus: {}", status(e))),
            }
            cpu += 1;
        }
        println!("{} CPU(s)", rows.len());
        for (i, (apic, ticks, irqs, dispatches, idle)) in rows.iter().enumerate() {
            println!(
                "  cpu {i}: APIC id {apic}, {ticks} ticks, {irqs} device interrupts, {dispatches} thread dispatches, {}",
                if *idle { "idle" } else { "busy" }
            );
        }
        Ok(())
    }

    fn bench(&mut self) -> Result<(), String> {
        let sup = self.sup("bench")?;
        let mut name = [0u8; 32];
        let n = sup.start(&mut Ipc, "bench", &mut name).map_err(|e| match e {
            Status::NOT_FOUND => String::from("bench: the boot archive has no benchmark program"),
            e => format!("bench: {}", status(e)),
        })?;
        let name = core::str::from_utf8(&name[..n]).unwrap_or("bench");
        println!("bench: running `{name}` (its lines follow)");
        let code = sup
            .wait(&mut Ipc, name)
            .map_err(|e| format!("bench: waiting failed: {}", status(e)))?;
        println!("bench: `{name}` finished with code {code}");
        Ok(())
    }

    fn uptime(&mut self) -> Result<(), String> {
        let ms = self
            .sup("uptime")?
            .uptime(&mut Ipc)
            .map_err(|e| format!("uptime: {}", status(e)))?;
        let s = ms / 1000;
        println!(
            "up {}:{:02}:{:02}.{:03} ({ms} ms)",
            s / 3600,
            s / 60 % 60,
            s % 60,
            ms % 1000
        );
        Ok(())
    }

    fn shutdown(&mut self, code: u8) -> Result<(), String> {
        let sup = self.sup("shutdown")?;
        println!("shutting down");
        sup.shutdown(&mut Ipc, code)
            .map_err(|e| format!("shutdown: {}", status(e)))
    }
}

fn status(s: Status) -> String {
    format!("{s:?}")
}

fn text(b: &[u8]) -> &str {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..n]).unwrap_or("?")
}

fn kib(bytes: u64) -> String {
    format!("{}K", bytes.div_ceil(1024))
}

fn state(info: &ServiceInfo) -> &'static str {
    match info.state {
        ServiceState::RUNNING => "running",
        ServiceState::EXITED => "exited",
        ServiceState::FAILED => "failed",
        ServiceState::GAVE_UP => "gave-up",
        ServiceState::KILLED => "killed",
        _ => "?",
    }
}

/// An object type's name, from the generated syscall table (`Vmo.create` is object 6, ...).
fn object_name(ty: u32) -> String {
    SYSCALLS
        .iter()
        .find(|s| s.number / 64 == u64::from(ty))
        .and_then(|s| s.name.split('.').next())
        .map_or_else(|| format!("type {ty}"), String::from)
}

/// Rights as their lower-case names, from the generated list.
fn rights_text(r: Rights) -> String {
    let names: Vec<String> = Rights::MEMBERS
        .iter()
        .filter(|(_, b)| r.contains(*b))
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    if names.is_empty() {
        String::from("none")
    } else {
        names.join(",")
    }
}
