//! Rust code shared by the kernel and the user backends: the types of every library (consts,
//! enums, bits, structs) with their layout assertions and validity checks, written as text.

use super::writer::{rs_str, W};
use crate::model::*;
use crate::{w, wc, wo};

/// The Rust name of a scalar type.
pub fn scalar(s: Scalar) -> &'static str {
    s.name()
}

/// The path of a declared type as seen from a sibling module.
pub fn path(m: &Model, lib: usize, name: &str) -> String {
    format!("super::{}::{name}", m.libraries[lib].short)
}

/// A literal of scalar type `s`.
pub fn int_lit(s: Scalar, v: u64) -> String {
    match s {
        Scalar::Bool => (if v != 0 { "true" } else { "false" }).into(),
        _ if v >= 0x10000 => format!("{v:#x}"),
        _ => v.to_string(),
    }
}

/// The Rust type of a value stored inline in a struct or message. `bool` is `u8` there,
/// so that every bit pattern read from another address space is a valid value.
pub fn inline_ty(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Scalar(Scalar::Bool) => "u8".into(),
        Ty::Scalar(s) => scalar(s).into(),
        Ty::Enum(e) => path(m, m.enums[e].lib, &m.enums[e].name),
        Ty::Bits(b) => path(m, m.bits[b].lib, &m.bits[b].name),
        Ty::Struct(s) => path(m, m.structs[s].lib, &m.structs[s].name),
        Ty::Bytes(n) | Ty::String(n) => format!("[u8; {n}]"),
        Ty::Cap { .. } => "u64".into(),
    }
}

/// An expression of the all-zero value of an inline type.
pub fn zero(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Scalar(_) | Ty::Cap { .. } => "0".into(),
        Ty::Bytes(n) | Ty::String(n) => format!("[0; {n}]"),
        Ty::Struct(_) => format!("{}::zeroed()", inline_ty(m, ty)),
        t => format!("{}(0)", inline_ty(m, t)),
    }
}

/// The check that an inline value read from another program is valid, as a Rust boolean
/// expression over `v` (an expression of the inline type), or `None` if every value is.
pub fn valid_expr(ty: Ty, v: &str) -> Option<String> {
    match ty {
        Ty::Scalar(Scalar::Bool) => Some(format!("{v} <= 1")),
        Ty::Enum(_) => Some(format!("{v}.is_known()")),
        Ty::Bits(_) => Some(format!("{v}.is_valid()")),
        Ty::Struct(_) => Some(format!("{v}.is_valid()")),
        Ty::String(_) => Some(format!("super::abi::str_is_valid(&{v})")),
        _ => None,
    }
}

/// One field of a `#[repr(C)]` struct: name, docs, type, offset, and for message fields of
/// `bytes`/`string` the offset of the `u32` length word before it.
pub struct FieldSpec<'a> {
    pub name: &'a str,
    pub docs: &'a [String],
    pub ty: Ty,
    pub offset: u32,
    pub len_offset: Option<u32>,
}

/// A `#[repr(C)]` struct with `zeroed`, `is_valid` (for structs, not messages), a `Pod`
/// implementation and const assertions of its size and every offset.
pub fn pod_struct(w: &mut W, m: &Model, name: &str, docs: &[String], fields: &[FieldSpec], size: u32, validity: bool) {
    w.rs_docs(docs);
    w.line("#[repr(C)]");
    w.line("#[derive(Clone, Copy, Debug, PartialEq, Eq)]");
    if fields.is_empty() {
        w!(w, "pub struct {name} {{}}");
    } else {
        wo!(w, "pub struct {name} {{");
        for f in fields {
            if f.len_offset.is_some() {
                w!(w, "pub {}_len: u32,", f.name);
            }
            w.rs_docs(f.docs);
            w!(w, "pub {}: {},", f.name, inline_ty(m, f.ty));
        }
        wc!(w, "}}");
    }
    wo!(w, "impl {name} {{");
    w.line("/// The value with every byte zero.");
    if fields.is_empty() {
        w.line("pub const fn zeroed() -> Self { Self {} }");
    } else {
        wo!(w, "pub const fn zeroed() -> Self {{");
        wo!(w, "Self {{");
        for f in fields {
            if f.len_offset.is_some() {
                w!(w, "{}_len: 0,", f.name);
            }
            w!(w, "{}: {},", f.name, zero(m, f.ty));
        }
        wc!(w, "}}");
        wc!(w, "}}");
    }
    if validity {
        w.line("/// True if every field holds a value the IDL allows (bool 0 or 1, a declared enum");
        w.line("/// member, only declared bits, UTF-8 text up to the first NUL), as checked on receipt.");
        let checks: Vec<String> = fields
            .iter()
            .filter_map(|f| valid_expr(f.ty, &format!("self.{}", f.name)))
            .collect();
        if checks.is_empty() {
            w.line("pub fn is_valid(&self) -> bool { true }");
        } else {
            wo!(w, "pub fn is_valid(&self) -> bool {{");
            w.line(&checks.join(" && "));
            wc!(w, "}}");
        }
    }
    wc!(w, "}}");
    w.line("// SAFETY: every field is an integer, an integer newtype or an array of bytes, so every");
    w.line("// bit pattern is a valid value, and the type holds no pointers.");
    let spans: Vec<(u32, Ty, Option<u32>)> = fields.iter().map(|f| (f.offset, f.ty, f.len_offset)).collect();
    let pads = padding(m, &spans, size);
    if pads.is_empty() {
        w!(w, "unsafe impl super::abi::Pod for {name} {{}}");
    } else {
        let list: Vec<String> = pads.iter().map(|(a, n)| format!("({a}, {n})")).collect();
        wo!(w, "unsafe impl super::abi::Pod for {name} {{");
        w!(w, "const PADDING: &'static [(u16, u16)] = &[{}];", list.join(", "));
        wc!(w, "}}");
    }
    wo!(w, "const _: () = {{");
    if !fields.is_empty() {
        w!(w, "assert!(core::mem::size_of::<{name}>() == {size});");
    }
    for f in fields {
        if let Some(lo) = f.len_offset {
            w!(w, "assert!(core::mem::offset_of!({name}, {}_len) == {lo});", f.name);
        }
        w!(w, "assert!(core::mem::offset_of!({name}, {}) == {});", f.name, f.offset);
    }
    wc!(w, "}};");
}

