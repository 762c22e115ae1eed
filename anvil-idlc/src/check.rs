//! Checking: resolves names and imports, validates numbers, attributes and ABI limits,
//! computes layouts, and produces the one checked model every backend reads.

use crate::fxhash::{FxMap as HashMap, FxSet as HashSet};

use crate::ast::{self, AttrArg, ItemKind, TypeRef};
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::model::*;

/// Rust keywords (strict, reserved and edition-2024 reserved): no IDL name may be one, since
/// every name becomes a Rust identifier somewhere.
const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// C11, C23 and C++17 keywords, alternative operator spellings, and the library names the
/// generated headers use (`<stdbool.h>`, `<stddef.h>`, `<stdint.h>`): fields and parameters
/// become bare identifiers in C and C++, while declarations and methods always get a prefix.
const C_RESERVED: &[&str] = &[
    // C
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    // C23
    "alignas",
    "alignof",
    "bool",
    "constexpr",
    "false",
    "nullptr",
    "static_assert",
    "thread_local",
    "true",
    "typeof",
    "typeof_unqual",
    // C++
    "asm",
    "catch",
    "char8_t",
    "char16_t",
    "char32_t",
    "class",
    "concept",
    "consteval",
    "constinit",
    "const_cast",
    "co_await",
    "co_return",
    "co_yield",
    "decltype",
    "delete",
    "dynamic_cast",
    "explicit",
    "export",
    "friend",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "operator",
    "private",
    "protected",
    "public",
    "reinterpret_cast",
    "requires",
    "static_cast",
    "template",
    "this",
    "throw",
    "try",
    "typeid",
    "typename",
    "using",
    "virtual",
    "wchar_t",
    "and",
    "and_eq",
    "bitand",
    "bitor",
    "compl",
    "not",
    "not_eq",
    "or",
    "or_eq",
    "xor",
    "xor_eq",
    // names from the standard headers the generated headers include
    "errno",
    "offsetof",
    "size_t",
    "ptrdiff_t",
    "max_align_t",
    "int8_t",
    "int16_t",
    "int32_t",
    "int64_t",
    "uint8_t",
    "uint16_t",
    "uint32_t",
    "uint64_t",
    "intptr_t",
    "uintptr_t",
    "intmax_t",
    "uintmax_t",
    "noreturn",
    "assert",
    "main",
];

/// Library name components that would collide with modules and headers the backends always
/// generate (`anvil/abi.h`, `mod abi`, `mod syscalls`) or with the crates generated Rust names.
const RESERVED_LIBRARIES: &[&str] = &["abi", "syscalls", "core", "std", "alloc"];

/// `RUST_KEYWORDS` and `C_RESERVED` as sets: every name of a large input is looked up in them.
fn reserved_sets() -> &'static (HashSet<&'static str>, HashSet<&'static str>) {
    static SETS: std::sync::OnceLock<(HashSet<&'static str>, HashSet<&'static str>)> = std::sync::OnceLock::new();
    SETS.get_or_init(|| {
        (
            RUST_KEYWORDS.iter().copied().collect(),
            C_RESERVED.iter().copied().collect(),
        )
    })
}

/// What a name names, for its naming rule and for messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NameKind {
    Library,
    Decl,
    Const,
    Member,
    Method,
    Field,
    Param,
    Result,
}

impl NameKind {
    fn describe(self) -> &'static str {
        match self {
            NameKind::Library => "a library name component",
            NameKind::Decl => "a declaration name",
            NameKind::Const => "a const name",
            NameKind::Member => "a member name",
            NameKind::Method => "a method name",
            NameKind::Field => "a field name",
            NameKind::Param => "a parameter name",
            NameKind::Result => "a result name",
        }
    }

    /// Names that are bare identifiers in C and C++ (no `anvil_` prefix).
    fn bare_in_c(self) -> bool {
        matches!(self, NameKind::Field | NameKind::Param | NameKind::Result)
    }
}

