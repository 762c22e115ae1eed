//! Checking: resolves names and imports, validates numbers, attributes and ABI limits,
//! computes layouts, and produces the one checked model every backend reads.

use std::collections::{HashMap, HashSet};

use crate::ast::{self, AttrArg, ItemKind, TypeRef};
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::model::*;

/// Names that cannot be used for fields, parameters or declarations because a backend
/// would emit them as identifiers in C or Rust.
const RESERVED: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// C keywords: fields and parameters become bare C identifiers, while declarations and
/// methods always get the `anvil_` prefix in C.
const C_RESERVED: &[&str] = &[
    "auto", "case", "char", "default", "double", "float", "goto", "inline", "int", "long", "register", "restrict",
    "short", "signed", "sizeof", "switch", "typedef", "union", "unsigned", "void", "volatile", "bool", "errno",
];

const MAX_BOUND: u64 = 1 << 20;
const MAX_OBJECT_ID: u64 = 255;
const MAX_SYSCALL_ORDINAL: u64 = SYSCALL_STRIDE - 1;
const MAX_PROTOCOL_ORDINAL: u64 = 0xFFFF;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    Const,
    Enum,
    Bits,
    Member,
    Struct,
    Field,
    Object,
    Protocol,
    Method,
    Param,
}

impl Place {
    fn describe(self) -> &'static str {
        match self {
            Place::Const => "a const",
            Place::Enum => "an enum",
            Place::Bits => "a bits",
            Place::Member => "a member",
            Place::Struct => "a struct",
            Place::Field => "a struct field",
            Place::Object => "an object",
            Place::Protocol => "a protocol",
            Place::Method => "a method",
            Place::Param => "a parameter",
        }
    }
}

/// Every attribute the language knows, where it may appear, and whether it takes an argument.
const ATTRS: &[(&str, &[Place])] = &[
    ("status", &[Place::Enum]),
    ("rights", &[Place::Bits]),
    ("blocking", &[Place::Method]),
    ("noreturn", &[Place::Method]),
    ("move", &[Place::Param]),
];

#[derive(Clone, Copy, Debug)]
enum Decl {
    Const,
    Enum(usize),
    Bits(usize),
    Struct(usize),
    Interface(usize),
}

impl Decl {
    fn kind(self) -> &'static str {
        match self {
            Decl::Const => "a const",
            Decl::Enum(_) => "an enum",
            Decl::Bits(_) => "a bits",
            Decl::Struct(_) => "a struct",
            Decl::Interface(_) => "an interface",
        }
    }
}

struct Checker<'a> {
    files: &'a [ast::File],
    diags: Vec<Diagnostic>,
    model: Model,
    /// Global names: C prefixes everything with `anvil_`, so names must be unique project-wide.
    decls: HashMap<String, (Decl, usize, Span)>,
    /// For each file, the libraries it may see (its own and the ones it imports).
    visible: Vec<HashSet<usize>>,
    file_lib: Vec<usize>,
}

/// Checks parsed files and builds the model. Returns every diagnostic found.
pub fn check(sources: Vec<SourceFile>, files: &[ast::File]) -> Result<Model, (Vec<SourceFile>, Vec<Diagnostic>)> {
    let model = Model {
        files: sources,
        libraries: Vec::new(),
        consts: Vec::new(),
        enums: Vec::new(),
        bits: Vec::new(),
        structs: Vec::new(),
        interfaces: Vec::new(),
        status: None,
        rights: None,
        msg_data_bytes: 0,
        msg_max_caps: 0,
    };
    let mut c = Checker {
        files,
        diags: Vec::new(),
        model,
        decls: HashMap::new(),
        visible: Vec::new(),
        file_lib: Vec::new(),
    };
    c.libraries();
    c.declare();
    c.scalars_and_enums();
    c.roles();
    c.structs();
    c.interfaces();
    if c.diags.is_empty() {
        Ok(c.model)
    } else {
        c.diags.sort_by_key(|d| (d.span.file, d.span.start));
        Err((c.model.files, c.diags))
    }
}

