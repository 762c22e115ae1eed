//! The QEMU boot harness: boots `build/kernel.elf` with an initrd under TCG, reads the serial
//! console, checks expected lines in order, rejects forbidden ones, and takes QEMU's exit
//! status (set by the kernel through `isa-debug-exit`) as the verdict. A scenario may also type
//! into the serial port (QEMU's stdin): a script of text to wait for, keys to send one at a
//! time with a delay between them, and pauses.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// QEMU's exit status when the kernel writes `code` to the isa-debug-exit port.
pub const fn debug_exit(code: u8) -> i32 {
    ((code as i32) << 1) | 1
}

/// One step of what a scenario types into the serial console.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// Wait until this text appears in the output (after what earlier waits matched).
    Wait(&'a str),
    /// Wait until the output, after everything typed so far, ends with this text: a prompt
    /// that waits for input. A program that shows its input line again after another
    /// program's line (as the IO server does) prints the prompt more than once, so `Wait` for
    /// a prompt can match one shown before the last command was even read.
    Prompt(&'a str),
    /// Send these bytes, one at a time, `TYPE_DELAY` apart (as a person types).
    Type(&'a [u8]),
    /// Send nothing for this many milliseconds.
    Pause(u64),
}

/// The time between two typed bytes.
pub const TYPE_DELAY: Duration = Duration::from_millis(15);

/// A boot scenario.
pub struct Scenario<'a> {
    pub cpus: u32,
    /// QEMU's `-cpu` model (`max` has XSAVE and AVX; `max,-xsave` takes the FXSAVE path).
    pub cpu_model: &'a str,
    pub mem: &'a str,
    pub append: &'a str,
    /// `initrd.cpio` (what `./run.sh` boots) or `test-initrd.cpio`.
    pub initrd: &'a str,
    /// Lines (substrings) that must appear, in this order.
    pub expect: &'a [&'a str],
    /// Substrings that must not appear anywhere.
    pub forbid: &'a [&'a str],
    /// Expected QEMU exit status.
    pub exit: i32,
    /// How long the run may take (boots that do heavy work under TCG take longer).
    pub timeout: Duration,
    /// Boot this ISO from a CD-ROM drive through its firmware (GRUB, Multiboot2) instead of
    /// QEMU loading the kernel directly (`append` and `initrd` are then unused: they are in the
    /// ISO).
    pub iso: Option<&'a Path>,
    /// Firmware: SeaBIOS (QEMU's default) or, with `uefi`, OVMF.
    pub uefi: bool,
    /// What to type into the serial console, in order.
    pub input: &'a [Step<'a>],
}

/// QEMU's UEFI firmware image (Debian's `ovmf` package).
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

impl Default for Scenario<'_> {
    fn default() -> Self {
        Scenario {
            cpus: 1,
            cpu_model: "max",
            mem: "256M",
            append: "exit_when_idle",
            initrd: "test-initrd.cpio",
            expect: &[],
            forbid: &["[fatal]"],
            exit: debug_exit(0),
            timeout: Duration::from_secs(60),
            iso: None,
            uefi: false,
            input: &[],
        }
    }
}

pub struct Outcome {
    /// The serial output as text, carriage returns removed.
    pub log: String,
    /// The serial output as it came.
    pub raw: Vec<u8>,
    pub status: Option<i32>,
    pub elapsed: Duration,
    /// Time from QEMU start to the first line printed by user space (`init:`), if any.
    pub to_init: Option<Duration>,
}

pub fn build_dir() -> PathBuf {
    std::env::var_os("ANVIL_BUILD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../build"))
}

