//! anvil-idlc: the Anvil IDL compiler. Parse -> check -> one checked model -> one backend per output.
//!
//! Used as a library from `build.rs` files (the kernel's dispatch, the runtimes' bindings)
//! and as the `anvil-idlc` command.

pub mod abi;
pub mod ast;
pub mod backend;
pub mod check;
pub mod diag;
pub mod model;
pub mod parse;

use std::path::{Path, PathBuf};

use diag::SourceFile;
pub use model::Model;

/// Inputs larger than this are refused before parsing: no real interface file is near it,
/// and it bounds the work any input can cause.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// Compiles in-memory sources (name, text). On failure returns the rendered diagnostics.
pub fn compile_sources(sources: Vec<SourceFile>) -> Result<Model, String> {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        if src.text.len() > MAX_FILE_BYTES {
            diags.push(diag::Diagnostic::new(
                diag::Span {
                    file: i,
                    start: 0,
                    end: 0,
                },
                format!(
                    "file is {} bytes, more than the limit of {MAX_FILE_BYTES}",
                    src.text.len()
                ),
            ));
            continue;
        }
        match parse::parse_file(i, &src.text) {
            Ok(f) => files.push(f),
            Err(d) => diags.push(d),
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
/// Diagnostics name files as `<dir name>/<file>`, so output does not depend on the caller's cwd.
pub fn compile_dir(dir: &Path) -> Result<Model, String> {
    let files = idl_files(dir)?;
    let prefix = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut sources = Vec::new();
    for path in files {
        let name = format!(
            "{prefix}/{}",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        );
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
        sources.push(SourceFile { name, text });
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

/// Runs one backend over a checked model.
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

/// Writes outputs, creating directories; leaves files that would not change untouched so
/// that dependent builds are not redone for nothing.
pub fn write_outputs(out_dir: &Path, outs: &[Output]) -> Result<(), String> {
    for o in outs {
        let path = out_dir.join(&o.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: error: {e}", parent.display()))?;
        }
        if std::fs::read_to_string(&path).is_ok_and(|old| old == o.contents) {
            continue;
        }
        std::fs::write(&path, &o.contents).map_err(|e| format!("{}: error: {e}", path.display()))?;
    }
    Ok(())
}

/// The banner every generated file starts with, in the comment syntax of its language.
pub fn banner(model: &Model, comment: &str) -> String {
    let sources = model.source_names().join(", ");
    format!(
        "{comment} @generated by anvil-idlc from {sources}.\n{comment} Do not edit: change the .idl file and rebuild.\n"
    )
}
