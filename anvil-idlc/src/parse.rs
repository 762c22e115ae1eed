//! Parsing: source text to the syntax tree, through the pest grammar in `grammar.pest`.

use pest::iterators::Pair;
use pest::Parser as _;

use crate::ast::*;
use crate::diag::{Diagnostic, Span};

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct IdlParser;

/// At most this many syntax errors are reported per file.
const MAX_SYNTAX_ERRORS: usize = 50;

/// Parses one file. Lexical problems are reported first, all of them; otherwise, after a
/// syntax error the parser resumes at the next declaration (pest does not recover by itself)
/// so that further syntax errors in the file are reported too. A file with errors is not
/// checked further, but the other files of the run are.
pub fn parse_file(file: usize, text: &str) -> Result<File, Vec<Diagnostic>> {
    let lexical = crate::lex::check(file, text);
    if !lexical.is_empty() {
        return Err(lexical);
    }
    let e = match IdlParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let Some(root) = pairs.next() else {
                return Err(vec![Diagnostic::new(Span { file, start: 0, end: 0 }, "empty parse")]);
            };
            let cx = Cx { file };
            return Ok(cx.file(root));
        }
        Err(e) => e,
    };
    let mut diags = vec![syntax_error(file, text, 0, e)];
    // Resume at the next declaration after each error, parsing the rest as declarations only.
    let mut from = diags[0].span.start;
    while diags.len() < MAX_SYNTAX_ERRORS {
        let Some(at) = next_declaration(text, from) else { break };
        match IdlParser::parse(Rule::tail, &text[at..]) {
            Ok(_) => break,
            Err(e) => {
                let d = syntax_error(file, text, at, e);
                // Always move forward, whatever the error position.
                from = d.span.start.max(at + 1);
                diags.push(d);
            }
        }
    }
    Err(diags)
}

/// The start of the first line after the line holding `from` that begins a declaration (its
/// doc comments and attributes included).
fn next_declaration(text: &str, from: usize) -> Option<usize> {
    const STARTS: [&str; 6] = ["const", "enum", "bits", "struct", "object", "protocol"];
    let mut pos = text.get(from..)?.find('\n').map(|n| from + n + 1)?;
    // Where the current run of doc comment and attribute lines started, if in one.
    let mut run: Option<usize> = None;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
        let line = text[pos..end].trim_start();
        let word = line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if STARTS.contains(&word) && line.len() > word.len() {
            return Some(run.unwrap_or(pos));
        }
        if line.starts_with("///") || line.starts_with('@') {
            run.get_or_insert(pos);
        } else if !line.is_empty() {
            run = None;
        }
        pos = end + 1;
    }
    None
}

/// A diagnostic for a pest error in the text starting at `base` of `text`.
fn syntax_error(file: usize, text: &str, base: usize, e: pest::error::Error<Rule>) -> Diagnostic {
    let start = base
        + match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        };
    let end = next_token_end(text, start);
    let found = if start >= text.len() {
        "end of file".to_string()
    } else {
        let tok: String = text[start..end].chars().take(40).collect();
        format!("`{}`", tok.escape_debug())
    };
    let (expected, closing) = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => (
            describe(positives),
            !positives.is_empty()
                && positives
                    .iter()
                    .all(|r| matches!(r, Rule::semi | Rule::rbrace | Rule::rparen | Rule::rangle)),
        ),
        pest::error::ErrorVariant::CustomError { message } => (message.clone(), false),
    };
    // When the unexpected token starts a new line, the mistake is almost always at the end of
    // the previous line (a missing `;` or `}`): point there, as rustc does.
    let before = &text[..start.min(text.len())];
    let prev_end = before.trim_end().len();
    if closing && prev_end > 0 && before[prev_end..].contains('\n') {
        let last = before[..prev_end].chars().next_back().map_or(1, char::len_utf8);
        let span = Span {
            file,
            start: prev_end - last,
            end: prev_end,
        };
        return Diagnostic::new(
            span,
            format!("syntax error: expected {expected} after this, found {found}"),
        );
    }
    Diagnostic::new(Span { file, start, end }, format!("syntax error: unexpected {found}"))
        .help(format!("expected {expected}"))
}

fn next_token_end(text: &str, start: usize) -> usize {
    let rest = text.get(start..).unwrap_or("");
    let mut chars = rest.char_indices();
    match chars.next() {
        None => start,
        Some((_, c)) if c.is_alphanumeric() || c == '_' => {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            start + len
        }
        Some((_, c)) => start + c.len_utf8(),
    }
}