impl Checker<'_> {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg));
    }

    fn err_help(&mut self, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg).help(help));
    }

    fn libraries(&mut self) {
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let nsrc = self.model.files.len();
        self.file_lib = vec![0; nsrc];
        self.visible = vec![HashSet::new(); nsrc];
        for f in self.files {
            if let Some(&prev) = by_name.get(&f.library.name) {
                let prev_file = self.model.files[self.model.libraries[prev].file].name.clone();
                self.err_help(
                    f.library.span,
                    format!("library `{}` is declared twice", f.library.name),
                    format!("it is also declared in {prev_file}; each library is one file"),
                );
                self.file_lib[f.file] = prev;
                continue;
            }
            let short = f.library.name.rsplit('.').next().unwrap_or("").to_string();
            by_name.insert(f.library.name.clone(), self.model.libraries.len());
            self.file_lib[f.file] = self.model.libraries.len();
            self.model.libraries.push(Library {
                name: f.library.name.clone(),
                short,
                file: f.file,
                docs: f.docs.clone(),
                imports: Vec::new(),
            });
        }
        for f in self.files {
            let lib = self.file_lib[f.file];
            let mut seen = HashSet::new();
            for imp in &f.imports {
                match by_name.get(&imp.name) {
                    None => {
                        let mut known: Vec<&String> = by_name.keys().collect();
                        known.sort();
                        let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                        self.err_help(
                            imp.span,
                            format!("unknown library `{}`", imp.name),
                            format!("libraries in this run: {}", known.join(", ")),
                        );
                    }
                    Some(&l) if l == lib => self.err(imp.span, format!("library `{}` imports itself", imp.name)),
                    Some(&l) => {
                        if !seen.insert(l) {
                            self.err(imp.span, format!("library `{}` is imported twice", imp.name));
                        } else if self.model.libraries[lib].file == f.file {
                            self.model.libraries[lib].imports.push(l);
                        }
                    }
                }
            }
        }
        self.import_cycles();
        for f in self.files {
            let lib = self.file_lib[f.file];
            let mut v: HashSet<usize> = self.model.libraries[lib].imports.iter().copied().collect();
            v.insert(lib);
            self.visible[f.file] = v;
        }
    }

    fn import_cycles(&mut self) {
        // Iterative DFS so that a long import chain cannot overflow the stack.
        let n = self.model.libraries.len();
        let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (lib, ref mut next)) = stack.last_mut() {
                let imports = &self.model.libraries[lib].imports;
                if *next < imports.len() {
                    let to = imports[*next];
                    *next += 1;
                    if state[to] == 1 {
                        let mut chain: Vec<String> = stack
                            .iter()
                            .skip_while(|(l, _)| *l != to)
                            .map(|(l, _)| self.model.libraries[*l].name.clone())
                            .collect();
                        chain.push(self.model.libraries[to].name.clone());
                        let file = self.model.libraries[lib].file;
                        let to_name = self.model.libraries[to].name.clone();
                        let span = self
                            .files
                            .iter()
                            .filter(|f| f.file == file)
                            .flat_map(|f| &f.imports)
                            .find(|i| i.name == to_name)
                            .map_or(Span::default(), |i| i.span);
                        self.err_help(span, "import cycle", format!("the cycle is {}", chain.join(" -> ")));
                        // Break the edge so the rest of the graph is still checked once.
                        self.model.libraries[lib].imports.retain(|&l| l != to);
                        if let Some(top) = stack.last_mut() {
                            top.1 -= 1;
                        }
                    } else if state[to] == 0 {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                } else {
                    state[lib] = 2;
                    stack.pop();
                }
            }
        }
    }

    fn check_name(&mut self, id: &ast::Ident, what: &str) {
        let bare_in_c = !(what.contains("declaration") || what.contains("method"));
        let n = id.name.as_str();
        if RESERVED.contains(&n) || (bare_in_c && C_RESERVED.contains(&n)) {
            self.err_help(
                id.span,
                format!("`{}` cannot be used as {what} name", id.name),
                "it is a keyword or reserved name in C or Rust; choose another name",
            );
        }
    }

    fn declare(&mut self) {
        for f in self.files {
            let lib = self.file_lib[f.file];
            for item in &f.items {
                let decl = match &item.kind {
                    ItemKind::Const { .. } => Decl::Const,
                    ItemKind::Enum { .. } => Decl::Enum(self.model.enums.len()),
                    ItemKind::Bits { .. } => Decl::Bits(self.model.bits.len()),
                    ItemKind::Struct { .. } => Decl::Struct(self.model.structs.len()),
                    ItemKind::Object { .. } | ItemKind::Protocol { .. } => Decl::Interface(self.model.interfaces.len()),
                };
                let (name, docs) = (item.name.name.clone(), item.docs.clone());
                // Placeholders; filled in by the later passes once types can be resolved.
                match &item.kind {
                    ItemKind::Const { .. } => self.model.consts.push(Const {
                        lib,
                        name: name.clone(),
                        docs,
                        ty: Scalar::U64,
                        value: 0,
                    }),
                    ItemKind::Enum { .. } => self.model.enums.push(Enum {
                        lib,
                        name: name.clone(),
                        docs,
                        underlying: Scalar::U32,
                        members: Vec::new(),
                    }),
                    ItemKind::Bits { .. } => self.model.bits.push(Enum {
                        lib,
                        name: name.clone(),
                        docs,
                        underlying: Scalar::U32,
                        members: Vec::new(),
                    }),
                    ItemKind::Struct { .. } => self.model.structs.push(Struct {
                        lib,
                        name: name.clone(),
                        docs,
                        fields: Vec::new(),
                        size: 0,
                        align: 1,
                    }),
                    ItemKind::Object { .. } | ItemKind::Protocol { .. } => self.model.interfaces.push(Interface {
                        lib,
                        name: name.clone(),
                        docs,
                        object_id: None,
                        methods: Vec::new(),
                    }),
                }
                self.check_name(&item.name, "a declaration");
                if Scalar::from_name(&name).is_some() || name == "any" || name == "cap" {
                    self.err(
                        item.name.span,
                        format!("`{name}` is a built-in type name and cannot be declared"),
                    );
                    continue;
                }
                if let Some((_, _, prev)) = self.decls.get(&name) {
                    let prev = *prev;
                    let (l, _) = crate::diag::line_col(&self.model.files[prev.file].text, prev.start);
                    let where_ = format!("{}:{}", self.model.files[prev.file].name, l);
                    self.err_help(
                        item.name.span,
                        format!("`{name}` is declared twice"),
                        format!("the first declaration is at {where_}"),
                    );
                } else {
                    self.decls.insert(name, (decl, lib, item.name.span));
                }
            }
        }
    }

    /// Validates attributes on one element; returns the names present.
    fn attrs(&mut self, attrs: &[ast::Attr], place: Place) -> HashSet<String> {
        let mut present = HashSet::new();
        for a in attrs {
            let name = a.name.name.as_str();
            match ATTRS.iter().find(|(n, _)| *n == name) {
                None => {
                    let known: Vec<String> = ATTRS.iter().map(|(n, _)| format!("@{n}")).collect();
                    self.err_help(
                        a.name.span,
                        format!("unknown attribute `@{name}`"),
                        format!("known attributes: {}", known.join(", ")),
                    );
                }
                Some((_, places)) if !places.contains(&place) => {
                    let allowed: Vec<&str> = places.iter().map(|p| p.describe()).collect();
                    self.err_help(
                        a.span,
                        format!("attribute `@{name}` is not allowed on {}", place.describe()),
                        format!("`@{name}` belongs on {}", allowed.join(" or ")),
                    );
                }
                Some(_) => {
                    if let Some(arg) = &a.arg {
                        let span = match arg {
                            AttrArg::Ident(i) => i.span,
                            AttrArg::Int(i) => i.span,
                        };
                        self.err(span, format!("attribute `@{name}` takes no argument"));
                    }
                    if !present.insert(name.to_string()) {
                        self.err(a.span, format!("attribute `@{name}` is given twice"));
                    }
                }
            }
        }
        present
    }

    fn resolve(&self, file: usize, name: &str) -> Option<(Decl, usize)> {
        self.decls
            .get(name)
            .map(|(d, lib, _)| (*d, *lib))
            .filter(|_| file < self.visible.len())
    }

    /// Looks a name up as seen from `file`, reporting unknown or not-imported names.
    fn lookup(&mut self, file: usize, id: &ast::Ident) -> Option<Decl> {
        match self.resolve(file, &id.name) {
            None => {
                let hint = self.similar(&id.name);
                let mut d = Diagnostic::new(id.span, format!("unknown type `{}`", id.name));
                d = match hint {
                    Some(h) => d.help(format!("did you mean `{h}`?")),
                    None => d.help(
                        "expected a scalar (u8..u64, i8..i64, bool), bytes<N>, string<N>, cap<...> or a declared type",
                    ),
                };
                self.diags.push(d);
                None
            }
            Some((decl, lib)) => {
                if !self.visible[file].contains(&lib) {
                    let lname = self.model.libraries[lib].name.clone();
                    self.err_help(
                        id.span,
                        format!(
                            "`{}` is declared in library `{lname}`, which this file does not import",
                            id.name
                        ),
                        format!("add `import {lname};`"),
                    );
                    return None;
                }
                Some(decl)
            }
        }
    }

    fn similar(&self, name: &str) -> Option<String> {
        if name.len() > 64 {
            return None;
        }
        let lower = name.to_ascii_lowercase();
        let mut candidates: Vec<&String> = self.decls.keys().collect();
        candidates.sort();
        candidates
            .into_iter()
            .find(|c| {
                if c.len() > 64 {
                    return false;
                }
                let cl = c.to_ascii_lowercase();
                cl == lower || (edit_distance(&cl, &lower) <= 2 && lower.len() > 2)
            })
            .cloned()
            .or_else(|| {
                Scalar::ALL
                    .iter()
                    .find(|(s, _)| edit_distance(s, &lower) <= 1)
                    .map(|(s, _)| s.to_string())
            })
    }

    fn int(&mut self, i: &ast::Int) -> Option<u64> {
        if i.value.is_none() {
            self.err(i.span, "integer literal does not fit in 64 bits");
        }
        i.value
    }

    fn underlying(&mut self, id: &ast::Ident, what: &str) -> Scalar {
        match Scalar::from_name(&id.name) {
            Some(s) if s.is_unsigned_int() => s,
            _ => {
                self.err_help(
                    id.span,
                    format!(
                        "the underlying type of {what} must be an unsigned integer, not `{}`",
                        id.name
                    ),
                    "expected u8, u16, u32 or u64",
                );
                Scalar::U32
            }
        }
    }

    fn scalars_and_enums(&mut self) {
        let (mut ci, mut ei, mut bi) = (0, 0, 0);
        for f in self.files {
            for item in &f.items {
                match &item.kind {
                    ItemKind::Const { ty, value } => {
                        self.attrs(&item.attrs, Place::Const);
                        let s = match Scalar::from_name(&ty.name) {
                            Some(s) => s,
                            None => {
                                self.err_help(
                                    ty.span,
                                    format!("a const must have a scalar type, not `{}`", ty.name),
                                    "expected u8..u64, i8..i64 or bool",
                                );
                                Scalar::U64
                            }
                        };
                        let v = self.int(value).unwrap_or(0);
                        if v > s.max_literal() {
                            self.err(value.span, format!("value {v} does not fit in `{}`", s.name()));
                        }
                        self.model.consts[ci].ty = s;
                        self.model.consts[ci].value = v;
                        ci += 1;
                    }
                    ItemKind::Enum { underlying, members } => {
                        let (u, ms, marked) = self.enum_like(item, underlying, members, false);
                        if marked {
                            let prev = self.model.status.map(|p| self.model.enums[p].name.clone());
                            self.model.status = self.claim_role(self.model.status, ei, prev, "enums", "@status", item);
                        }
                        self.model.enums[ei].underlying = u;
                        self.model.enums[ei].members = ms;
                        ei += 1;
                    }
                    ItemKind::Bits { underlying, members } => {
                        let (u, ms, marked) = self.enum_like(item, underlying, members, true);
                        if marked {
                            let prev = self.model.rights.map(|p| self.model.bits[p].name.clone());
                            self.model.rights = self.claim_role(self.model.rights, bi, prev, "bits", "@rights", item);
                        }
                        self.model.bits[bi].underlying = u;
                        self.model.bits[bi].members = ms;
                        bi += 1;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Checks an enum or a bits: its attributes, underlying type and members. Returns those and
    /// whether it carries its role attribute (`@status` for an enum, `@rights` for a bits).
    fn enum_like(
        &mut self,
        item: &ast::Item,
        underlying: &ast::Ident,
        members: &[ast::Member],
        bits: bool,
    ) -> (Scalar, Vec<Member>, bool) {
        let (place, what, role) = if bits {
            (Place::Bits, "a bits", "rights")
        } else {
            (Place::Enum, "an enum", "status")
        };
        let present = self.attrs(&item.attrs, place);
        let u = self.underlying(underlying, what);
        let ms = self.members(members, u, bits);
        (u, ms, present.contains(role))
    }

    /// Gives a role (`@status`, `@rights`) to declaration `idx`, or reports that another
    /// declaration (`prev`) already has it.
    fn claim_role(
        &mut self,
        current: Option<usize>,
        idx: usize,
        prev: Option<String>,
        kind: &str,
        attr: &str,
        item: &ast::Item,
    ) -> Option<usize> {
        match (current, prev) {
            (Some(c), Some(prev)) => {
                self.err(
                    item.name.span,
                    format!("two {kind} are marked `{attr}` (`{prev}` and this one)"),
                );
                Some(c)
            }
            _ => Some(idx),
        }
    }

    fn members(&mut self, members: &[ast::Member], u: Scalar, bits: bool) -> Vec<Member> {
        let mut out: Vec<Member> = Vec::new();
        let mut names = HashSet::new();
        let mut values: HashMap<u64, String> = HashMap::new();
        for m in members {
            self.attrs(&m.attrs, Place::Member);
            self.check_name(&m.name, "a member");
            let v = self.int(&m.value).unwrap_or(0);
            if !names.insert(m.name.name.clone()) {
                self.err(m.name.span, format!("member `{}` is declared twice", m.name.name));
                continue;
            }
            if v > u.max_literal() {
                self.err(
                    m.value.span,
                    format!("value {v:#x} does not fit in the underlying type `{}`", u.name()),
                );
            } else if bits && !v.is_power_of_two() {
                self.err_help(
                    m.value.span,
                    format!("bits member `{}` must be a single bit, not {v:#x}", m.name.name),
                    "use a power of two such as 0x1, 0x2, 0x4",
                );
            } else if let Some(prev) = values.get(&v) {
                self.err(
                    m.value.span,
                    format!("value {v} of `{}` is already used by `{prev}`", m.name.name),
                );
            }
            values.entry(v).or_insert_with(|| m.name.name.clone());
            out.push(Member {
                name: m.name.name.clone(),
                docs: m.docs.clone(),
                value: v,
            });
        }
        out
    }

    fn roles(&mut self) {
        let any_methods = self.files.iter().flat_map(|f| &f.items).find(|i| {
            matches!(&i.kind, ItemKind::Object { methods, .. } | ItemKind::Protocol { methods } if !methods.is_empty())
        });
        let Some(first) = any_methods else { return };
        let span = first.name.span;
        match self.model.status {
            None => self.err_help(
                span,
                "methods need a status enum, but no enum is marked `@status`",
                "mark the shared error enum with `@status`",
            ),
            Some(s) => {
                let e = &self.model.enums[s];
                let missing: Vec<&str> = REQUIRED_STATUS
                    .iter()
                    .copied()
                    .filter(|r| !e.members.iter().any(|m| m.name == *r))
                    .collect();
                let zero_ok = e.members.iter().any(|m| m.name == "OK" && m.value == 0);
                let espan = self.decls.get(&e.name).map_or(span, |d| d.2);
                if !missing.is_empty() {
                    self.err_help(
                        espan,
                        format!(
                            "the `@status` enum lacks members that generated code returns: {}",
                            missing.join(", ")
                        ),
                        format!("a status enum needs {}", REQUIRED_STATUS.join(", ")),
                    );
                } else if !zero_ok {
                    self.err(espan, "the `@status` enum must have `OK = 0`");
                }
            }
        }
        if self.model.rights.is_none() {
            self.err_help(
                span,
                "methods need a rights type, but no bits is marked `@rights`",
                "mark the rights bits with `@rights`",
            );
        }
        let has_protocols = self
            .files
            .iter()
            .flat_map(|f| &f.items)
            .any(|i| matches!(i.kind, ItemKind::Protocol { .. }));
        if has_protocols {
            for (name, slot) in [("MSG_DATA_BYTES", 0), ("MSG_MAX_CAPS", 1)] {
                match self.model.consts.iter().find(|c| c.name == name) {
                    Some(c) if c.value > 0 && c.value <= MAX_BOUND => {
                        if slot == 0 {
                            self.model.msg_data_bytes = c.value as u32;
                        } else {
                            self.model.msg_max_caps = c.value as u32;
                        }
                    }
                    _ => self.err_help(
                        span,
                        format!("protocols need the message limit const `{name}` (between 1 and {MAX_BOUND})"),
                        format!("declare `const {name}: u32 = ...;` in the library that defines the IPC buffer"),
                    ),
                }
            }
        }
    }

    fn ty(&mut self, file: usize, t: &TypeRef) -> Option<Ty> {
        match t {
            TypeRef::Named(id) => {
                if let Some(s) = Scalar::from_name(&id.name) {
                    return Some(Ty::Scalar(s));
                }
                if id.name == "any" {
                    self.err(id.span, "`any` is only valid inside `cap<...>`");
                    return None;
                }
                match self.lookup(file, id)? {
                    Decl::Enum(e) => Some(Ty::Enum(e)),
                    Decl::Bits(b) => Some(Ty::Bits(b)),
                    Decl::Struct(s) => Some(Ty::Struct(s)),
                    d @ (Decl::Const | Decl::Interface(_)) => {
                        let help = if matches!(d, Decl::Interface(_)) {
                            format!("to pass a capability, write `cap<{}>`", id.name)
                        } else {
                            "a const is a value; use its type instead".to_string()
                        };
                        self.err_help(id.span, format!("`{}` is {}, not a type", id.name, d.kind()), help);
                        None
                    }
                }
            }
            TypeRef::Sized { kind, bound, .. } => {
                let n = self.int(bound)?;
                if n == 0 || n > MAX_BOUND {
                    self.err(
                        bound.span,
                        format!("bound {n} is out of range: expected 1 to {MAX_BOUND}"),
                    );
                    return None;
                }
                Some(match kind {
                    ast::SizedKind::Bytes => Ty::Bytes(n as u32),
                    ast::SizedKind::String => Ty::String(n as u32),
                })
            }
            TypeRef::Cap { object, rights, .. } => {
                let obj = if object.name == "any" {
                    None
                } else {
                    match self.lookup(file, object)? {
                        Decl::Interface(i) if self.is_object(i) => Some(i),
                        d => {
                            self.err_help(
                                object.span,
                                format!("`{}` is {}, not a kernel object", object.name, d.kind()),
                                "`cap<T>` needs an `object` declaration or `any`; protocols are served over `cap<Endpoint>`",
                            );
                            return None;
                        }
                    }
                };
                let mut mask = 0u64;
                let mut ok = true;
                for r in rights {
                    let found = self
                        .model
                        .rights_bits()
                        .and_then(|b| b.members.iter().find(|m| m.name == r.name))
                        .map(|m| m.value);
                    match found {
                        Some(v) => {
                            if mask & v != 0 {
                                self.err(r.span, format!("right `{}` is listed twice", r.name));
                            }
                            mask |= v;
                        }
                        None => {
                            ok = false;
                            let known = self.model.rights_names(u64::MAX);
                            self.err_help(
                                r.span,
                                format!("unknown right `{}`", r.name),
                                format!("rights are: {}", known.join(", ")),
                            );
                        }
                    }
                }
                ok.then_some(Ty::Cap {
                    object: obj,
                    rights: mask,
                })
            }
        }
    }

    fn is_object(&self, i: usize) -> bool {
        let mut k = 0;
        for f in self.files {
            for item in &f.items {
                if matches!(item.kind, ItemKind::Object { .. } | ItemKind::Protocol { .. }) {
                    if k == i {
                        return matches!(item.kind, ItemKind::Object { .. });
                    }
                    k += 1;
                }
            }
        }
        false
    }

    fn structs(&mut self) {
        let mut asts: Vec<(usize, &ast::Item)> = Vec::new();
        for f in self.files {
            for item in &f.items {
                if let ItemKind::Struct { .. } = item.kind {
                    asts.push((f.file, item));
                }
            }
        }
        // Resolve field types first, then lay structs out in dependency order.
        let mut resolved: Vec<Vec<Option<Ty>>> = Vec::new();
        for (file, item) in asts.iter() {
            self.attrs(&item.attrs, Place::Struct);
            let ItemKind::Struct { fields } = &item.kind else {
                continue;
            };
            let mut names = HashSet::new();
            let mut tys = Vec::new();
            if fields.is_empty() {
                self.err(item.name.span, format!("struct `{}` has no fields", item.name.name));
            }
            for fd in fields {
                self.attrs(&fd.attrs, Place::Field);
                self.check_name(&fd.name, "a field");
                if !names.insert(fd.name.name.clone()) {
                    self.err(fd.name.span, format!("field `{}` is declared twice", fd.name.name));
                }
                let t = self.ty(*file, &fd.ty);
                if let Some(Ty::Cap { .. }) = t {
                    self.err_help(
                        fd.ty.span(),
                        "a struct cannot contain a capability",
                        "capabilities travel as parameters, so the kernel can check and transfer them",
                    );
                    tys.push(None);
                    continue;
                }
                tys.push(t);
            }
            resolved.push(tys);
        }
        let n = asts.len();
        let mut state = vec![0u8; n];
        for start in 0..n {
            self.layout(start, &asts, &resolved, &mut state);
        }
    }

    /// Lays out struct `s` after the structs it contains; reports containment cycles.
    fn layout(&mut self, start: usize, asts: &[(usize, &ast::Item)], resolved: &[Vec<Option<Ty>>], state: &mut [u8]) {
        // Iterative post-order walk: struct nesting comes from input and may be deep.
        if state[start] != 0 {
            return;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (s, ref mut next)) = stack.last_mut() {
            if *next < resolved[s].len() {
                let fi = *next;
                *next += 1;
                if let Some(Ty::Struct(t)) = resolved[s][fi] {
                    if state[t] == 1 {
                        let ItemKind::Struct { fields } = &asts[s].1.kind else {
                            continue;
                        };
                        self.err_help(
                            fields[fi].ty.span(),
                            format!("struct `{}` contains itself", asts[t].1.name.name),
                            "a fixed layout cannot be recursive",
                        );
                    } else if state[t] == 0 {
                        state[t] = 1;
                        stack.push((t, 0));
                    }
                }
                continue;
            }
            state[s] = 2;
            stack.pop();
            let ItemKind::Struct { fields } = &asts[s].1.kind else {
                continue;
            };
            let mut offset = 0u32;
            let mut align = 1u32;
            let mut out = Vec::new();
            for (fd, t) in fields.iter().zip(&resolved[s]) {
                let Some(t) = *t else { continue };
                let (size, a) = self.model.size_align(t);
                offset = offset.div_ceil(a.max(1)) * a.max(1);
                align = align.max(a);
                out.push(StructField {
                    name: fd.name.name.clone(),
                    docs: fd.docs.clone(),
                    ty: t,
                    offset,
                    size,
                });
                offset = offset.saturating_add(size);
            }
            let size = offset.div_ceil(align) * align;
            let st = &mut self.model.structs[s];
            st.fields = out;
            st.size = size;
            st.align = align;
        }
    }

    fn interfaces(&mut self) {
        let mut idx = 0;
        let mut ids: HashMap<u64, String> = HashMap::new();
        for f in self.files {
            for item in &f.items {
                let (methods, id) = match &item.kind {
                    ItemKind::Object { id, methods } => {
                        self.attrs(&item.attrs, Place::Object);
                        (methods, Some(id))
                    }
                    ItemKind::Protocol { methods } => {
                        self.attrs(&item.attrs, Place::Protocol);
                        (methods, None)
                    }
                    _ => continue,
                };
                let mut object_id = None;
                if let Some(id) = id {
                    if let Some(v) = self.int(id) {
                        if v == 0 || v > MAX_OBJECT_ID {
                            self.err(
                                id.span,
                                format!("object id {v} is out of range: expected 1 to {MAX_OBJECT_ID}"),
                            );
                        } else if let Some(prev) = ids.get(&v) {
                            let prev = prev.clone();
                            self.err(id.span, format!("object id {v} is already used by `{prev}`"));
                        } else {
                            ids.insert(v, item.name.name.clone());
                        }
                        object_id = Some(v as u32);
                    }
                }
                self.model.interfaces[idx].object_id = object_id.or(id.map(|_| 0));
                let ms = self.methods(f.file, item, methods, object_id);
                self.model.interfaces[idx].methods = ms;
                idx += 1;
            }
        }
    }

    fn methods(
        &mut self,
        file: usize,
        item: &ast::Item,
        methods: &[ast::Method],
        object_id: Option<u32>,
    ) -> Vec<Method> {
        let is_object = matches!(item.kind, ItemKind::Object { .. });
        let max_ord = if is_object {
            MAX_SYSCALL_ORDINAL
        } else {
            MAX_PROTOCOL_ORDINAL
        };
        let mut ords: HashMap<u64, String> = HashMap::new();
        let mut names = HashSet::new();
        let mut out = Vec::new();
        for m in methods {
            let present = self.attrs(&m.attrs, Place::Method);
            self.check_name(&m.name, "a method");
            if !names.insert(m.name.name.clone()) {
                self.err(
                    m.name.span,
                    format!("method `{}` is declared twice in `{}`", m.name.name, item.name.name),
                );
            }
            let ord = self.int(&m.ordinal).unwrap_or(0);
            if ord == 0 || ord > max_ord {
                let what = if is_object { "a kernel object" } else { "a protocol" };
                self.err_help(
                    m.ordinal.span,
                    format!("ordinal {ord} is out of range for {what}"),
                    format!("expected 1 to {max_ord}"),
                );
            } else if let Some(prev) = ords.get(&ord) {
                self.err(m.ordinal.span, format!("ordinal {ord} is already used by `{prev}`"));
            } else {
                ords.insert(ord, m.name.name.clone());
            }
            let params = self.params(file, &m.params, "parameter");
            let results = self.params(file, &m.results, "result");
            for (r, p) in m.results.iter().zip(&results) {
                if p.moved {
                    let span = r
                        .attrs
                        .iter()
                        .find(|a| a.name.name == "move")
                        .map_or(r.name.span, |a| a.span);
                    self.err_help(
                        span,
                        "`@move` is only allowed on parameters, not results",
                        "results are always new capabilities",
                    );
                }
            }
            let mut names_all = HashSet::new();
            for p in m.params.iter().chain(&m.results) {
                if !names_all.insert(p.name.name.clone()) {
                    self.err(p.name.span, format!("parameter `{}` is declared twice", p.name.name));
                }
            }
            let noreturn = present.contains("noreturn");
            if noreturn && !m.results.is_empty() {
                self.err_help(
                    m.results[0].name.span,
                    "a `@noreturn` method cannot have results",
                    "remove the results or `@noreturn`",
                );
            }
            let error = match &m.error {
                None => self.model.status.unwrap_or(0),
                Some(e) => match self.lookup(file, e) {
                    Some(Decl::Enum(ei)) => {
                        if !self.model.enums[ei].members.iter().any(|mm| mm.value == 0) {
                            self.err_help(
                                e.span,
                                format!("error type `{}` has no member with value 0", e.name),
                                "value 0 means success on the wire",
                            );
                        }
                        ei
                    }
                    Some(d) => {
                        self.err(e.span, format!("error type `{}` is {}, not an enum", e.name, d.kind()));
                        0
                    }
                    None => 0,
                },
            };
            let mut method = Method {
                name: m.name.name.clone(),
                docs: m.docs.clone(),
                ordinal: ord as u32,
                params,
                results,
                error,
                blocking: present.contains("blocking"),
                noreturn,
                syscall: None,
                request: MsgLayout::default(),
                response: MsgLayout::default(),
            };
            if is_object {
                method.syscall = object_id.map(|id| id as u64 * SYSCALL_STRIDE + ord);
                self.syscall_abi(m, &method);
            } else {
                method.request = self.message(&method.params);
                method.response = self.message(&method.results);
                self.message_fits(m, &method);
            }
            out.push(method);
        }
        out
    }

    fn params(&mut self, file: usize, ps: &[ast::Field], what: &str) -> Vec<Param> {
        let mut out = Vec::new();
        for p in ps {
            let present = self.attrs(&p.attrs, Place::Param);
            self.check_name(&p.name, &format!("a {what}"));
            let Some(ty) = self.ty(file, &p.ty) else {
                continue;
            };
            let moved = present.contains("move");
            if moved && !matches!(ty, Ty::Cap { .. }) {
                let span = p
                    .attrs
                    .iter()
                    .find(|a| a.name.name == "move")
                    .map_or(p.name.span, |a| a.span);
                self.err_help(
                    span,
                    format!("`@move` needs a capability, but `{}` is not one", p.name.name),
                    "only `cap<...>` values can be moved",
                );
            }
            out.push(Param {
                name: p.name.name.clone(),
                docs: p.docs.clone(),
                ty,
                moved,
            });
        }
        out
    }

    fn syscall_abi(&mut self, m: &ast::Method, method: &Method) {
        let used: usize = method.params.iter().map(|p| syscall_regs(p.ty)).sum();
        if used > SYSCALL_REGS {
            self.err_help(
                m.name.span,
                format!(
                    "syscall `{}` needs {used} argument registers, but the ABI has {SYSCALL_REGS}",
                    m.name.name
                ),
                "bytes and strings take two registers (pointer and length); pass a struct by pointer instead",
            );
        }
        for (r, p) in m.results.iter().zip(&method.results) {
            if matches!(p.ty, Ty::Bytes(_) | Ty::String(_) | Ty::Struct(_)) {
                self.err_help(
                    r.ty.span(),
                    format!("syscall result `{}` cannot be `{}`", p.name, self.model.type_name(p.ty)),
                    "syscall results travel in registers: use scalars, enums, bits or capabilities",
                );
            }
        }
        if method.results.len() > SYSCALL_REGS {
            self.err(
                m.name.span,
                format!(
                    "syscall `{}` has {} results, but the ABI returns at most {SYSCALL_REGS}",
                    m.name.name,
                    method.results.len()
                ),
            );
        }
    }

    /// Lays out a message: data parameters at their natural alignment, capabilities apart.
    fn message(&self, ps: &[Param]) -> MsgLayout {
        let mut l = MsgLayout {
            align: 1,
            ..Default::default()
        };
        let mut offset = 0u32;
        for (i, p) in ps.iter().enumerate() {
            match p.ty {
                Ty::Cap { .. } => l.caps.push(i),
                Ty::Bytes(n) | Ty::String(n) => {
                    let len_off = offset.div_ceil(4) * 4;
                    l.align = l.align.max(4);
                    l.fields.push(MsgField {
                        param: i,
                        offset: len_off + 4,
                        size: n,
                        len_offset: Some(len_off),
                    });
                    offset = len_off.saturating_add(4).saturating_add(n);
                }
                t => {
                    let (size, a) = self.model.size_align(t);
                    let off = offset.div_ceil(a) * a;
                    l.align = l.align.max(a);
                    l.fields.push(MsgField {
                        param: i,
                        offset: off,
                        size,
                        len_offset: None,
                    });
                    offset = off.saturating_add(size);
                }
            }
        }
        l.size = offset.div_ceil(l.align) * l.align;
        l
    }

    fn message_fits(&mut self, m: &ast::Method, method: &Method) {
        for (what, l) in [("request", &method.request), ("response", &method.response)] {
            if l.size > self.model.msg_data_bytes && self.model.msg_data_bytes > 0 {
                self.err_help(
                    m.name.span,
                    format!(
                        "the {what} of `{}` is {} bytes, more than a message carries ({} bytes)",
                        m.name.name, l.size, self.model.msg_data_bytes
                    ),
                    "shrink the bounds or pass a VMO capability for bulk data",
                );
            }
            if l.caps.len() as u32 > self.model.msg_max_caps && self.model.msg_data_bytes > 0 {
                self.err(
                    m.name.span,
                    format!(
                        "the {what} of `{}` carries {} capabilities, more than a message carries ({})",
                        m.name.name,
                        l.caps.len(),
                        self.model.msg_max_caps
                    ),
                );
            }
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
