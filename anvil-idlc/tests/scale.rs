//! The scale benchmark: a generated library of 10,000 methods (5,000 syscalls on 100 objects,
//! 5,000 protocol methods in 10 protocols) and 2,000 structs goes through every backend, and
//! gcc compiles its C header with `-Wall -Wextra -Werror`. Times and peak memory are printed
//! (`cargo test -p anvil-idlc --release --test scale -- --nocapture`); memory is asserted, times
//! are not (a loaded machine must not fail a test), except for a bound far above the target.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anvil_idlc::diag::SourceFile;

/// Counts the bytes the heap holds, and the most it ever held.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator with the same arguments; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let held = HELD.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(held, Ordering::Relaxed);
        // SAFETY: the caller's obligations for `alloc` are passed on unchanged.
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HELD.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated by `System` with layout `l` (through `alloc` above).
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const OBJECTS: usize = 100;
const SYSCALLS_PER_OBJECT: usize = 50;
const PROTOCOLS: usize = 10;
const METHODS_PER_PROTOCOL: usize = 500;
const STRUCTS: usize = 2_000;

/// The library: every method takes a capability, a scalar, a struct and bits or a string,
/// and returns values; protocol methods also return bytes.
fn library() -> Vec<SourceFile> {
    let base = std::fs::read_to_string(common::root().join("tests/fixture/base.idl"))
        .unwrap()
        .replace("library fx.base;", "library big.base;")
        .replace("MSG_DATA_BYTES: u32 = 256", "MSG_DATA_BYTES: u32 = 512")
        .replace("MSG_MAX_CAPS: u32 = 2", "MSG_MAX_CAPS: u32 = 4");
    let mut s = String::from("/// The scale benchmark's library.\nlibrary big.many;\n\nimport big.base;\n\n");
    for i in 0..STRUCTS {
        s.push_str(&format!(
            "/// Struct {i}.\nstruct S{i} {{ a: u32; b: u64; c: bool; d: Small; e: bytes<8>; }}\n"
        ));
    }
    for o in 0..OBJECTS {
        s.push_str(&format!("/// Object {o}.\nobject O{o} = {} {{\n", o + 1));
        for k in 0..SYSCALLS_PER_OBJECT {
            let st = (o * SYSCALLS_PER_OBJECT + k) % STRUCTS;
            s.push_str(&format!(
                "    /// Method {k}.\n    {}: m{k}(h: cap<O{o}, READ>, x: u64, s: S{st}, f: Small) -> (r: u64, st: Status);\n",
                k + 1
            ));
        }
        s.push_str("}\n");
    }
    for p in 0..PROTOCOLS {
        s.push_str(&format!("/// Protocol {p}.\nprotocol P{p} {{\n"));
        for k in 0..METHODS_PER_PROTOCOL {
            let st = (p * METHODS_PER_PROTOCOL + k) % STRUCTS;
            s.push_str(&format!(
                "    /// Method {k}.\n    {}: m{k}(x: u64, name: string<16>, s: S{st}, h: cap<any>) -> (r: u64, data: bytes<8>);\n",
                k + 1
            ));
        }
        s.push_str("}\n");
    }
    vec![
        SourceFile::new("big/base.idl", base),
        SourceFile::new("big/many.idl", s),
    ]
}

/// CPU time this thread has run, from the kernel's scheduler statistics (Linux): on a busy
/// machine it is the fairer figure, since wall time includes waiting for a core.
fn cpu_time() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}

/// The resident-set high-water mark of this process, in KiB (Linux).
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn ten_thousand_methods_through_every_backend() {
    let sources = library();
    let input: usize = sources.iter().map(|s| s.text.len()).sum();
    let before = HELD.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let t0 = Instant::now();
    let c0 = cpu_time();
    let model = anvil_idlc::compile_sources(sources).unwrap_or_else(|e| panic!("{e}"));
    let t_check = t0.elapsed();
    let methods: usize = model.interfaces.iter().map(|i| i.methods.len()).sum();
    assert_eq!(methods, 10_000);
    assert_eq!(model.structs.len(), STRUCTS);
    let mut outputs = Vec::new();
    let mut times = Vec::new();
    for b in anvil_idlc::BACKENDS {
        let t = Instant::now();
        let o = anvil_idlc::generate(&model, b).unwrap();
        times.push((b, t.elapsed(), o.iter().map(|x| x.contents.len()).sum::<usize>()));
        outputs.push((b, o));
    }
    let total = t0.elapsed();
    let cpu = cpu_time().zip(c0).map(|(b, a)| b - a);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    println!(
        "scale: {methods} methods, {} structs, {:.1} MB of IDL",
        model.structs.len(),
        input as f64 / 1e6
    );
    println!("scale: parse + check {:.0} ms", t_check.as_secs_f64() * 1e3);
    for (b, t, bytes) in &times {
        println!(
            "scale: backend {b:<8} {:6.0} ms, {:.1} MB out",
            t.as_secs_f64() * 1e3,
            *bytes as f64 / 1e6
        );
    }
    let gen: f64 = times.iter().map(|(_, t, _)| t.as_secs_f64()).sum();
    println!(
        "scale: all backends {:.0} ms; parse + check + all backends {:.0} ms wall, {} ms CPU; peak heap {:.0} MB; peak RSS of the test process {} MB",
        gen * 1e3,
        total.as_secs_f64() * 1e3,
        cpu.map_or("?".to_string(), |c| format!("{:.0}", c.as_secs_f64() * 1e3)),
        peak as f64 / 1e6,
        vm_hwm_kib().map_or("?".to_string(), |k| format!("{:.0}", k as f64 / 1024.0))
    );
    // What `anvil-idlc gen` does: every backend at once, one thread each.
    let t = Instant::now();
    let all = anvil_idlc::generate_all(&model, &anvil_idlc::BACKENDS).unwrap();
    let together = t.elapsed();
    assert_eq!(all.len(), anvil_idlc::BACKENDS.len());
    drop(all);
    println!(
        "scale: all backends on threads of their own (as `gen` runs them) {:.0} ms; parse + check + that {:.0} ms",
        together.as_secs_f64() * 1e3,
        (t_check + together).as_secs_f64() * 1e3
    );
    assert!(peak < 200_000_000, "peak heap {peak} bytes: over 200 MB");
    // Far above the 1 s target, so that only a real regression fails, not a busy machine.
    assert!(total.as_secs_f64() < 20.0, "parse + check + backends took {total:?}");

    // gcc compiles the header with warnings as errors.
    let dir = common::scratch("scale");
    for (_, o) in &outputs {
        if o.iter().any(|x| x.path.ends_with(".h")) {
            anvil_idlc::write_outputs(&dir, o).unwrap();
        }
    }
    std::fs::write(dir.join("unit.c"), "#include <anvil/many.h>\n").unwrap();
    let t = Instant::now();
    let out = Command::new("gcc")
        .args(["-std=c11", "-ffreestanding", "-Wall", "-Wextra", "-Werror", "-c"])
        .arg("-I")
        .arg(&dir)
        .arg(dir.join("unit.c"))
        .arg("-o")
        .arg(dir.join("unit.o"))
        .output()
        .expect("gcc must be installed (run.sh installs it)");
    let gcc = t.elapsed();
    assert!(
        out.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "scale: gcc -std=c11 -Wall -Wextra -Werror on the {:.1} MB header: {:.1} s",
        std::fs::metadata(dir.join("anvil/many.h")).map_or(0, |m| m.len()) as f64 / 1e6,
        gcc.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
