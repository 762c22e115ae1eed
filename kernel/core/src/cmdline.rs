//! The kernel command line: space-separated `key=value` words and bare flags.

/// Finds `key=value` and returns the value; `None` if the key is absent.
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_ascii_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// True if the bare word `flag` (or `flag=1`) is present.
pub fn flag(cmdline: &str, flag: &str) -> bool {
    cmdline.split_ascii_whitespace().any(|w| w == flag) || get(cmdline, flag) == Some("1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_and_flags() {
        let c = "init=fault_ud2 log=debug  exit_when_idle";
        assert_eq!(get(c, "init"), Some("fault_ud2"));
        assert_eq!(get(c, "log"), Some("debug"));
        assert_eq!(get(c, "in"), None);
        assert!(flag(c, "exit_when_idle"));
        assert!(!flag(c, "init"));
    }
}
