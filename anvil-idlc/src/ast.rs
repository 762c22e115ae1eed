//! The syntax tree of one `.idl` file, exactly as written, with spans; nothing is resolved yet.

use crate::diag::Span;

#[derive(Debug, Clone)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Int {
    /// `None` when the literal does not fit in 64 bits (reported by the checker).
    pub value: Option<u64>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub name: Ident,
    pub arg: Option<AttrArg>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum AttrArg {
    Ident(Ident),
    Int(Int),
}

#[derive(Debug, Clone)]
pub struct File {
    pub file: usize,
    pub docs: Vec<String>,
    pub library: Ident,
    pub imports: Vec<Ident>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub docs: Vec<String>,
    pub attrs: Vec<Attr>,
    pub name: Ident,
    pub kind: ItemKind,
}

#[derive(Debug, Clone)]
pub enum ItemKind {
    Const { ty: Ident, value: Int },
    Enum { underlying: Ident, members: Vec<Member> },
    Bits { underlying: Ident, members: Vec<Member> },
    Struct { fields: Vec<Field> },
    Object { id: Int, methods: Vec<Method> },
    Protocol { methods: Vec<Method> },
}

#[derive(Debug, Clone)]
pub struct Member {
    pub docs: Vec<String>,
    pub attrs: Vec<Attr>,
    pub name: Ident,
    pub value: Int,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub docs: Vec<String>,
    pub attrs: Vec<Attr>,
    pub name: Ident,
    pub ty: TypeRef,
}

#[derive(Debug, Clone)]
pub struct Method {
    pub docs: Vec<String>,
    pub attrs: Vec<Attr>,
    pub ordinal: Int,
    pub name: Ident,
    pub params: Vec<Field>,
    pub results: Vec<Field>,
    pub error: Option<Ident>,
}

#[derive(Debug, Clone)]
pub enum TypeRef {
    Named(Ident),
    Sized {
        kind: SizedKind,
        bound: Int,
        span: Span,
    },
    Cap {
        object: Ident,
        rights: Vec<Ident>,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizedKind {
    Bytes,
    String,
}

impl TypeRef {
    pub fn span(&self) -> Span {
        match self {
            TypeRef::Named(i) => i.span,
            TypeRef::Sized { span, .. } | TypeRef::Cap { span, .. } => *span,
        }
    }
}