fn is_snake(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_upper_snake(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_uppercase())
        && n.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_camel(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_uppercase()) && n.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The name a convention-breaking name should have, for the help line.
fn suggest(kind: NameKind, n: &str) -> String {
    let words = snake(n.trim_matches('_')).replace("__", "_");
    match kind {
        NameKind::Decl => camel(&words),
        NameKind::Const | NameKind::Member => words.to_ascii_uppercase(),
        _ => words.to_ascii_lowercase(),
    }
}

const MAX_BOUND: u64 = 1 << 20;
/// The largest struct: big enough for any fixed record, small enough that no layout
/// computation overflows and no compiler struggles with the generated types.
pub const MAX_STRUCT_BYTES: u64 = 16 << 20;
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
    ("fastpath", &[Place::Method]),
    ("move", &[Place::Param]),
    ("endpoint", &[Place::Object]),
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
    /// The files in the order declarations are taken: a library after the libraries it
    /// imports, so that a name declared twice is reported in the file that redeclares it.
    order: Vec<usize>,
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
        endpoint: None,
        msg_data_bytes: 0,
        msg_max_caps: 0,
    };
    let mut c = Checker {
        files,
        diags: Vec::new(),
        model,
        decls: HashMap::default(),
        visible: Vec::new(),
        file_lib: Vec::new(),
        order: Vec::new(),
    };
    c.libraries();
    c.declare();
    c.scalars_and_enums();
    c.roles();
    c.structs();
    c.interfaces();
    if c.diags.is_empty() {
        c.diags = crate::hygiene::check(&c.model);
    }
    if c.diags.is_empty() {
        Ok(c.model)
    } else {
        c.diags.sort_by_key(|d| (d.span.file, d.span.start));
        Err((c.model.files, c.diags))
    }
}