fn describe(rules: &[Rule]) -> String {
    // A doc comment may precede almost anything; naming it only helps when nothing else fits.
    let rules: Vec<Rule> = if rules.len() > 1 {
        rules.iter().copied().filter(|r| *r != Rule::doc).collect()
    } else {
        rules.to_vec()
    };
    let mut names: Vec<&str> = rules
        .iter()
        .map(|r| match r {
            Rule::ident => "a name",
            Rule::int => "an integer",
            Rule::lib_name => "a library name",
            Rule::library_decl => "`library <name>;`",
            Rule::import => "`import`",
            Rule::doc => "a doc comment",
            Rule::attr => "an attribute",
            Rule::const_decl | Rule::enum_decl | Rule::bits_decl | Rule::struct_decl => "a declaration",
            Rule::object_decl | Rule::protocol_decl => "a declaration",
            Rule::member => "a member `NAME = value;`",
            Rule::field => "a field `name: type;`",
            Rule::method => "a method `ordinal: name(...)`",
            Rule::params | Rule::param => "a parameter",
            Rule::results | Rule::arrow => "`->`",
            Rule::semi => "`;`",
            Rule::colon => "`:`",
            Rule::eq => "`=`",
            Rule::lbrace => "`{`",
            Rule::rbrace => "`}`",
            Rule::lparen => "`(`",
            Rule::rparen => "`)`",
            Rule::langle => "`<`",
            Rule::rangle => "`>`",
            Rule::comma => "`,`",
            Rule::kw_library => "`library <name>;`",
            Rule::error_clause => "`error`",
            Rule::type_ref | Rule::cap_type | Rule::sized_type => "a type",
            Rule::rights => "rights",
            Rule::EOI => "end of file",
            _ => "a token",
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    match names.len() {
        0 => "something else".into(),
        1 => names[0].into(),
        _ => {
            let last = names.pop().unwrap_or_default();
            format!("{} or {}", names.join(", "), last)
        }
    }
}

struct Cx {
    file: usize,
}

impl Cx {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        Span {
            file: self.file,
            start: s.start(),
            end: s.end(),
        }
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn int(&self, p: Pair<Rule>) -> Int {
        let s = p.as_str();
        let value = match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        };
        Int {
            value,
            span: self.span(&p),
        }
    }

    fn file(&self, root: Pair<Rule>) -> File {
        let mut docs = Vec::new();
        let mut library = None;
        let mut imports = Vec::new();
        let mut items = Vec::new();
        for p in root.into_inner() {
            match p.as_rule() {
                Rule::library_decl => {
                    for q in p.into_inner() {
                        match q.as_rule() {
                            Rule::doc => docs.push(doc_text(q.as_str())),
                            Rule::lib_name => library = Some(self.ident(q)),
                            _ => {}
                        }
                    }
                }
                Rule::import => {
                    if let Some(n) = p.into_inner().next() {
                        imports.push(self.ident(n));
                    }
                }
                Rule::EOI => {}
                _ => items.push(self.item(p)),
            }
        }
        let library = library.unwrap_or(Ident {
            name: String::new(),
            span: Span::default(),
        });
        File {
            file: self.file,
            docs,
            library,
            imports,
            items,
        }
    }

    fn item(&self, p: Pair<Rule>) -> Item {
        let rule = p.as_rule();
        let mut docs = Vec::new();
        let mut attrs = Vec::new();
        let mut idents = Vec::new();
        let mut ints = Vec::new();
        let mut members = Vec::new();
        let mut fields = Vec::new();
        let mut methods = Vec::new();
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::doc => docs.push(doc_text(q.as_str())),
                Rule::attr => attrs.push(self.attr(q)),
                Rule::ident => idents.push(self.ident(q)),
                Rule::int => ints.push(self.int(q)),
                Rule::member => members.push(self.member(q)),
                Rule::field => fields.push(self.field(q)),
                Rule::method => methods.push(self.method(q)),
                _ => {}
            }
        }
        let mut idents = idents.into_iter();
        let name = idents.next().unwrap_or_else(|| self.missing());
        let second = idents.next().unwrap_or_else(|| self.missing());
        let int = ints.into_iter().next().unwrap_or(Int {
            value: Some(0),
            span: name.span,
        });
        let kind = match rule {
            Rule::const_decl => ItemKind::Const { ty: second, value: int },
            Rule::enum_decl => ItemKind::Enum {
                underlying: second,
                members,
            },
            Rule::bits_decl => ItemKind::Bits {
                underlying: second,
                members,
            },
            Rule::struct_decl => ItemKind::Struct { fields },
            Rule::object_decl => ItemKind::Object { id: int, methods },
            _ => ItemKind::Protocol { methods },
        };
        Item {
            docs,
            attrs,
            name,
            kind,
        }
    }

    fn missing(&self) -> Ident {
        Ident {
            name: String::new(),
            span: Span {
                file: self.file,
                start: 0,
                end: 0,
            },
        }
    }

    fn attr(&self, p: Pair<Rule>) -> Attr {
        let mut span = self.span(&p);
        let mut inner = p.into_inner();
        let name = inner.next().map(|n| self.ident(n)).unwrap_or_else(|| self.missing());
        // The span ends at the name or the closing parenthesis, not at trailing whitespace.
        span.end = name.span.end;
        let mut arg = None;
        for q in inner {
            match q.as_rule() {
                Rule::attr_arg => {
                    arg = q.into_inner().next().map(|a| match a.as_rule() {
                        Rule::int => AttrArg::Int(self.int(a)),
                        _ => AttrArg::Ident(self.ident(a)),
                    })
                }
                Rule::rparen => span.end = q.as_span().end(),
                _ => {}
            }
        }
        Attr { name, arg, span }
    }

    fn member(&self, p: Pair<Rule>) -> Member {
        let (mut docs, mut attrs, mut name, mut value) = (Vec::new(), Vec::new(), None, None);
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::doc => docs.push(doc_text(q.as_str())),
                Rule::attr => attrs.push(self.attr(q)),
                Rule::ident => name = Some(self.ident(q)),
                Rule::int => value = Some(self.int(q)),
                _ => {}
            }
        }
        let name = name.unwrap_or_else(|| self.missing());
        let value = value.unwrap_or(Int {
            value: Some(0),
            span: name.span,
        });
        Member {
            docs,
            attrs,
            name,
            value,
        }
    }

    fn field(&self, p: Pair<Rule>) -> Field {
        let (mut docs, mut attrs, mut name, mut ty) = (Vec::new(), Vec::new(), None, None);
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::doc => docs.push(doc_text(q.as_str())),
                Rule::attr => attrs.push(self.attr(q)),
                Rule::ident => name = Some(self.ident(q)),
                Rule::type_ref => ty = Some(self.type_ref(q)),
                _ => {}
            }
        }
        let name = name.unwrap_or_else(|| self.missing());
        let ty = ty.unwrap_or_else(|| TypeRef::Named(name.clone()));
        Field { docs, attrs, name, ty }
    }

    fn type_ref(&self, p: Pair<Rule>) -> TypeRef {
        let Some(inner) = p.into_inner().next() else {
            return TypeRef::Named(self.missing());
        };
        let span = self.span(&inner);
        match inner.as_rule() {
            Rule::cap_type => {
                let mut object = None;
                let mut rights = Vec::new();
                for q in inner.into_inner() {
                    match q.as_rule() {
                        Rule::ident => object = Some(self.ident(q)),
                        Rule::rights => rights = q.into_inner().map(|i| self.ident(i)).collect(),
                        _ => {}
                    }
                }
                let object = object.unwrap_or_else(|| self.missing());
                TypeRef::Cap { object, rights, span }
            }
            Rule::sized_type => {
                let mut kind = SizedKind::Bytes;
                let mut bound = Int { value: Some(0), span };
                for q in inner.into_inner() {
                    match q.as_rule() {
                        Rule::sized_kind if q.as_str() == "string" => kind = SizedKind::String,
                        Rule::int => bound = self.int(q),
                        _ => {}
                    }
                }
                TypeRef::Sized { kind, bound, span }
            }
            _ => TypeRef::Named(self.ident(inner)),
        }
    }

    fn params(&self, p: Pair<Rule>) -> Vec<Field> {
        p.into_inner()
            .filter(|q| q.as_rule() == Rule::param)
            .map(|q| self.field(q))
            .collect()
    }

    fn method(&self, p: Pair<Rule>) -> Method {
        let (mut docs, mut attrs) = (Vec::new(), Vec::new());
        let (mut ordinal, mut name, mut params, mut results, mut error) = (None, None, Vec::new(), Vec::new(), None);
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::doc => docs.push(doc_text(q.as_str())),
                Rule::attr => attrs.push(self.attr(q)),
                Rule::int => ordinal = Some(self.int(q)),
                Rule::ident => name = Some(self.ident(q)),
                Rule::params => params = self.params(q),
                Rule::results => {
                    if let Some(ps) = q.into_inner().find(|p| p.as_rule() == Rule::params) {
                        results = self.params(ps);
                    }
                }
                Rule::error_clause => error = q.into_inner().next().map(|e| self.ident(e)),
                _ => {}
            }
        }
        let name = name.unwrap_or_else(|| self.missing());
        let ordinal = ordinal.unwrap_or(Int {
            value: Some(0),
            span: name.span,
        });
        Method {
            docs,
            attrs,
            ordinal,
            name,
            params,
            results,
            error,
        }
    }
}

fn doc_text(raw: &str) -> String {
    let t = raw.trim_start_matches("///");
    t.strip_prefix(' ').unwrap_or(t).trim_end().to_string()
}
