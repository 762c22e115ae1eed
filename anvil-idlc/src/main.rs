//! The `anvil-idlc` command: check IDL files, generate outputs, compare ABIs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const HELP: &str = "\
anvil-idlc: the Anvil IDL compiler

USAGE:
    anvil-idlc check <IDL_DIR>
    anvil-idlc gen <IDL_DIR> --out <DIR> [--backend <NAME>]... [--time]
    anvil-idlc abi-diff <OLD.json> <NEW.json>

COMMANDS:
    check       Parse and check every .idl file in IDL_DIR; print diagnostics.
    gen         Generate outputs into DIR. Backends (default: all):
                  c         C headers (DIR/c/anvil/*.h)
                  rust      Rust user bindings (DIR/rust/anvil_bindings.rs)
                  kernel    kernel dispatch (DIR/kernel/kernel_dispatch.rs)
                  abi       ABI description (DIR/abi/abi.json)
                  markdown  reference documentation (DIR/markdown/*.md)
                With one --backend, files go straight into DIR.
    abi-diff    Compare two ABI descriptions; exit 1 if NEW breaks OLD
                (changed numbers, ordinals, layouts, types, more rights required,
                removals). Additions, relaxed requirements (fewer rights required)
                and source-only changes (renames that keep numbers and layouts) are
                listed and exit 0.

OPTIONS:
    -h, --help  Print this help.
    --time      Print how long parsing, checking and generation took.

EXAMPLE:
    anvil-idlc gen idl --out build/include --backend c

Exit status: 0 on success, 1 on errors in the input, 2 on bad usage.
";

fn usage(msg: &str) -> ExitCode {
    eprintln!("anvil-idlc: {msg}\n\n{HELP}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return if args.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    match args[0].as_str() {
        "check" => {
            let [_, dir] = args.as_slice() else {
                return usage("check takes one directory");
            };
            match anvil_idlc::compile_dir(&PathBuf::from(dir)) {
                Ok(m) => {
                    let methods: usize = m.interfaces.iter().map(|i| i.methods.len()).sum();
                    println!(
                        "ok: {} libraries, {} interfaces, {} methods",
                        m.libraries.len(),
                        m.interfaces.len(),
                        methods
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprint!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        "gen" => gen(&args[1..]),
        "abi-diff" => {
            let [_, old, new] = args.as_slice() else {
                return usage("abi-diff takes two files");
            };
            let read = |p: &str| {
                std::fs::read_to_string(p)
                    .map_err(|e| format!("{p}: error: cannot read: {e}"))
                    .and_then(|t| anvil_idlc::abi::parse(p, &t))
            };
            let (a, b) = match (read(old), read(new)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("{e}");
                    return ExitCode::from(1);
                }
            };
            let d = anvil_idlc::abi::compare(&a, &b);
            for x in &d.additions {
                println!("added: {x}");
            }
            for x in &d.relaxed {
                println!("relaxed: {x}");
            }
            for x in &d.source_only {
                println!("source-only: {x}");
            }
            for x in &d.breaks {
                println!("BREAKING: {x}");
            }
            let summary = format!(
                "{} additions, {} relaxed requirements, {} source-only changes",
                d.additions.len(),
                d.relaxed.len(),
                d.source_only.len()
            );
            if d.breaks.is_empty() {
                println!("compatible: {summary}");
                ExitCode::SUCCESS
            } else {
                println!("incompatible: {} breaking changes; {summary}", d.breaks.len());
                ExitCode::from(1)
            }
        }
        other => usage(&format!("unknown command `{other}`")),
    }
}

fn gen(args: &[String]) -> ExitCode {
    let mut dir = None;
    let mut out = None;
    let mut backends = Vec::new();
    let mut time = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = it.next().map(PathBuf::from),
            "--backend" => match it.next() {
                Some(b) if anvil_idlc::BACKENDS.contains(&b.as_str()) => backends.push(b.clone()),
                Some(b) => {
                    return usage(&format!(
                        "unknown backend `{b}`; expected one of {}",
                        anvil_idlc::BACKENDS.join(", ")
                    ))
                }
                None => return usage("--backend needs a name"),
            },
            "--time" => time = true,
            s if s.starts_with('-') => return usage(&format!("unknown option `{s}`")),
            s if dir.is_none() => dir = Some(PathBuf::from(s)),
            s => return usage(&format!("unexpected argument `{s}`")),
        }
    }
    let (Some(dir), Some(out)) = (dir, out) else {
        return usage("gen needs <IDL_DIR> and --out <DIR>");
    };
    let single = backends.len() == 1;
    if backends.is_empty() {
        backends = anvil_idlc::BACKENDS.iter().map(|s| s.to_string()).collect();
    }
    let t0 = Instant::now();
    let model = match anvil_idlc::compile_dir(&dir) {
        Ok(m) => m,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(1);
        }
    };
    let t1 = Instant::now();
    // Every backend runs before anything is written: a failing one leaves the output
    // directory as it was.
    let names: Vec<&str> = backends.iter().map(String::as_str).collect();
    let all = match anvil_idlc::generate_all(&model, &names) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("anvil-idlc: error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut nfiles = 0;
    for (b, outs) in &all {
        nfiles += outs.len();
        let target = if single { out.clone() } else { out.join(b) };
        if let Err(e) = anvil_idlc::write_outputs(&target, outs) {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    }
    let t2 = Instant::now();
    if time {
        println!(
            "parse+check {:.2} ms, generate {:.2} ms, total {:.2} ms ({nfiles} files)",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            (t2 - t0).as_secs_f64() * 1e3
        );
    }
    ExitCode::SUCCESS
}