impl<'a> Checker<'a> {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg));
    }

    fn err_help(&mut self, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg).help(help));
    }

    fn libraries(&mut self) {
        let mut by_name: HashMap<String, usize> = HashMap::default();
        let nsrc = self.model.files.len();
        self.file_lib = vec![0; nsrc];
        self.visible = vec![HashSet::default(); nsrc];
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
            self.library_name(&f.library);
            by_name.insert(f.library.name.clone(), self.model.libraries.len());
            self.file_lib[f.file] = self.model.libraries.len();
            self.model.libraries.push(Library {
                name: f.library.name.clone(),
                span: f.library.span,
                short,
                file: f.file,
                docs: f.docs.clone(),
                imports: Vec::new(),
            });
        }
        for f in self.files {
            let lib = self.file_lib[f.file];
            let mut seen = HashSet::default();
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
        self.order = self.dependency_order();
        for f in self.files {
            let lib = self.file_lib[f.file];
            let mut v: HashSet<usize> = self.model.libraries[lib].imports.iter().copied().collect();
            v.insert(lib);
            self.visible[f.file] = v;
        }
    }

    /// Checks each component of a library name: a Rust module name (the last one names the
    /// outputs), so snake_case, no keyword, and not a module or header the backends always make.
    fn library_name(&mut self, lib: &ast::Ident) {
        let mut at = lib.span.start;
        for part in lib.name.split('.') {
            let id = ast::Ident {
                name: part.to_string(),
                span: Span {
                    file: lib.span.file,
                    start: at,
                    end: at + part.len(),
                },
            };
            at += part.len() + 1;
            if self.check_name(&id, NameKind::Library) && RESERVED_LIBRARIES.contains(&part) {
                self.err_help(
                    id.span,
                    format!("`{part}` cannot be used as a library name component"),
                    "the backends always generate a module or header of that name (`anvil/abi.h`, `mod abi`, `mod syscalls`) or use the crate (`core`, `std`, `alloc`)",
                );
            }
        }
    }

    /// Files in dependency order: every library after those it imports (cycles are already
    /// broken), ties in file order.
    fn dependency_order(&self) -> Vec<usize> {
        let n = self.model.libraries.len();
        let mut done = vec![false; n];
        let mut libs = Vec::new();
        for start in 0..n {
            // Iterative post-order, so a long import chain cannot overflow the stack.
            let mut stack = vec![(start, 0usize)];
            while let Some(&mut (l, ref mut next)) = stack.last_mut() {
                if done[l] {
                    stack.pop();
                    continue;
                }
                let imports = &self.model.libraries[l].imports;
                if *next < imports.len() {
                    let to = imports[*next];
                    *next += 1;
                    if !done[to] && !stack.iter().any(|(s, _)| *s == to) {
                        stack.push((to, 0));
                    }
                } else {
                    done[l] = true;
                    libs.push(l);
                    stack.pop();
                }
            }
        }
        let mut order = Vec::new();
        for l in libs {
            for (i, f) in self.files.iter().enumerate() {
                if self.file_lib.get(f.file) == Some(&l) {
                    order.push(i);
                }
            }
        }
        order
    }

    /// The parsed files in declaration order (see `order`).
    fn ordered(&self) -> Vec<&'a ast::File> {
        let files: &'a [ast::File] = self.files;
        self.order.iter().map(|&i| &files[i]).collect()
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

    /// Checks a name against what the backends make of it: reserved identifier patterns,
    /// Rust keywords, C and C++ keywords for names that are bare in C, and the naming
    /// convention of its kind (which keeps generated names of different kinds apart and
    /// generated Rust free of lints). Reports the first problem only.
    fn check_name(&mut self, id: &ast::Ident, kind: NameKind) -> bool {
        let n = id.name.as_str();
        if n.is_empty() {
            return true;
        }
        let what = kind.describe();
        let problem: Option<(String, String)> = if n.starts_with('_') {
            Some((
                format!("`{n}` cannot be used as {what}: names starting with `_` are reserved"),
                "C and C++ reserve them (`_Bool`, `__x`); choose a name that starts with a letter".into(),
            ))
        } else if n.ends_with('_') || n.contains("__") {
            Some((
                format!("`{n}` cannot be used as {what}: names ending in `_` or containing `__` are reserved"),
                "the generated code names its own helpers and locals that way, so they never clash with IDL names"
                    .into(),
            ))
        } else if reserved_sets().0.contains(n) {
            Some((
                format!("`{n}` cannot be used as {what}: it is a Rust keyword"),
                "choose another name".into(),
            ))
        } else if kind.bare_in_c() && reserved_sets().1.contains(n) {
            Some((
                format!("`{n}` cannot be used as {what}: it is reserved in C or C++"),
                "it is a keyword or a name from the standard headers the generated C includes; choose another name"
                    .into(),
            ))
        } else if kind.bare_in_c() && n.to_ascii_lowercase().starts_with("anvil_") {
            Some((
                format!("`{n}` cannot be used as {what}: the `anvil_` prefix is reserved"),
                "every name the generated C declares starts with `anvil_`; choose another name".into(),
            ))
        } else {
            let (ok, rule) = match kind {
                NameKind::Decl => (is_camel(n), "UpperCamelCase"),
                NameKind::Const | NameKind::Member => (is_upper_snake(n), "UPPER_SNAKE_CASE"),
                _ => (is_snake(n), "snake_case"),
            };
            (!ok).then(|| {
                (
                    format!("`{n}` is not {rule}, as {what} must be"),
                    format!(
                        "rename it `{}`: the generated C and Rust derive names from it by case, so the convention keeps them apart",
                        suggest(kind, n)
                    ),
                )
            })
        };
        match problem {
            Some((msg, help)) => {
                self.err_help(id.span, msg, help);
                false
            }
            None => true,
        }
    }

    fn declare(&mut self) {
        for f in self.ordered() {
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
                        span: item.name.span,
                        docs,
                        ty: Scalar::U64,
                        value: 0,
                    }),
                    ItemKind::Enum { .. } => self.model.enums.push(Enum {
                        lib,
                        name: name.clone(),
                        span: item.name.span,
                        docs,
                        underlying: Scalar::U32,
                        members: Vec::new(),
                    }),
                    ItemKind::Bits { .. } => self.model.bits.push(Enum {
                        lib,
                        name: name.clone(),
                        span: item.name.span,
                        docs,
                        underlying: Scalar::U32,
                        members: Vec::new(),
                    }),
                    ItemKind::Struct { .. } => self.model.structs.push(Struct {
                        lib,
                        name: name.clone(),
                        span: item.name.span,
                        docs,
                        fields: Vec::new(),
                        size: 0,
                        align: 1,
                    }),
                    ItemKind::Object { .. } | ItemKind::Protocol { .. } => {
                        let is_object = matches!(item.kind, ItemKind::Object { .. });
                        let qualified = format!("{}.{name}", f.library.name);
                        if is_object && item.attrs.iter().any(|a| a.name.name == "endpoint") {
                            let idx = self.model.interfaces.len();
                            match self.model.endpoint {
                                Some(prev) => {
                                    let prev = self.model.interfaces[prev].name.clone();
                                    self.err(
                                        item.name.span,
                                        format!("two objects are marked `@endpoint` (`{prev}` and this one)"),
                                    );
                                }
                                None => self.model.endpoint = Some(idx),
                            }
                        }
                        self.model.interfaces.push(Interface {
                            lib,
                            name: name.clone(),
                            span: item.name.span,
                            docs,
                            // Objects get their id in `interfaces`; `Some` marks them as objects
                            // for the type resolution that runs before.
                            object_id: is_object.then_some(0),
                            protocol_id: if is_object { 0 } else { protocol_id(&qualified) },
                            methods: Vec::new(),
                        })
                    }
                }
                let kind = if matches!(item.kind, ItemKind::Const { .. }) {
                    NameKind::Const
                } else {
                    NameKind::Decl
                };
                self.check_name(&item.name, kind);
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
        let mut present = HashSet::default();
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
        for f in self.ordered() {
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
        let mut names = HashSet::default();
        let mut values: HashMap<u64, String> = HashMap::default();
        for m in members {
            self.attrs(&m.attrs, Place::Member);
            self.check_name(&m.name, NameKind::Member);
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
                span: m.name.span,
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
                let mut protocol = None;
                let obj = if object.name == "any" {
                    None
                } else {
                    match self.lookup(file, object)? {
                        Decl::Interface(i) if self.is_object(i) => Some(i),
                        Decl::Interface(i) => match self.model.endpoint {
                            // `cap<Console>`: an endpoint capability whose server speaks Console.
                            Some(ep) => {
                                protocol = Some(i);
                                Some(ep)
                            }
                            None => {
                                self.err_help(
                                    object.span,
                                    format!(
                                        "`cap<{}>` names a protocol, but no object is marked `@endpoint`",
                                        object.name
                                    ),
                                    "mark the kernel object that protocols are served over with `@endpoint`",
                                );
                                return None;
                            }
                        },
                        d => {
                            self.err_help(
                                object.span,
                                format!("`{}` is {}, not a kernel object or a protocol", object.name, d.kind()),
                                "`cap<T>` needs an `object` or a `protocol` declaration, or `any`",
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
                    protocol,
                })
            }
        }
    }

    fn is_object(&self, i: usize) -> bool {
        self.model.interfaces[i].object_id.is_some()
    }

    fn structs(&mut self) {
        let mut asts: Vec<(usize, &ast::Item)> = Vec::new();
        for f in self.ordered() {
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
            let mut names = HashSet::default();
            let mut tys = Vec::new();
            if fields.is_empty() {
                self.err(item.name.span, format!("struct `{}` has no fields", item.name.name));
            }
            for fd in fields {
                self.attrs(&fd.attrs, Place::Field);
                self.check_name(&fd.name, NameKind::Field);
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
            // Computed in 64 bits and bounded: no layout wraps or saturates.
            let mut offset = 0u64;
            let mut align = 1u64;
            let mut out = Vec::new();
            for (fd, t) in fields.iter().zip(&resolved[s]) {
                let Some(t) = *t else { continue };
                let (size, a) = self.model.size_align(t);
                let (size, a) = (u64::from(size), u64::from(a.max(1)));
                offset = offset.div_ceil(a) * a;
                align = align.max(a);
                out.push(StructField {
                    name: fd.name.name.clone(),
                    span: fd.name.span,
                    docs: fd.docs.clone(),
                    ty: t,
                    offset: offset.min(u64::from(u32::MAX)) as u32,
                    size: size as u32,
                });
                offset += size;
            }
            let mut size = offset.div_ceil(align) * align;
            if size > MAX_STRUCT_BYTES {
                self.err_help(
                    asts[s].1.name.span,
                    format!(
                        "struct `{}` is {size} bytes, more than the limit of {MAX_STRUCT_BYTES}",
                        asts[s].1.name.name
                    ),
                    "pass bulk data in a VMO",
                );
                // Keeps the structs that contain it from reporting too, and every later sum small.
                size = 1;
                out.clear();
            }
            let st = &mut self.model.structs[s];
            st.fields = out;
            st.size = size as u32;
            st.align = align as u32;
        }
    }

    fn interfaces(&mut self) {
        let mut idx = 0;
        let mut ids: HashMap<u64, String> = HashMap::default();
        let mut protocol_ids: HashMap<u32, String> = HashMap::default();
        for f in self.ordered() {
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
                if id.is_none() {
                    let pid = self.model.interfaces[idx].protocol_id;
                    if let Some(prev) = protocol_ids.get(&pid) {
                        let prev = prev.clone();
                        self.err_help(
                            item.name.span,
                            format!(
                                "protocol `{}` has the same id ({pid:#010x}) as `{prev}`",
                                item.name.name
                            ),
                            "a protocol's id is a hash of its qualified name; rename one of them",
                        );
                    } else {
                        protocol_ids.insert(pid, item.name.name.clone());
                    }
                }
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
        let mut ords: HashMap<u64, String> = HashMap::default();
        let mut names = HashSet::default();
        let mut out = Vec::new();
        for m in methods {
            let present = self.attrs(&m.attrs, Place::Method);
            self.check_name(&m.name, NameKind::Method);
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
            let mut names_all = HashSet::default();
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
                Some(e) if is_object => {
                    self.err_help(
                        e.span,
                        format!("syscall `{}` cannot declare an error type", m.name.name),
                        "the kernel answers every syscall with the `@status` enum; `error` is for protocol methods",
                    );
                    self.model.status.unwrap_or(0)
                }
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
                span: m.name.span,
                docs: m.docs.clone(),
                ordinal: ord as u32,
                params,
                results,
                error,
                blocking: present.contains("blocking"),
                noreturn,
                fastpath: present.contains("fastpath"),
                syscall: None,
                request: MsgLayout::default(),
                response: MsgLayout::default(),
            };
            if method.fastpath {
                let fit = method
                    .params
                    .iter()
                    .chain(&method.results)
                    .all(|p| matches!(p.ty, Ty::Cap { .. } | Ty::Scalar(_) | Ty::Enum(_) | Ty::Bits(_)));
                if !is_object || !fit {
                    self.err_help(
                        m.name.span,
                        format!("`@fastpath` on `{}`, which is not a syscall of scalars and capabilities", m.name.name),
                        "the fast path is tried before the general one with the same arguments: it is for syscalls whose arguments are all in registers",
                    );
                }
            }
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
            self.check_name(
                &p.name,
                if what == "result" {
                    NameKind::Result
                } else {
                    NameKind::Param
                },
            );
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
                span: p.name.span,
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
        // 64-bit arithmetic: a message over the limit is reported by `message_fits`, and no
        // offset wraps before that.
        let clamp = |v: u64| v.min(u64::from(u32::MAX)) as u32;
        let mut offset = 0u64;
        for (i, p) in ps.iter().enumerate() {
            match p.ty {
                Ty::Cap { .. } => l.caps.push(i),
                Ty::Bytes(n) | Ty::String(n) => {
                    let len_off = offset.div_ceil(4) * 4;
                    l.align = l.align.max(4);
                    l.fields.push(MsgField {
                        param: i,
                        offset: clamp(len_off + 4),
                        size: n,
                        len_offset: Some(clamp(len_off)),
                    });
                    offset = len_off + 4 + u64::from(n);
                }
                t => {
                    let (size, a) = self.model.size_align(t);
                    let a = u64::from(a.max(1));
                    let off = offset.div_ceil(a) * a;
                    l.align = l.align.max(a as u32);
                    l.fields.push(MsgField {
                        param: i,
                        offset: clamp(off),
                        size,
                        len_offset: None,
                    });
                    offset = off + u64::from(size);
                }
            }
        }
        l.size = clamp(offset.div_ceil(u64::from(l.align)) * u64::from(l.align));
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
