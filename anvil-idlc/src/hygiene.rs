//! Name hygiene: every name a backend derives from the IDL is registered in the scope it lands
//! in (C's one global namespace, each Rust module, each impl block, each function, the output
//! files), and two declarations that would give the same name are reported at the later one.
//! Runs on a checked model, after every other check, so that what it accepts compiles.

use crate::fxhash::{FxMap as HashMap, FxSet as HashSet};

use crate::backend::names::*;
use crate::diag::{line_col, Diagnostic, Span};
use crate::model::*;

/// Who makes a name: described only when a clash is reported, so that registering the names
/// of a large input allocates nothing but the names.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Library(&'a str),
    Const(&'a str),
    /// A kind (`enum`, `bits`, `struct`, `object`, `protocol`) and a name.
    Decl(&'static str, &'a str),
    Member(&'a str, &'a str),
    Method(&'a str, &'a str),
    Param(&'a str),
    /// A name the generated code adds for a `bytes`/`string` parameter or result.
    Derived(&'a str),
}

impl std::fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Library(n) => write!(f, "library `{n}`"),
            Owner::Const(n) => write!(f, "const `{n}`"),
            Owner::Decl(k, n) => write!(f, "{k} `{n}`"),
            Owner::Member(e, m) => write!(f, "member `{e}.{m}`"),
            Owner::Method(i, m) => write!(f, "method `{i}.{m}`"),
            Owner::Param(p) => write!(f, "`{p}`"),
            Owner::Derived(p) => write!(f, "the length or capacity the generated code adds for `{p}`"),
        }
    }
}

/// One scope: the names in it and who made each one. Names are collected, then registered in
/// source order, so that a clash is reported at the declaration that comes later.
struct Scope<'a> {
    what: &'static str,
    fixed: HashMap<&'static str, &'static str>,
    entries: Vec<(String, Owner<'a>, Span)>,
    model: &'a Model,
}

impl<'a> Scope<'a> {
    fn new(what: &'static str, model: &'a Model) -> Self {
        Scope {
            what,
            fixed: HashMap::default(),
            entries: Vec::new(),
            model,
        }
    }

    fn fixed(&mut self, names: &[&'static str], owner: &'static str) {
        for n in names {
            self.fixed.insert(n, owner);
        }
    }

    /// Records that `owner`, declared at `span`, makes `name` in this scope.
    fn add(&mut self, name: String, owner: Owner<'a>, span: Span) {
        self.entries.push((name, owner, span));
    }

    /// Reports every clash, once per pair of declarations (`reported` spans all scopes).
    fn finish(mut self, d: &mut Vec<Diagnostic>, reported: &mut HashSet<(Span, String)>) {
        self.entries.sort_by_key(|(_, _, s)| (s.file, s.start));
        let mut seen: HashMap<&str, usize> = HashMap::default();
        seen.reserve(self.entries.len());
        for (i, (name, owner, span)) in self.entries.iter().enumerate() {
            let prev = match (self.fixed.get(name.as_str()), seen.get(name.as_str())) {
                (Some(f), _) => f.to_string(),
                (None, Some(&j)) => {
                    let (_, o, s) = &self.entries[j];
                    let (l, _) = line_col(&self.model.files[s.file].text, s.start);
                    format!("{o} (at {}:{l})", self.model.files[s.file].name)
                }
                (None, None) => {
                    seen.insert(name, i);
                    continue;
                }
            };
            if !reported.insert((*span, prev.clone())) {
                continue;
            }
            let owner = owner.to_string();
            let msg = if prev.starts_with(&owner) {
                format!("{owner} makes `{name}` twice in {}", self.what)
            } else {
                format!("{owner} makes `{name}` in {}, which {prev} makes too", self.what)
            };
            d.push(Diagnostic::new(*span, msg).help("rename one of them"));
        }
    }
}

pub fn check(m: &Model) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    let mut reported = HashSet::default();
    outputs(m, &mut d, &mut reported);
    c_names(m, &mut d, &mut reported);
    rust_names(m, &mut d, &mut reported);
    local_names(m, &mut d, &mut reported);
    d.sort_by_key(|x| (x.span.file, x.span.start));
    d
}

type Reported = HashSet<(Span, String)>;

/// Output files: every library's header, module and page are named by the last component.
fn outputs(m: &Model, d: &mut Vec<Diagnostic>, r: &mut Reported) {
    let mut s = Scope::new("the outputs (`anvil/<name>.h`, Rust module, reference page)", m);
    for lib in &m.libraries {
        s.add(lib.short.clone(), Owner::Library(&lib.name), lib.span);
    }
    s.finish(d, r);
}