fn enum_like(w: &mut W, e: &Enum, is_bits: bool) {
    let name = &e.name;
    let u = scalar(e.underlying);
    w.rs_docs(&e.docs);
    w.line("#[repr(transparent)]");
    w.line("#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]");
    w!(w, "pub struct {name}(pub {u});");
    wo!(w, "impl {name} {{");
    for mm in &e.members {
        w.rs_docs(&mm.docs);
        w!(
            w,
            "pub const {}: {name} = {name}({});",
            mm.name,
            int_lit(e.underlying, mm.value)
        );
    }
    if is_bits {
        let all = e.members.iter().fold(0u64, |a, mm| a | mm.value);
        w.line("/// No bit set.");
        w!(w, "pub const NONE: {name} = {name}(0);");
        w.line("/// Every declared bit.");
        w!(w, "pub const ALL: {name} = {name}({});", int_lit(e.underlying, all));
        w.line("/// Every declared bit with its name.");
        wo!(w, "pub const MEMBERS: &'static [(&'static str, {name})] = &[");
        for mm in &e.members {
            w!(w, "({}, {name}::{}),", rs_str(&mm.name), mm.name);
        }
        wc!(w, "];");
        w.line("/// True if every bit of `other` is set in `self`.");
        w!(
            w,
            "pub const fn contains(self, other: {name}) -> bool {{ self.0 & other.0 == other.0 }}"
        );
        w.line("/// True if no undeclared bit is set.");
        w.line("pub const fn is_valid(self) -> bool { self.0 & !Self::ALL.0 == 0 }");
        w!(
            w,
            "pub const fn union(self, other: {name}) -> {name} {{ {name}(self.0 | other.0) }}"
        );
        w!(
            w,
            "pub const fn intersection(self, other: {name}) -> {name} {{ {name}(self.0 & other.0) }}"
        );
        wc!(w, "}}");
        wo!(w, "impl core::ops::BitOr for {name} {{");
        w!(w, "type Output = {name};");
        w!(w, "fn bitor(self, o: {name}) -> {name} {{ self.union(o) }}");
        wc!(w, "}}");
        wo!(w, "impl core::ops::BitAnd for {name} {{");
        w!(w, "type Output = {name};");
        w!(w, "fn bitand(self, o: {name}) -> {name} {{ self.intersection(o) }}");
        wc!(w, "}}");
        wo!(w, "impl core::fmt::Debug for {name} {{");
        wo!(
            w,
            "fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{"
        );
        w.lines(
            "let mut first = true;
for (n, b) in Self::MEMBERS {
    if self.contains(*b) {
        if !first {
            f.write_str(\" | \")?;
        }
        f.write_str(n)?;
        first = false;
    }
}
let rest = self.0 & !Self::ALL.0;
if rest != 0 {
    if !first {
        f.write_str(\" | \")?;
    }
    write!(f, \"{:#x}\", rest)?;
} else if first {
    f.write_str(\"NONE\")?;
}
Ok(())",
        );
        wc!(w, "}}");
        wc!(w, "}}");
    } else {
        w.line("/// The member's name, or `None` for a value the IDL does not declare.");
        wo!(w, "pub const fn name(self) -> Option<&'static str> {{");
        wo!(w, "match self.0 {{");
        for mm in &e.members {
            w!(w, "{} => Some({}),", int_lit(e.underlying, mm.value), rs_str(&mm.name));
        }
        w.line("_ => None,");
        wc!(w, "}}");
        wc!(w, "}}");
        w.line("/// True if the value is a declared member.");
        w.line("pub const fn is_known(self) -> bool { self.name().is_some() }");
        wc!(w, "}}");
        wo!(w, "impl core::fmt::Debug for {name} {{");
        wo!(
            w,
            "fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{"
        );
        wo!(w, "match self.name() {{");
        w.line("Some(n) => f.write_str(n),");
        w!(w, "None => write!(f, \"{name}({{}})\", self.0),");
        wc!(w, "}}");
        wc!(w, "}}");
        wc!(w, "}}");
    }
}

/// The declarations of one library: consts, enums, bits and structs.
pub fn library_types(w: &mut W, m: &Model, li: usize) {
    for c in m.consts.iter().filter(|c| c.lib == li) {
        w.rs_docs(&c.docs);
        w!(
            w,
            "pub const {}: {} = {};",
            c.name,
            scalar(c.ty),
            int_lit(c.ty, c.value)
        );
    }
    for e in m.enums.iter().filter(|e| e.lib == li) {
        enum_like(w, e, false);
    }
    for b in m.bits.iter().filter(|b| b.lib == li) {
        enum_like(w, b, true);
    }
    for s in m.structs.iter().filter(|s| s.lib == li) {
        let fields: Vec<FieldSpec> = s
            .fields
            .iter()
            .map(|f| FieldSpec {
                name: &f.name,
                docs: &f.docs,
                ty: f.ty,
                offset: f.offset,
                len_offset: None,
            })
            .collect();
        pod_struct(w, m, &s.name, &s.docs, &fields, s.size, true);
    }
}

/// The byte ranges `(offset, length)` of a struct of `size` bytes that no field covers,
/// including the padding inside nested structs: `Message::write` zeroes them, since a typed
/// copy of the struct need not carry its padding bytes.
pub fn padding(m: &Model, fields: &[(u32, Ty, Option<u32>)], size: u32) -> Vec<(u32, u32)> {
    let mut used = vec![false; size as usize];
    let mut inner = Vec::new();
    for &(offset, ty, len_offset) in fields {
        let (n, _) = m.size_align(ty);
        used[offset as usize..(offset + n) as usize].fill(true);
        if let Some(lo) = len_offset {
            used[lo as usize..lo as usize + 4].fill(true);
        }
        if let Ty::Struct(st) = ty {
            let s = &m.structs[st];
            let nested: Vec<(u32, Ty, Option<u32>)> = s.fields.iter().map(|f| (f.offset, f.ty, None)).collect();
            inner.extend(padding(m, &nested, s.size).into_iter().map(|(a, k)| (a + offset, k)));
        }
    }
    for (a, k) in inner {
        used[a as usize..(a + k) as usize].fill(false);
    }
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < used.len() {
        if used[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < used.len() && !used[i] {
            i += 1;
        }
        out.push((start as u32, (i - start) as u32));
    }
    out
}

/// The `Pod` marker and the text check shared by both Rust outputs (inside `mod abi`).
pub fn abi_common(w: &mut W) {
    w.lines(
        "/// Plain data: every bit pattern is a valid value, so it may be copied in from
/// another address space or out of a message buffer.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers and byte arrays.
pub unsafe trait Pod: Copy {
    /// The `(offset, length)` byte ranges no field covers (padding), which a copy into a
    /// message zeroes so that no stale byte travels under them.
    const PADDING: &'static [(u16, u16)] = &[];
}

/// True if the bytes up to the first NUL (or all of them) are UTF-8: the check of a
/// `string<N>` stored inline in a struct.
pub fn str_is_valid(b: &[u8]) -> bool {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..n]).is_ok()
}",
    );
}

/// The status member of the `@status` enum, as a path usable in the generated modules.
pub fn status_member(m: &Model, name: &str) -> String {
    match m.status_enum() {
        Some(e) => format!("{}::{name}", path(m, e.lib, &e.name)),
        None => "0".into(),
    }
}

/// The path of the `@status` enum.
pub fn status_path(m: &Model) -> String {
    match m.status_enum() {
        Some(e) => path(m, e.lib, &e.name),
        None => "u32".into(),
    }
}

pub fn error_ty(m: &Model, me: &Method) -> String {
    let e = &m.enums[me.error];
    path(m, e.lib, &e.name)
}

/// The banner of an output made from every library.
pub fn banner_all(m: &Model) -> String {
    crate::banner(&m.source_names().join(", "), "//")
}
