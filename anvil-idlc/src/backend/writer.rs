//! A text writer for generated code: lines at the current indentation, blocks that indent,
//! doc comments. The backends write code as text, formatted as they go, because building and
//! pretty-printing token trees took seconds and gigabytes for large inputs.

use std::fmt::Write as _;

pub struct W {
    pub out: String,
    indent: usize,
}

impl Default for W {
    fn default() -> Self {
        Self::new()
    }
}

impl W {
    pub fn new() -> Self {
        W {
            out: String::with_capacity(1 << 16),
            indent: 0,
        }
    }

    /// One line at the current indentation (an empty line has no trailing spaces).
    pub fn line(&mut self, s: &str) {
        if !s.is_empty() {
            for _ in 0..self.indent {
                self.out.push_str("    ");
            }
            self.out.push_str(s);
        }
        self.out.push('\n');
    }

    /// A line that opens a block: what follows is indented one more level.
    pub fn open(&mut self, s: &str) {
        self.line(s);
        self.indent += 1;
    }

    /// A line that closes a block.
    pub fn close(&mut self, s: &str) {
        self.indent = self.indent.saturating_sub(1);
        self.line(s);
    }

    pub fn blank(&mut self) {
        self.out.push('\n');
    }

    /// Several lines given as one string (each is indented).
    pub fn lines(&mut self, s: &str) {
        for l in s.lines() {
            self.line(l);
        }
    }

    /// Rust doc comments (`///`), one per line of `docs`.
    pub fn rs_docs(&mut self, docs: &[String]) {
        for d in docs {
            let d = rs_doc_text(d);
            if d.is_empty() {
                self.line("///");
            } else {
                let mut s = String::with_capacity(d.len() + 4);
                let _ = write!(s, "/// {d}");
                self.line(&s);
            }
        }
    }
}

/// Makes a doc line safe inside a `///` comment: control characters would end or bend it.
pub fn rs_doc_text(d: &str) -> String {
    d.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Rust source for a string literal.
pub fn rs_str(s: &str) -> String {
    format!("{s:?}")
}

#[macro_export]
macro_rules! w {
    ($w:expr, $($t:tt)*) => { $w.line(&format!($($t)*)) };
}

#[macro_export]
macro_rules! wo {
    ($w:expr, $($t:tt)*) => { $w.open(&format!($($t)*)) };
}

#[macro_export]
macro_rules! wc {
    ($w:expr, $($t:tt)*) => { $w.close(&format!($($t)*)) };
}