/// C: one namespace for macros, typedefs, tags and functions across every header.
fn c_names(m: &Model, d: &mut Vec<Diagnostic>, r: &mut Reported) {
    let mut s = Scope::new("C", m);
    s.fixed(C_ABI_NAMES, "`anvil/abi.h`");
    for lib in &m.libraries {
        s.add(c_guard(&lib.short), Owner::Library(&lib.name), lib.span);
    }
    for c in &m.consts {
        s.add(c_const(&c.name), Owner::Const(&c.name), c.span);
    }
    for (kind, list) in [("enum", &m.enums), ("bits", &m.bits)] {
        for e in list {
            let owner = Owner::Decl(kind, &e.name);
            s.add(c_type(&e.name), owner, e.span);
            for mm in &e.members {
                s.add(c_member(&e.name, &mm.name), Owner::Member(&e.name, &mm.name), mm.span);
            }
        }
    }
    for st in &m.structs {
        let owner = Owner::Decl("struct", &st.name);
        let t = c_type(&st.name);
        s.add(c_tag(&t), owner, st.span);
        s.add(t, owner, st.span);
    }
    for i in &m.interfaces {
        if i.object_id.is_some() {
            s.add(c_object_id(&i.name), Owner::Decl("object", &i.name), i.span);
            for me in &i.methods {
                let o = Owner::Method(&i.name, &me.name);
                s.add(c_syscall(i, me), o, me.span);
                s.add(c_fn(i, me), o, me.span);
            }
            continue;
        }
        let owner = Owner::Decl("protocol", &i.name);
        s.add(format!("{}_PROTOCOL_ID", c_proto_macro(i)), owner, i.span);
        for me in &i.methods {
            let o = Owner::Method(&i.name, &me.name);
            for what in ["ORDINAL", "LABEL", "REQUEST_SIZE", "RESPONSE_SIZE"] {
                s.add(c_method_macro(i, me, what), o, me.span);
            }
            for dir in ["request", "response"] {
                let t = c_msg_type(i, me, dir);
                s.add(c_tag(&t), o, me.span);
                s.add(t, o, me.span);
            }
            s.add(c_fn(i, me), o, me.span);
        }
        let ops = c_ops(i);
        s.add(c_tag(&ops), owner, i.span);
        s.add(ops, owner, i.span);
        s.add(c_dispatch(i), owner, i.span);
        s.add(c_ep_type(i), owner, i.span);
        s.add(c_ep_ctor(i), owner, i.span);
    }
    s.finish(d, r);
}

/// Rust: each library module, the impl blocks of handles and bits, the kernel's trait.
fn rust_names(m: &Model, d: &mut Vec<Diagnostic>, r: &mut Reported) {
    let mut kernel = Scope::new("the kernel's `Kernel` trait", m);
    kernel.fixed(KERNEL_TRAIT_NAMES, "the `Kernel` trait");
    for li in 0..m.libraries.len() {
        let mut s = Scope::new("the Rust module of its library", m);
        for c in m.consts.iter().filter(|c| c.lib == li) {
            s.add(c.name.clone(), Owner::Const(&c.name), c.span);
        }
        for (kind, list) in [("enum", &m.enums), ("bits", &m.bits)] {
            for e in list.iter().filter(|e| e.lib == li) {
                s.add(e.name.clone(), Owner::Decl(kind, &e.name), e.span);
                if kind == "bits" {
                    let mut imp = Scope::new("its Rust impl block", m);
                    imp.fixed(RS_BITS_NAMES, "the generated bits API");
                    for mm in &e.members {
                        imp.add(mm.name.clone(), Owner::Member(&e.name, &mm.name), mm.span);
                    }
                    imp.finish(d, r);
                }
            }
        }
        for st in m.structs.iter().filter(|s| s.lib == li) {
            s.add(st.name.clone(), Owner::Decl("struct", &st.name), st.span);
        }
        for i in m.interfaces.iter().filter(|i| i.lib == li) {
            let mut imp = Scope::new("its Rust handle's impl block", m);
            imp.fixed(RS_HANDLE_NAMES, "every generated handle");
            for me in &i.methods {
                imp.add(me.name.clone(), Owner::Method(&i.name, &me.name), me.span);
            }
            imp.finish(d, r);
            if i.object_id.is_some() {
                let owner = Owner::Decl("object", &i.name);
                s.add(i.name.clone(), owner, i.span);
                s.add(rs_object_id(i), owner, i.span);
                for me in &i.methods {
                    let o = Owner::Method(&i.name, &me.name);
                    s.add(rs_syscall(i, me), o, me.span);
                    kernel.add(fn_name(i, me), o, me.span);
                }
                continue;
            }
            let owner = Owner::Decl("protocol", &i.name);
            s.add(i.name.clone(), owner, i.span);
            s.add(rs_protocol_id(i), owner, i.span);
            s.add(rs_server(i), owner, i.span);
            s.add(rs_dispatch(i), owner, i.span);
            for me in &i.methods {
                let o = Owner::Method(&i.name, &me.name);
                for what in ["ORDINAL", "LABEL", "REQUEST_SIZE", "RESPONSE_SIZE"] {
                    s.add(rs_method_const(i, me, what), o, me.span);
                }
                for suffix in ["Request", "Response"] {
                    s.add(rs_msg_type(i, me, suffix), o, me.span);
                }
                s.add(rs_client_fn(i, me), o, me.span);
            }
        }
        s.finish(d, r);
    }
    kernel.finish(d, r);
}

/// Inside one method: parameters, results and the names derived from them (`x_len`, `x_cap`)
/// are the fields of its message structs and the parameters of its C functions.
fn local_names(m: &Model, d: &mut Vec<Diagnostic>, r: &mut Reported) {
    for i in &m.interfaces {
        for me in &i.methods {
            let mut s = Scope::new("its method's parameters and message fields", m);
            for (name, p) in method_scope(me) {
                let owner = if name == p.name {
                    Owner::Param(&p.name)
                } else {
                    Owner::Derived(&p.name)
                };
                s.add(name, owner, p.span);
            }
            s.finish(d, r);
        }
    }
}
