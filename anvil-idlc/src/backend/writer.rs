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
        Self::with_capacity(1 << 16)
    }

    /// A writer with room for `bytes`, so that a large output is not copied as it grows.
    pub fn with_capacity(bytes: usize) -> Self {
        W {
            out: String::with_capacity(bytes),
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

    /// A formatted line, written straight into the output (no allocation per line).
    pub fn fmt_line(&mut self, a: std::fmt::Arguments) {
        let start = self.out.len();
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
        let body = self.out.len();
        let _ = self.out.write_fmt(a);
        if self.out.len() == body {
            self.out.truncate(start);
        }
        self.out.push('\n');
    }

    pub fn fmt_open(&mut self, a: std::fmt::Arguments) {
        self.fmt_line(a);
        self.indent += 1;
    }

    pub fn fmt_close(&mut self, a: std::fmt::Arguments) {
        self.indent = self.indent.saturating_sub(1);
        self.fmt_line(a);
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

/// Writes a formatted line.
#[macro_export]
macro_rules! w {
    ($w:expr, $($t:tt)*) => { $w.fmt_line(format_args!($($t)*)) };
}

/// Writes a formatted line that opens a block.
#[macro_export]
macro_rules! wo {
    ($w:expr, $($t:tt)*) => { $w.fmt_open(format_args!($($t)*)) };
}

/// Writes a formatted line that closes a block.
#[macro_export]
macro_rules! wc {
    ($w:expr, $($t:tt)*) => { $w.fmt_close(format_args!($($t)*)) };
}
