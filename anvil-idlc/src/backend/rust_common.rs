//! Rust code shared by the kernel and the user backends: the types of every library
//! (consts, enums, bits, structs) with their layout assertions, built with `quote`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::model::*;

pub fn ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

pub fn docs(lines: &[String]) -> TokenStream {
    let lines = lines.iter().map(|l| format!(" {l}"));
    quote! { #( #[doc = #lines] )* }
}

pub fn int_lit(s: Scalar, v: u64) -> TokenStream {
    let lit = match s {
        Scalar::U8 => Literal::u8_unsuffixed(v as u8),
        Scalar::U16 => Literal::u16_unsuffixed(v as u16),
        Scalar::U32 => Literal::u32_unsuffixed(v as u32),
        Scalar::I8 | Scalar::I16 | Scalar::I32 | Scalar::I64 => Literal::i64_unsuffixed(v as i64),
        _ => Literal::u64_unsuffixed(v),
    };
    if s == Scalar::Bool {
        if v != 0 {
            quote!(true)
        } else {
            quote!(false)
        }
    } else {
        quote!(#lit)
    }
}

pub fn scalar(s: Scalar) -> TokenStream {
    let i = ident(if s == Scalar::Bool { "bool" } else { s.name() });
    quote!(#i)
}

/// The path of a declared type as seen from another library module.
fn path(m: &Model, lib: usize, name: &str) -> TokenStream {
    let l = ident(&m.libraries[lib].short);
    let n = ident(name);
    quote!(super::#l::#n)
}

/// The Rust type of a value stored inline in a struct or message. `bool` is `u8` there,
/// so that every bit pattern read from another address space is a valid value.
pub fn inline_ty(m: &Model, ty: Ty) -> TokenStream {
    match ty {
        Ty::Scalar(Scalar::Bool) => quote!(u8),
        Ty::Scalar(s) => scalar(s),
        Ty::Enum(e) => path(m, m.enums[e].lib, &m.enums[e].name),
        Ty::Bits(b) => path(m, m.bits[b].lib, &m.bits[b].name),
        Ty::Struct(s) => path(m, m.structs[s].lib, &m.structs[s].name),
        Ty::Bytes(n) | Ty::String(n) => {
            let n = Literal::usize_unsuffixed(n as usize);
            quote!([u8; #n])
        }
        Ty::Cap { .. } => quote!(u64),
    }
}

/// An expression of the all-zero value of an inline type.
pub fn zero(m: &Model, ty: Ty) -> TokenStream {
    match ty {
        Ty::Scalar(_) | Ty::Cap { .. } => quote!(0),
        Ty::Bytes(n) | Ty::String(n) => {
            let n = Literal::usize_unsuffixed(n as usize);
            quote!([0; #n])
        }
        t => {
            let p = inline_ty(m, t);
            if matches!(t, Ty::Struct(_)) {
                quote!(#p::zeroed())
            } else {
                quote!(#p(0))
            }
        }
    }
}

/// A `#[repr(C)]` struct with a `zeroed` constructor and const assertions of its layout.
/// Each field: (name, docs, type, offset). `len_offset` fields get a `<name>_len: u32` before them.
/// (name, docs, type, offset, offset of the length word for bytes/strings).
pub type FieldSpec = (String, Vec<String>, Ty, u32, Option<u32>);

pub struct StructSpec<'a> {
    pub name: String,
    pub docs: Vec<String>,
    pub fields: Vec<FieldSpec>,
    pub size: u32,
    pub model: &'a Model,
}

pub fn pod_struct(s: StructSpec) -> TokenStream {
    let m = s.model;
    let name = ident(&s.name);
    let doc = docs(&s.docs);
    let mut defs = Vec::new();
    let mut zeros = Vec::new();
    let mut asserts = Vec::new();
    for (fname, fdocs, ty, off, len_off) in &s.fields {
        let f = ident(fname);
        if let Some(lo) = len_off {
            let lf = format_ident!("{}_len", fname);
            let lo = Literal::usize_unsuffixed(*lo as usize);
            defs.push(quote! { pub #lf: u32, });
            zeros.push(quote! { #lf: 0, });
            asserts.push(quote! { assert!(core::mem::offset_of!(#name, #lf) == #lo); });
        }
        let fd = docs(fdocs);
        let t = inline_ty(m, *ty);
        let z = zero(m, *ty);
        let off = Literal::usize_unsuffixed(*off as usize);
        defs.push(quote! { #fd pub #f: #t, });
        zeros.push(quote! { #f: #z, });
        asserts.push(quote! { assert!(core::mem::offset_of!(#name, #f) == #off); });
    }
    let size_assert = if s.fields.is_empty() {
        quote!()
    } else {
        let size = Literal::usize_unsuffixed(s.size as usize);
        quote! { assert!(core::mem::size_of::<#name>() == #size); }
    };
    quote! {
        #doc
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct #name { #(#defs)* }
        impl #name {
            /// The value with every byte zero.
            pub const fn zeroed() -> Self { Self { #(#zeros)* } }
        }
        // SAFETY: every field is an integer, an integer newtype or an array of bytes, so every
        // bit pattern is a valid value and the type has no pointers.
        unsafe impl super::abi::Pod for #name {}
        const _: () = { #size_assert #(#asserts)* };
    }
}

fn enum_like(e: &Enum, is_bits: bool) -> TokenStream {
    let name = ident(&e.name);
    let u = scalar(e.underlying);
    let doc = docs(&e.docs);
    let consts = e.members.iter().map(|mm| {
        let n = ident(&mm.name);
        let v = int_lit(e.underlying, mm.value);
        let d = docs(&mm.docs);
        quote! { #d pub const #n: #name = #name(#v); }
    });
    let names = e.members.iter().map(|mm| {
        let v = int_lit(e.underlying, mm.value);
        let s = &mm.name;
        quote! { #v => Some(#s), }
    });
    let common = quote! {
        #doc
        #[repr(transparent)]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct #name(pub #u);
    };
    if is_bits {
        let all = e.members.iter().fold(0u64, |a, mm| a | mm.value);
        let all = int_lit(e.underlying, all);
        let list = e.members.iter().map(|mm| {
            let n = ident(&mm.name);
            let s = &mm.name;
            quote! { (#s, #name::#n), }
        });
        quote! {
            #common
            impl #name {
                #(#consts)*
                /// No bit set.
                pub const NONE: #name = #name(0);
                /// Every declared bit.
                pub const ALL: #name = #name(#all);
                /// Every declared bit with its name.
                pub const MEMBERS: &'static [(&'static str, #name)] = &[#(#list)*];
                /// True if every bit of `other` is set in `self`.
                pub const fn contains(self, other: #name) -> bool { self.0 & other.0 == other.0 }
                /// True if no undeclared bit is set.
                pub const fn is_valid(self) -> bool { self.0 & !Self::ALL.0 == 0 }
                pub const fn union(self, other: #name) -> #name { #name(self.0 | other.0) }
                pub const fn intersection(self, other: #name) -> #name { #name(self.0 & other.0) }
            }
            impl core::ops::BitOr for #name {
                type Output = #name;
                fn bitor(self, o: #name) -> #name { self.union(o) }
            }
            impl core::ops::BitAnd for #name {
                type Output = #name;
                fn bitand(self, o: #name) -> #name { self.intersection(o) }
            }
            impl core::fmt::Debug for #name {
                fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    let mut first = true;
                    for (n, b) in Self::MEMBERS {
                        if self.contains(*b) {
                            if !first { f.write_str(" | ")?; }
                            f.write_str(n)?;
                            first = false;
                        }
                    }
                    let rest = self.0 & !Self::ALL.0;
                    if rest != 0 {
                        if !first { f.write_str(" | ")?; }
                        write!(f, "{:#x}", rest)?;
                    } else if first {
                        f.write_str("NONE")?;
                    }
                    Ok(())
                }
            }
        }
    } else {
        quote! {
            #common
            impl #name {
                #(#consts)*
                /// The member's name, or `None` for a value the IDL does not declare.
                pub const fn name(self) -> Option<&'static str> {
                    match self.0 { #(#names)* _ => None }
                }
                /// True if the value is a declared member.
                pub const fn is_known(self) -> bool { self.name().is_some() }
            }
            impl core::fmt::Debug for #name {
                fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    match self.name() {
                        Some(n) => f.write_str(n),
                        None => write!(f, "{}({})", stringify!(#name), self.0),
                    }
                }
            }
        }
    }
}

/// The declarations of one library: consts, enums, bits and structs.
pub fn library_types(m: &Model, li: usize) -> TokenStream {
    let mut out = TokenStream::new();
    for c in m.consts.iter().filter(|c| c.lib == li) {
        let n = ident(&c.name);
        let t = scalar(c.ty);
        let v = int_lit(c.ty, c.value);
        let d = docs(&c.docs);
        out.extend(quote! { #d pub const #n: #t = #v; });
    }
    for e in m.enums.iter().filter(|e| e.lib == li) {
        out.extend(enum_like(e, false));
    }
    for b in m.bits.iter().filter(|b| b.lib == li) {
        out.extend(enum_like(b, true));
    }
    for s in m.structs.iter().filter(|s| s.lib == li) {
        out.extend(pod_struct(StructSpec {
            name: s.name.clone(),
            docs: s.docs.clone(),
            fields: s
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.docs.clone(), f.ty, f.offset, None))
                .collect(),
            size: s.size,
            model: m,
        }));
    }
    out
}

/// The `Pod` marker shared by both Rust outputs.
pub fn pod_trait() -> TokenStream {
    quote! {
        /// Plain data: every bit pattern is a valid value, so it may be copied in from
        /// another address space or out of a message buffer.
        ///
        /// # Safety
        /// Implement only for `#[repr(C)]` types made of integers and byte arrays.
        pub unsafe trait Pod: Copy {}
    }
}

/// Formats a token stream as a Rust file with the banner on top.
pub fn render(m: &Model, tokens: TokenStream) -> String {
    let text = match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        // Unreachable for a checked model; kept visible rather than panicking.
        Err(e) => format!("compile_error!(\"anvil-idlc produced invalid Rust: {e}\");\n{tokens}"),
    };
    format!("{}{}", crate::banner(m, "//"), add_safety_comments(&text))
}

/// `quote!` drops comments, so the `// SAFETY:` comment that every `unsafe` needs is added
/// to the formatted text, above each unsafe construct the backends emit.
fn add_safety_comments(text: &str) -> String {
    const NOTES: &[(&str, &str)] = &[
        (
            "unsafe impl super::abi::Pod for",
            "SAFETY: every field is an integer, an integer newtype or a byte array, so every bit pattern is a valid value.",
        ),
        (
            "unsafe { core::ptr::read_unaligned",
            "SAFETY: `T: Pod` makes every bit pattern valid, the const assertion keeps the read inside `data`, and `read_unaligned` needs no alignment.",
        ),
        (
            "unsafe { core::ptr::write_unaligned",
            "SAFETY: the const assertion keeps the write inside `data`, which `&mut self` borrows exclusively.",
        ),
        (
            "unsafe {",
            "SAFETY: `syscall` only enters the kernel, which validates every argument and touches user memory through checked copies; pointers passed come from live references; rcx and r11 are declared clobbered.",
        ),
    ];
    let mut out = String::with_capacity(text.len() + 1024);
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some((_, note)) = NOTES
            .iter()
            .find(|(pat, _)| trimmed.starts_with(pat) || trimmed.contains(&format!("= {pat}")))
        {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(indent);
            out.push_str("// ");
            out.push_str(note);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The status member of the `@status` enum, as a path usable in the generated modules.
pub fn status_member(m: &Model, name: &str) -> TokenStream {
    match m.status_enum() {
        Some(e) => {
            let p = path(m, e.lib, &e.name);
            let n = ident(name);
            quote!(#p::#n)
        }
        None => quote!(0),
    }
}

pub fn error_ty(m: &Model, me: &Method) -> TokenStream {
    let e = &m.enums[me.error];
    path(m, e.lib, &e.name)
}
