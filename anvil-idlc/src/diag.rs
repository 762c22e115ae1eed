//! Diagnostics: positions in source files and their rendering as `file:line:col` reports.

use std::fmt::Write as _;

/// A source file the compiler has read, kept so that diagnostics can quote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path diagnostics print, exactly as the user gave it, so editors can jump to it.
    pub name: String,
    /// The name banners and reference pages use: `<folder>/<file>` (`idl/kernel.idl`), the same
    /// wherever the compiler runs, so that generated files do not depend on the caller's paths.
    pub label: String,
    pub text: String,
}

impl SourceFile {
    /// A source whose banner name is its diagnostic name.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let name = name.into();
        SourceFile {
            label: name.clone(),
            name,
            text: text.into(),
        }
    }
}

/// A byte range inside one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: usize,
    pub start: usize,
    pub end: usize,
}

/// One error found in the input.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A diagnostic that has no source position (an unreadable file, an empty directory).
pub fn file_error(name: &str, message: &str) -> String {
    format!("{name}: error: {message}\n")
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders diagnostics the way C compilers do, so editors can jump to them:
///
/// ```text
/// idl/kernel.idl:12:20: error: unknown type `Vmoo`
///    12 |     1: map(vmo: cap<Vmoo, READ>);
///       |                     ^^^^
///       = help: ...
/// ```
pub fn render(files: &[SourceFile], diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let Some(file) = files.get(d.span.file) else {
            let _ = writeln!(out, "error: {}", d.message);
            continue;
        };
        let (line, col) = line_col(&file.text, d.span.start);
        let _ = writeln!(out, "{}:{}:{}: error: {}", file.name, line, col, d.message);
        let line_text = file.text.lines().nth(line - 1).unwrap_or("");
        // Very long lines (minified or garbage input) are cut so a report stays readable.
        let shown: String = line_text.chars().take(200).map(printable).collect();
        let gutter = line.to_string();
        let pad = " ".repeat(gutter.len());
        let _ = writeln!(out, " {gutter} | {shown}");
        let end = d.span.end.max(d.span.start + 1);
        let (_, end_col) = line_col(&file.text, end);
        let end_line = line_col(&file.text, end).0;
        let width = if end_line == line && end_col > col {
            end_col - col
        } else {
            1
        };
        let caret_col = col.min(shown.chars().count() + 1);
        let width = width.min(200usize.saturating_sub(caret_col - 1)).max(1);
        let _ = writeln!(out, " {pad} | {}{}", " ".repeat(caret_col - 1), "^".repeat(width));
        if let Some(h) = &d.help {
            let _ = writeln!(out, " {pad} = help: {h}");
        }
    }
    if !diags.is_empty() {
        let n = diags.len();
        let _ = writeln!(out, "{n} error{} found", if n == 1 { "" } else { "s" });
    }
    out
}

fn printable(c: char) -> char {
    if c == '\t' {
        ' '
    } else if c.is_control() {
        '?'
    } else {
        c
    }
}