/// Boots the scenario and returns what happened.
pub fn boot(s: &Scenario) -> Outcome {
    let dir = build_dir();
    // ANVIL_KERNEL picks another kernel image in the build directory (run.sh tests the IPC
    // scenarios again on one built without the fast path).
    let kernel = dir.join(std::env::var("ANVIL_KERNEL").unwrap_or_else(|_| "kernel.elf".into()));
    assert!(
        kernel.exists(),
        "{} is missing: run `./run.sh build` first (./run.sh test does)",
        kernel.display()
    );
    let start = Instant::now();
    let mut qemu = Command::new("qemu-system-x86_64");
    if s.uefi {
        qemu.args(["-bios", OVMF]);
    }
    match s.iso {
        Some(iso) => {
            qemu.arg("-cdrom").arg(iso);
        }
        None => {
            qemu.args(["-append", s.append])
                .arg("-kernel")
                .arg(&kernel)
                .arg("-initrd")
                .arg(dir.join(s.initrd));
        }
    }
    let mut child = qemu
        .args([
            "-machine",
            "q35",
            "-cpu",
            s.cpu_model,
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
            "-monitor",
            "none",
        ])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-smp", &s.cpus.to_string(), "-m", s.mem])
        .stdin(if s.input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-x86_64 must be installed (./run.sh installs it)");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut stdin = child.stdin.take();
    let mut script = Script {
        steps: s.input,
        next: 0,
        seen: 0,
        typing: None,
    };
    let (tx, rx) = std::sync::mpsc::channel::<(Vec<u8>, Instant)>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((buf[..n].to_vec(), Instant::now())).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut log = Vec::new();
    let mut to_init = None;
    let status = loop {
        while let Ok((chunk, at)) = rx.try_recv() {
            log.extend_from_slice(&chunk);
            if to_init.is_none() && String::from_utf8_lossy(&log).contains("init:") {
                to_init = Some(at - start);
            }
        }
        if let Some(input) = stdin.as_mut() {
            script.advance(&log, input);
        }
        match child.try_wait() {
            Ok(Some(st)) => break st.code(),
            Ok(None) if start.elapsed() > s.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let _ = reader.join();
    while let Ok((chunk, at)) = rx.try_recv() {
        log.extend_from_slice(&chunk);
        if to_init.is_none() && String::from_utf8_lossy(&log).contains("init:") {
            to_init = Some(at - start);
        }
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let raw = log.clone();
    let mut log = String::from_utf8_lossy(&log).replace('\r', "");
    if !err.is_empty() {
        log.push_str("\n--- qemu stderr ---\n");
        log.push_str(&err);
    }
    Outcome {
        log,
        raw,
        status,
        elapsed: start.elapsed(),
        to_init,
    }
}

/// Where a scenario's script is: the next step, how far waits have matched in the output, and
/// the bytes of a `Type` step still to send with the time the next may go.
struct Script<'a> {
    steps: &'a [Step<'a>],
    next: usize,
    seen: usize,
    typing: Option<(&'a [u8], Instant)>,
}

impl Script<'_> {
    /// Does what can be done now, without blocking the harness's loop.
    fn advance(&mut self, log: &[u8], input: &mut std::process::ChildStdin) {
        loop {
            if let Some((rest, at)) = self.typing {
                if Instant::now() < at {
                    return;
                }
                let Some((&b, rest)) = rest.split_first() else {
                    self.typing = None;
                    continue;
                };
                if rest.is_empty() {
                    // What comes after the last byte answers what was typed: nothing shown
                    // before it does.
                    self.seen = self.seen.max(log.len());
                }
                let _ = input.write_all(&[b]).and_then(|()| input.flush());
                self.typing = Some((rest, Instant::now() + TYPE_DELAY));
                continue;
            }
            let Some(step) = self.steps.get(self.next) else { return };
            match *step {
                Step::Wait(text) => {
                    let hay = &log[self.seen.min(log.len())..];
                    let Some(i) = hay.windows(text.len().max(1)).position(|w| w == text.as_bytes()) else {
                        return;
                    };
                    self.seen += i + text.len();
                }
                Step::Prompt(text) => {
                    let hay = &log[self.seen.min(log.len())..];
                    if !hay.ends_with(text.as_bytes()) {
                        return;
                    }
                    self.seen = log.len();
                }
                Step::Type(bytes) => self.typing = Some((bytes, Instant::now())),
                Step::Pause(ms) => self.typing = Some((&[], Instant::now() + Duration::from_millis(ms))),
            }
            self.next += 1;
        }
    }
}

/// Boots and checks; panics with the whole log on any mismatch.
pub fn check(name: &str, s: &Scenario) -> Outcome {
    let o = boot(s);
    let mut problems = Vec::new();
    let mut pos = 0;
    for e in s.expect {
        match o.log[pos..].find(e) {
            Some(i) => pos += i + e.len(),
            None => problems.push(format!("expected (in order) but not found: {e:?}")),
        }
    }
    for f in s.forbid {
        if o.log.contains(f) {
            problems.push(format!("forbidden text found: {f:?}"));
        }
    }
    match o.status {
        None => problems.push(format!("timed out after {:?}", s.timeout)),
        Some(c) if c != s.exit => problems.push(format!("QEMU exit status {c}, expected {}", s.exit)),
        _ => {}
    }
    if !problems.is_empty() {
        panic!(
            "boot scenario `{name}` failed:\n  {}\n--- serial log ---\n{}",
            problems.join("\n  "),
            o.log
        );
    }
    let init = o
        .to_init
        .map_or(String::from("-"), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3));
    println!(
        "boot `{name}`: ok in {:.0} ms (first user line after {init})",
        o.elapsed.as_secs_f64() * 1e3
    );
    o
}
