//! The ABI compatibility check: additions pass, every kind of break is rejected.

mod common;

use anvil_idlc::abi;
use anvil_idlc::diag::SourceFile;

const BASE: &str = r#"library t;
@status
enum Status : u32 { OK = 0; INVALID_CAP = 1; WRONG_TYPE = 2; ACCESS_DENIED = 3; INVALID_ARGS = 4; UNKNOWN_METHOD = 5; EXTRA = 6; }
@rights
bits Rights : u32 { READ = 0x1; WRITE = 0x2; }
const MSG_DATA_BYTES: u32 = 128;
const MSG_MAX_CAPS: u32 = 2;
const LIMIT: u32 = 10;
struct S { a: u32; b: u64; }
object Thing = 1 {
    1: make(size: u64) -> (t: cap<Thing>);
    2: poke(t: cap<Thing, WRITE>, s: S);
}
protocol P {
    1: get(key: u32) -> (value: u64);
}
"#;

fn abi_of(text: &str) -> abi::Abi {
    let m = anvil_idlc::compile_sources(vec![SourceFile::new("t.idl", text)]).unwrap_or_else(|e| panic!("{e}"));
    abi::parse("t", &abi::to_json(&m)).unwrap()
}

fn breaks(from: &str, to: &str) -> Vec<String> {
    let (b, _) = abi::diff(&abi_of(BASE), &abi_of(&BASE.replace(from, to)));
    b
}

#[test]
fn identical_is_compatible() {
    let (b, a) = abi::diff(&abi_of(BASE), &abi_of(BASE));
    assert!(b.is_empty() && a.is_empty());
}

#[test]
fn additions_are_compatible() {
    let added = BASE
        .replace("    2: poke", "    3: extra(x: u8);\n    2: poke")
        .replace("EXTRA = 6;", "EXTRA = 6; NEW_ERROR = 7;")
        .replace(
            "protocol P {",
            "struct T { z: u8; }\nobject Other = 2 { 1: f(); }\nprotocol P {\n    2: put(v: u64);",
        )
        + "protocol Q { 1: q(); }\n";
    let (b, a) = abi::diff(&abi_of(BASE), &abi_of(&added));
    assert!(b.is_empty(), "{b:?}");
    assert!(a.len() >= 6, "{a:?}");
}

#[test]
fn each_kind_of_break_is_rejected() {
    let cases: &[(&str, &str, &str)] = &[
        ("1: make(", "3: make(", "changed number"),
        ("object Thing = 1", "object Thing = 2", "changed type id"),
        (
            "(t: cap<Thing, WRITE>, s: S)",
            "(t: cap<Thing, READ>, s: S)",
            "required rights",
        ),
        ("(size: u64)", "(size: u32)", "changed type"),
        ("(size: u64)", "(size: u64, more: u8)", "number of parameters"),
        ("-> (t: cap<Thing>)", "", "number of results"),
        (
            "struct S { a: u32; b: u64; }",
            "struct S { a: u64; b: u64; }",
            "changed layout",
        ),
        ("1: get(key: u32)", "2: get(key: u32)", "changed ordinal"),
        ("-> (value: u64)", "-> (value: u32)", "changed type"),
        ("INVALID_ARGS = 4;", "INVALID_ARGS = 9;", "changed value"),
        ("EXTRA = 6;", "", "lost member"),
        ("WRITE = 0x2;", "WRITE = 0x4;", "changed value"),
        ("const LIMIT: u32 = 10;", "const LIMIT: u32 = 11;", "changed value"),
        ("    2: poke(t: cap<Thing, WRITE>, s: S);\n", "", "was removed"),
        (
            "protocol P {\n    1: get(key: u32) -> (value: u64);\n}\n",
            "",
            "was removed",
        ),
    ];
    for (from, to, expect) in cases {
        assert!(BASE.contains(from), "case text not in base: {from}");
        let b = breaks(from, to);
        assert!(
            b.iter().any(|x| x.contains(expect)),
            "`{from}` -> `{to}`: expected a break containing `{expect}`, got {b:?}"
        );
    }
}

