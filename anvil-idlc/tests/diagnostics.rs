//! Diagnostics snapshots: every bad input under `tests/diagnostics/` (a file, or a directory
//! for multi-file cases) must produce exactly the report stored beside it in `.expected`.

mod common;

use anvil_idlc::diag::SourceFile;

#[test]
fn diagnostics_match_snapshots() {
    let dir = common::root().join("tests/diagnostics");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("diagnostics dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in entries {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = if path.is_dir() {
            // Relative to the package (cargo's working directory for tests): diagnostics print
            // paths as given, and the snapshots must not depend on where the tree is.
            anvil_idlc::compile_dir(
                &std::path::Path::new("tests/diagnostics").join(path.file_name().unwrap_or_default()),
            )
        } else if path.extension().is_some_and(|e| e == "idl") {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
            anvil_idlc::compile_sources(vec![SourceFile::new(format!("{name}.idl"), text)])
        } else {
            continue;
        };
        cases += 1;
        let rendered = match result {
            Ok(_) => {
                failures.push(format!("{name}: compiled without errors, but it is a bad input"));
                continue;
            }
            Err(e) => e,
        };
        if !rendered.contains(": error: ") {
            failures.push(format!(
                "{name}: report has no `file:line:col: error:` line:\n{rendered}"
            ));
        }
        if let Some(f) = common::check_expected(&dir.join(format!("{name}.expected")), &rendered) {
            failures.push(f);
        }
    }
    assert!(cases >= 25, "only {cases} diagnostics cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn several_errors_in_one_run() {
    let text = "library t;\nstruct A { a: Nope; b: Nada; }\nenum E : u8 { X = 1; X = 2; }\n";
    let out = anvil_idlc::compile_sources(vec![SourceFile::new("t.idl", text)]).unwrap_err();
    assert_eq!(out.matches(": error: ").count(), 3, "{out}");
    assert!(out.ends_with("3 errors found\n"), "{out}");
}

#[test]
fn cli_exit_status_and_position() {
    let exe = env!("CARGO_BIN_EXE_anvil-idlc");
    let dir = common::scratch("cli");
    std::fs::write(dir.join("bad.idl"), "library t;\nstruct S { a: Nope; }\n").unwrap();
    // Paths are printed exactly as given, so that an editor can open them from where the
    // command ran.
    let parent = dir.parent().unwrap();
    for (arg, want) in [("cli", "cli/bad.idl"), ("./cli/", "./cli/bad.idl")] {
        let out = std::process::Command::new(exe)
            .current_dir(parent)
            .arg("check")
            .arg(arg)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!("{want}:2:15: error: unknown type `Nope`")),
            "{err}"
        );
    }
    let out = std::process::Command::new(exe).arg("check").arg(&dir).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let abs = format!("{}:2:15: error:", dir.join("bad.idl").display());
    assert!(err.starts_with(&abs), "{err}");
    // `gen` on bad input exits 1 and writes nothing.
    let gen_out = dir.join("gen_out");
    let out = std::process::Command::new(exe)
        .arg("gen")
        .arg(&dir)
        .arg("--out")
        .arg(&gen_out)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!gen_out.exists(), "gen wrote output for bad input");
    let out = std::process::Command::new(exe).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("USAGE"));
    let out = std::process::Command::new(exe).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(exe)
        .arg("check")
        .arg(dir.join("nonexistent"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
