//! Helpers shared by the compiler's integration tests: paths, blessing, tool invocation.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn repo() -> PathBuf {
    root().parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `ANVIL_BLESS=1` rewrites expected files instead of comparing against them.
pub fn blessing() -> bool {
    std::env::var_os("ANVIL_BLESS").is_some_and(|v| v == "1")
}

/// Compares `actual` with the file at `path` (or writes it when blessing).
/// Returns a description of the mismatch, if any.
pub fn check_expected(path: &Path, actual: &str) -> Option<String> {
    if blessing() {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).ok();
        }
        std::fs::write(path, actual).ok();
        return None;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => None,
        Ok(expected) => Some(format!(
            "{} differs (run with ANVIL_BLESS=1 to accept and review the diff)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
        Err(_) => Some(format!("{} is missing (run with ANVIL_BLESS=1 to create it)", path.display())),
    }
}

/// A fresh scratch directory under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = root().join("tests").join("out").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).ok();
    d
}
