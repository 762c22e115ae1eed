//! Lexical checks before parsing: problems a grammar error would describe badly (a byte order
//! mark, an unterminated block comment or string, a non-ASCII identifier, a control
//! character) get a message of their own, all of them in one run.

use crate::diag::{Diagnostic, Span};

/// At most this many lexical errors are reported per file; past that the rest is noise.
const MAX_ERRORS: usize = 100;

pub fn check(file: usize, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let span = |start: usize, end: usize| Span { file, start, end };
    let b = text.as_bytes();
    let mut i = 0;
    if text.starts_with('\u{feff}') {
        out.push(
            Diagnostic::new(span(0, 3), "the file starts with a UTF-8 byte order mark (BOM)")
                .help("save it as UTF-8 without a BOM"),
        );
        i = 3;
    }
    while i < b.len() && out.len() < MAX_ERRORS {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            match text[i + 2..].find("*/") {
                Some(n) => i = i + 2 + n + 2,
                None => {
                    out.push(
                        Diagnostic::new(span(i, i + 2), "unterminated block comment")
                            .help("close it with `*/` (block comments do not nest)"),
                    );
                    break;
                }
            }
        } else if c == b'"' {
            let line_end = text[i + 1..].find('\n').map_or(b.len(), |n| i + 1 + n);
            match text[i + 1..line_end].find('"') {
                Some(n) => {
                    out.push(
                        Diagnostic::new(span(i, i + 1 + n + 1), "unexpected string literal")
                            .help("the IDL has no strings; names and numbers are written bare"),
                    );
                    i = i + 1 + n + 1;
                }
                None => {
                    out.push(
                        Diagnostic::new(span(i, line_end), "unterminated string literal")
                            .help("the IDL has no strings; remove the `\"`"),
                    );
                    i = line_end;
                }
            }
        } else if c >= 0x80 {
            // A word with a non-ASCII character in it: report the word once.
            let start = text[..i]
                .char_indices()
                .rev()
                .take_while(|(_, ch)| ch.is_alphanumeric() || *ch == '_')
                .last()
                .map_or(i, |(k, _)| k);
            let end = text[i..]
                .char_indices()
                .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                .map_or(b.len(), |(k, _)| i + k);
            let ch = text[i..].chars().next().unwrap_or('?');
            if end > i {
                let word = &text[start..end];
                out.push(
                    Diagnostic::new(
                        span(start, end),
                        format!(
                            "identifier `{word}` contains the non-ASCII character `{ch}` (U+{:04X})",
                            ch as u32
                        ),
                    )
                    .help("identifiers are ASCII letters, digits and `_`, so that every backend can use them"),
                );
                i = end;
            } else {
                out.push(Diagnostic::new(
                    span(i, i + ch.len_utf8()),
                    format!("unexpected character `{ch}` (U+{:04X})", ch as u32),
                ));
                i += ch.len_utf8();
            }
        } else if c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t') || c == 0x7f {
            out.push(Diagnostic::new(
                span(i, i + 1),
                format!("unexpected control character U+{c:04X}"),
            ));
            i += 1;
        } else {
            i += 1;
        }
    }
    out
}
