//! No input makes the compiler panic or hang: random bytes, mutations of valid files,
//! deep nesting and huge inputs all end in a diagnostic or a model.

mod common;

use anvil_idlc::diag::SourceFile;
use proptest::prelude::*;

fn compile(text: String) -> Result<(), String> {
    anvil_idlc::compile_sources(vec![SourceFile::new("f.idl", text)]).map(|_| ())
}

fn valid_files() -> Vec<String> {
    let mut v = Vec::new();
    for dir in [common::repo().join("idl"), common::root().join("tests/fixture")] {
        for f in anvil_idlc::idl_files(&dir).unwrap() {
            v.push(std::fs::read_to_string(f).unwrap());
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = compile(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn mutated_valid_files_never_panic(
        which in 0usize..16,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, "[a-z0-9@<>{}();:|,_ ]{0,6}"), 1..8),
    ) {
        let files = valid_files();
        let mut text: Vec<char> = files[which % files.len()].chars().collect();
        for (at, kind, insert) in edits {
            if text.is_empty() { break; }
            let i = at.index(text.len());
            match kind {
                0 => { text.remove(i); }
                1 => { for (k, c) in insert.chars().enumerate() { text.insert(i + k, c); } }
                2 => { let j = (i + 8).min(text.len()); text.drain(i..j); }
                _ => { let c = text[i]; text.insert(i, c); }
            }
        }
        let src: String = text.into_iter().collect();
        if let Err(e) = compile(src) {
            prop_assert!(e.contains(": error: "), "diagnostic without position: {}", e);
        }
    }
}

#[test]
fn deep_and_huge_inputs_end_in_diagnostics() {
    // Deep brace nesting: no rule recurses, so this is an ordinary syntax error.
    assert!(compile(format!("library t;\nstruct S {}", "{".repeat(50_000))).is_err());
    // A long chain of structs each containing the next: laid out without recursion.
    let mut chain = String::from("library t;\n");
    for i in 0..20_000 {
        chain.push_str(&format!("struct S{i} {{ next: S{}; }}\n", i + 1));
    }
    chain.push_str("struct S20000 { x: u8; }\n");
    assert!(compile(chain).is_ok());
    // Over the size limit: refused up front.
    let huge = format!("library t;\n{}", "const A: u8 = 1;\n".repeat(300_000));
    let e = compile(huge).unwrap_err();
    assert!(e.contains("more than the limit"), "{e}");
    // A very long identifier.
    assert!(compile(format!("library t;\nstruct S {{ a: {}; }}", "x".repeat(1_000_000))).is_err());
}
