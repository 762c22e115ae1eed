//! anvil-idlc: the Anvil IDL compiler. Parse -> check -> one checked model -> one backend per output.
//!
//! Used as a library from `build.rs` files (the kernel's dispatch, the runtimes' bindings)
//! and as the `anvil-idlc` command.

// The pest derive in `parse` names `alloc` (pest is used without its `std` feature: the
// grammar cannot recurse, so pest's per-rule native stack probe is only cost).
extern crate alloc;

pub mod abi;
pub mod ast;
pub mod backend;
pub mod check;
pub mod diag;
pub mod fxhash;
pub mod hygiene;
pub mod lex;
pub mod model;
pub mod parse;

use std::path::{Path, PathBuf};

use diag::SourceFile;
pub use model::Model;

/// Inputs larger than this (4 MiB) are refused before parsing: no real interface file is near
/// it, and it bounds the work any input can cause.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// Compiles in-memory sources (name, text). On failure returns the rendered diagnostics.
pub fn compile_sources(sources: Vec<SourceFile>) -> Result<Model, String> {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        if src.text.len() > MAX_FILE_BYTES {
            diags.push(
                diag::Diagnostic::new(
                    diag::Span {
                        file: i,
                        start: 0,
                        end: 0,
                    },
                    format!(
                        "the file is {} bytes, more than the limit of {MAX_FILE_BYTES} bytes (4 MiB)",
                        src.text.len()
                    ),
                )
                .help("split it into several libraries"),
            );
            continue;
        }
        match parse::parse_file(i, &src.text) {
            Ok(f) => files.push(f),
            Err(ds) => diags.extend(ds),
        }
    }
    if !diags.is_empty() {
        // The files that did parse are still checked, so one run reports as much as it can,
        // unless one of them imports a library whose file is broken: its names would all
        // come out as spurious "unknown type" errors.
        let parsed: Vec<&str> = files.iter().map(|f| f.library.name.as_str()).collect();
        let needs_broken = files
            .iter()
            .any(|f| f.imports.iter().any(|i| !parsed.contains(&i.name.as_str())));
        if !needs_broken {
            if let Err((_, more)) = check::check(sources.clone(), &files) {
                diags.extend(more);
            }
        }
        diags.sort_by_key(|d| (d.span.file, d.span.start));
        return Err(diag::render(&sources, &diags));
    }
    check::check(sources, &files).map_err(|(srcs, ds)| diag::render(&srcs, &ds))
}

/// Reads every `*.idl` file directly inside `dir` (sorted by name) and compiles them.
/// Diagnostics name files by their path as given (`dir` joined with the file name), so an
/// editor can open them; banners name them `<dir name>/<file>`, so generated files do not
/// depend on where the compiler ran.
pub fn compile_dir(dir: &Path) -> Result<Model, String> {
    let files = idl_files(dir)?;
    let prefix = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut sources = Vec::new();
    for path in files {
        let label = format!(
            "{prefix}/{}",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        );
        let name = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|e| diag::file_error(&name, &format!("cannot read: {e}")))?;
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
                let (l, c) = diag::line_col(&valid, at);
                return Err(format!(
                    "{name}:{l}:{c}: error: the file is not valid UTF-8 (byte offset {at})\n1 error found\n"
                ));
            }
        };
        sources.push(SourceFile { name, label, text });
    }
    compile_sources(sources)
}

/// The `.idl` files of a directory, sorted; an error if there are none.
pub fn idl_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let name = dir.display().to_string();
    let rd = std::fs::read_dir(dir).map_err(|e| diag::file_error(&name, &format!("cannot read directory: {e}")))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(diag::file_error(&name, "no .idl files in this directory"));
    }
    Ok(files)
}

/// One generated output: a path relative to the output directory and its contents.
pub struct Output {
    pub path: String,
    pub contents: String,
}

/// The backends, by the name the CLI and build scripts use.
pub const BACKENDS: [&str; 5] = ["kernel", "c", "rust", "abi", "markdown"];

/// Runs one backend over a checked model. Whatever the checker accepted generates; an error
/// here is a bug in the compiler, reported rather than written.
pub fn generate(model: &Model, backend: &str) -> Result<Vec<Output>, String> {
    match backend {
        "kernel" => Ok(backend::kernel::generate(model)),
        "c" => Ok(backend::c::generate(model)),
        "rust" => Ok(backend::rust::generate(model)),
        "abi" => Ok(vec![Output {
            path: "abi.json".into(),
            contents: abi::to_json(model),
        }]),
        "markdown" => Ok(backend::markdown::generate(model)),
        other => Err(format!(
            "unknown backend `{other}`: expected one of {}",
            BACKENDS.join(", ")
        )),
    }
}

/// For `build.rs`: compiles `idl_dir`, runs `backend` and writes its files under `out_dir`,
/// printing `cargo:rerun-if-changed` for every input. Panics with the diagnostics on error,
/// which is how a build script reports failure to cargo.
pub fn build_script(idl_dir: &Path, backend: &str, out_dir: &Path) {
    println!("cargo:rerun-if-changed={}", idl_dir.display());
    if let Ok(files) = idl_files(idl_dir) {
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
        }
    }
    let result = compile_dir(idl_dir)
        .and_then(|m| generate(&m, backend))
        .and_then(|outs| write_outputs(out_dir, &outs));
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// Runs several backends; fails, having written nothing, if any of them fails.
pub fn generate_all(model: &Model, backends: &[&str]) -> Result<Vec<(String, Vec<Output>)>, String> {
    // The backends only read the model: each runs on a thread of its own. Results keep the
    // order asked for, and the first failure in that order is the one reported.
    std::thread::scope(|s| {
        let runs: Vec<_> = backends
            .iter()
            .map(|&b| s.spawn(move || generate(model, b).map(|o| (b.to_string(), o))))
            .collect();
        runs.into_iter()
            .map(|r| r.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Writes outputs, creating directories; leaves files that would not change untouched so
/// that dependent builds are not redone for nothing. Each file is written to a temporary
/// name and renamed into place, so no reader ever sees half a file.
pub fn write_outputs(out_dir: &Path, outs: &[Output]) -> Result<(), String> {
    for o in outs {
        let path = out_dir.join(&o.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: error: {e}", parent.display()))?;
        }
        if std::fs::read_to_string(&path).is_ok_and(|old| old == o.contents) {
            continue;
        }
        let tmp = path.with_extension(format!(
            "{}.tmp{}",
            path.extension().map(|e| e.to_string_lossy()).unwrap_or_default(),
            std::process::id()
        ));
        std::fs::write(&tmp, &o.contents).map_err(|e| format!("{}: error: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: error: {e}", path.display())
        })?;
    }
    Ok(())
}

/// The banner every generated file starts with, in the comment syntax of its language,
/// naming the `.idl` files it comes from.
pub fn banner(sources: &str, comment: &str) -> String {
    format!(
        "{comment} @generated by anvil-idlc from {sources}.\n{comment} Do not edit: change the .idl file and rebuild.\n"
    )
}