#[test]
fn cli_rejects_breaks_and_bad_json() {
    let exe = env!("CARGO_BIN_EXE_anvil-idlc");
    let dir = common::scratch("abi_cli");
    let old = dir.join("old.json");
    let new = dir.join("new.json");
    let m = |t: &str| anvil_idlc::compile_sources(vec![SourceFile::new("t.idl", t)]).unwrap();
    std::fs::write(&old, abi::to_json(&m(BASE))).unwrap();
    std::fs::write(&new, abi::to_json(&m(&BASE.replace("1: make(", "4: make(")))).unwrap();
    let out = std::process::Command::new(exe)
        .arg("abi-diff")
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("BREAKING: syscall `Thing.make` changed number from 65 to 68")
    );
    let out = std::process::Command::new(exe)
        .arg("abi-diff")
        .arg(&old)
        .arg(&old)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&new, "{not json").unwrap();
    let out = std::process::Command::new(exe)
        .arg("abi-diff")
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("new.json:1:2: error: not an anvil ABI description"));
}

/// Renames that keep every number and layout are source-only changes, not ABI breaks.
#[test]
fn renames_keeping_numbers_are_source_only() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "1: get(key: u32)",
            "1: fetch(key: u32)",
            "protocol method `P.get` was renamed `fetch`",
        ),
        (
            "1: make(size: u64)",
            "1: build(size: u64)",
            "syscall `Thing.make` was renamed `Thing.build`",
        ),
        ("EXTRA = 6;", "SPARE = 6;", "member `EXTRA` was renamed `SPARE`"),
        ("get(key: u32)", "get(id: u32)", "`key` was renamed `id`"),
        (
            "struct S { a: u32; b: u64; }",
            "struct S { x: u32; b: u64; }",
            "struct `S` renamed fields",
        ),
    ];
    for (from, to, expect) in cases {
        assert!(BASE.contains(from), "case text not in base: {from}");
        let d = abi::compare(&abi_of(BASE), &abi_of(&BASE.replace(from, to)));
        assert!(d.breaks.is_empty(), "`{from}` -> `{to}`: {:?}", d.breaks);
        assert!(
            d.source_only.iter().any(|x| x.contains(expect)),
            "`{from}` -> `{to}`: expected a source-only change containing `{expect}`, got {d:?}"
        );
        assert!(d.additions.is_empty(), "a rename is not an addition: {:?}", d.additions);
    }
    // A new name at the same ordinal with another layout is a removal and a break.
    let d = abi::compare(
        &abi_of(BASE),
        &abi_of(&BASE.replace("1: get(key: u32)", "1: fetch(key: u64)")),
    );
    assert!(d.breaks.iter().any(|x| x.contains("`P.get` was removed")), "{d:?}");
}

/// Removing a right a parameter requires is its own category ("relaxed"), not a break:
/// every old caller still passes; adding one is a break.
#[test]
fn removed_rights_requirement_is_relaxed() {
    let d = abi::compare(&abi_of(BASE), &abi_of(&BASE.replace("cap<Thing, WRITE>", "cap<Thing>")));
    assert!(d.breaks.is_empty(), "{:?}", d.breaks);
    assert!(
        d.relaxed
            .iter()
            .any(|x| x.contains("changed required rights from [WRITE] to []")),
        "{d:?}"
    );
    let d = abi::compare(
        &abi_of(BASE),
        &abi_of(&BASE.replace("cap<Thing, WRITE>", "cap<Thing, WRITE | READ>")),
    );
    assert!(d.breaks.iter().any(|x| x.contains("required rights")), "{d:?}");
}

/// Only the format versions this compiler knows are read.
#[test]
fn unknown_format_version_is_rejected() {
    let json = abi::to_json(&anvil_idlc::compile_sources(vec![SourceFile::new("t.idl", BASE)]).unwrap());
    assert!(json.contains(&format!("\"format\": {}", abi::FORMAT)));
    assert!(abi::parse("ok.json", &json).is_ok());
    let future = json.replacen(&format!("\"format\": {}", abi::FORMAT), "\"format\": 99", 1);
    let e = abi::parse("future.json", &future).unwrap_err();
    assert!(e.contains("future.json: error: unknown ABI format version 99"), "{e}");
}
