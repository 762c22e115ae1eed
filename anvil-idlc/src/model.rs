//! The checked model: every name resolved, every number validated, every layout computed.
//! Backends read only this; none of them looks at the syntax tree.

use crate::diag::{SourceFile, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    Bool,
}

impl Scalar {
    pub const ALL: [(&'static str, Scalar); 9] = [
        ("u8", Scalar::U8),
        ("u16", Scalar::U16),
        ("u32", Scalar::U32),
        ("u64", Scalar::U64),
        ("i8", Scalar::I8),
        ("i16", Scalar::I16),
        ("i32", Scalar::I32),
        ("i64", Scalar::I64),
        ("bool", Scalar::Bool),
    ];

    pub fn from_name(n: &str) -> Option<Scalar> {
        Self::ALL.iter().find(|(s, _)| *s == n).map(|(_, k)| *k)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, k)| *k == self).map_or("?", |(s, _)| s)
    }

    pub fn size(self) -> u32 {
        match self {
            Scalar::U8 | Scalar::I8 | Scalar::Bool => 1,
            Scalar::U16 | Scalar::I16 => 2,
            Scalar::U32 | Scalar::I32 => 4,
            Scalar::U64 | Scalar::I64 => 8,
        }
    }

    pub fn is_unsigned_int(self) -> bool {
        matches!(self, Scalar::U8 | Scalar::U16 | Scalar::U32 | Scalar::U64)
    }

    /// The largest value a literal of this type may have (literals are never negative).
    pub fn max_literal(self) -> u64 {
        match self {
            Scalar::Bool => 1,
            Scalar::U64 => u64::MAX,
            Scalar::I8 | Scalar::I16 | Scalar::I32 | Scalar::I64 => (1u64 << (self.size() * 8 - 1)) - 1,
            _ => (1u64 << (self.size() * 8)) - 1,
        }
    }

    pub fn c_name(self) -> &'static str {
        match self {
            Scalar::U8 => "uint8_t",
            Scalar::U16 => "uint16_t",
            Scalar::U32 => "uint32_t",
            Scalar::U64 => "uint64_t",
            Scalar::I8 => "int8_t",
            Scalar::I16 => "int16_t",
            Scalar::I32 => "int32_t",
            Scalar::I64 => "int64_t",
            Scalar::Bool => "bool",
        }
    }
}

/// A resolved type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Scalar(Scalar),
    Enum(usize),
    Bits(usize),
    Struct(usize),
    Bytes(u32),
    String(u32),
    /// `object` is `None` for `cap<any>`; `rights` is the mask the holder must have;
    /// `protocol` names the protocol an endpoint capability's server speaks (`cap<Console>`),
    /// in which case `object` is the `@endpoint` object.
    Cap {
        object: Option<usize>,
        rights: u64,
        protocol: Option<usize>,
    },
}

#[derive(Debug, Clone)]
pub struct Library {
    pub name: String,
    pub span: Span,
    /// The last component of the name: header and module names (`anvil.kernel` -> `kernel`).
    pub short: String,
    pub file: usize,
    pub docs: Vec<String>,
    pub imports: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Const {
    pub lib: usize,
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    pub ty: Scalar,
    pub value: u64,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    pub value: u64,
}

/// An `enum` or a `bits`; they share shape but not meaning.
#[derive(Debug, Clone)]
pub struct Enum {
    pub lib: usize,
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    pub underlying: Scalar,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub struct StructField {
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    pub ty: Ty,
    pub offset: u32,
    pub size: u32,
}

#[derive(Debug, Clone)]
pub struct Struct {
    pub lib: usize,
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    pub fields: Vec<StructField>,
    pub size: u32,
    pub align: u32,
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    pub ty: Ty,
    /// `@move`: the capability leaves the sender's CNode instead of being copied.
    pub moved: bool,
}

/// Where one data parameter sits in a protocol message's data area.
#[derive(Debug, Clone)]
pub struct MsgField {
    pub param: usize,
    pub offset: u32,
    pub size: u32,
    /// For `bytes<N>`/`string<N>`: the offset of the `u32` length that precedes the bytes.
    pub len_offset: Option<u32>,
}

/// The layout of a request or a response message of a protocol method.
#[derive(Debug, Clone, Default)]
pub struct MsgLayout {
    pub fields: Vec<MsgField>,
    /// Parameters that travel as capabilities, in cap-slot order.
    pub caps: Vec<usize>,
    pub size: u32,
    pub align: u32,
}

#[derive(Debug, Clone)]
pub struct Method {
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    pub ordinal: u32,
    pub params: Vec<Param>,
    pub results: Vec<Param>,
    /// Index of the error enum.
    pub error: usize,
    pub blocking: bool,
    pub noreturn: bool,
    /// `@fastpath`: the kernel may answer the syscall on a fast path first.
    pub fastpath: bool,
    /// Syscall number, for methods of kernel objects.
    pub syscall: Option<u64>,
    /// Message layouts, for methods of protocols.
    pub request: MsgLayout,
    pub response: MsgLayout,
}

#[derive(Debug, Clone)]
pub struct Interface {
    pub lib: usize,
    pub name: String,
    pub span: Span,
    pub docs: Vec<String>,
    /// `Some(type id)` for a kernel object, `None` for a protocol.
    pub object_id: Option<u32>,
    /// For a protocol: its id, carried in the upper half of every request label, so that a
    /// server can tell a request of another protocol from one of its own (see `protocol_id`).
    pub protocol_id: u32,
    pub methods: Vec<Method>,
}

/// The whole checked input.
#[derive(Debug, Clone)]
pub struct Model {
    pub files: Vec<SourceFile>,
    pub libraries: Vec<Library>,
    pub consts: Vec<Const>,
    pub enums: Vec<Enum>,
    pub bits: Vec<Enum>,
    pub structs: Vec<Struct>,
    pub interfaces: Vec<Interface>,
    /// The enum marked `@status`, if any method needs one.
    pub status: Option<usize>,
    /// The bits marked `@rights`.
    pub rights: Option<usize>,
    /// The object marked `@endpoint`: the kernel object protocols are served over, which
    /// `cap<SomeProtocol>` stands for.
    pub endpoint: Option<usize>,
    pub msg_data_bytes: u32,
    pub msg_max_caps: u32,
}

/// Status members that generated code returns by itself, before a handler runs.
pub const REQUIRED_STATUS: [&str; 6] = [
    "OK",
    "INVALID_CAP",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "INVALID_ARGS",
    "UNKNOWN_METHOD",
];

/// A reply label with this bit set carries the method's own error (declared with `error E`)
/// in its low 32 bits; a label below it is a status of the `@status` enum.
pub const METHOD_ERROR: u64 = 1 << 32;

/// Registers that carry syscall arguments and results (`rdi, rsi, rdx, r10, r8, r9`).
pub const SYSCALL_REGS: usize = 6;

/// Syscall number = object id * `SYSCALL_STRIDE` + method ordinal.
pub const SYSCALL_STRIDE: u64 = 64;

impl Model {
    pub fn objects(&self) -> impl Iterator<Item = &Interface> {
        self.interfaces.iter().filter(|i| i.object_id.is_some())
    }

    pub fn protocols(&self) -> impl Iterator<Item = &Interface> {
        self.interfaces.iter().filter(|i| i.object_id.is_none())
    }

    pub fn status_enum(&self) -> Option<&Enum> {
        self.status.map(|s| &self.enums[s])
    }

    pub fn rights_bits(&self) -> Option<&Enum> {
        self.rights.map(|r| &self.bits[r])
    }

    /// The names of the rights set in `mask`, in declaration order.
    pub fn rights_names(&self, mask: u64) -> Vec<String> {
        self.rights_bits()
            .map(|b| {
                b.members
                    .iter()
                    .filter(|m| mask & m.value != 0)
                    .map(|m| m.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Size and alignment of a type stored inline (in a struct or a message).
    pub fn size_align(&self, ty: Ty) -> (u32, u32) {
        match ty {
            Ty::Scalar(s) => (s.size(), s.size()),
            Ty::Enum(e) => (self.enums[e].underlying.size(), self.enums[e].underlying.size()),
            Ty::Bits(b) => (self.bits[b].underlying.size(), self.bits[b].underlying.size()),
            Ty::Struct(s) => (self.structs[s].size, self.structs[s].align),
            Ty::Bytes(n) | Ty::String(n) => (n, 1),
            Ty::Cap { .. } => (8, 8),
        }
    }

    /// A human-readable spelling of a type, as it would be written in the IDL.
    pub fn type_name(&self, ty: Ty) -> String {
        match ty {
            Ty::Scalar(s) => s.name().into(),
            Ty::Enum(e) => self.enums[e].name.clone(),
            Ty::Bits(b) => self.bits[b].name.clone(),
            Ty::Struct(s) => self.structs[s].name.clone(),
            Ty::Bytes(n) => format!("bytes<{n}>"),
            Ty::String(n) => format!("string<{n}>"),
            Ty::Cap {
                object,
                rights,
                protocol,
            } => {
                let obj = match protocol {
                    Some(p) => self.interfaces[p].name.clone(),
                    None => object.map_or("any".to_string(), |o| self.interfaces[o].name.clone()),
                };
                let r = self.rights_names(rights);
                if r.is_empty() {
                    format!("cap<{obj}>")
                } else {
                    format!("cap<{obj}, {}>", r.join(" | "))
                }
            }
        }
    }

    /// The banner names of the files every library was declared in (for outputs made from all).
    pub fn source_names(&self) -> Vec<String> {
        self.libraries
            .iter()
            .map(|l| self.files[l.file].label.clone())
            .collect()
    }

    /// The banner name of the file library `li` was declared in.
    pub fn source_of(&self, li: usize) -> &str {
        &self.files[self.libraries[li].file].label
    }
}

/// How a syscall argument or result occupies registers.
pub fn syscall_regs(ty: Ty) -> usize {
    match ty {
        Ty::Bytes(_) | Ty::String(_) => 2,
        _ => 1,
    }
}

/// Converts `CamelCase` or `lower.dotted` to `snake_case`.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            // Length of the run of capitals ending just before `c`: `VSpace` stays `vspace`,
            // `HTTPServer` becomes `http_server`.
            let run = chars[..i].iter().rev().take_while(|p| p.is_ascii_uppercase()).count();
            if i > 0 && (prev_lower || (run >= 2 && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '.' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// Converts `snake_case` to `CamelCase`.
pub fn camel(name: &str) -> String {
    name.split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect()
}

/// The id of protocol `qualified` (`anvil.console.Console`): the 32-bit FNV-1a hash of its
/// fully qualified name, never 0. Like FIDL's hashed ordinals, it needs no number in the IDL
/// and no registry, and two protocols that could be confused get different ids (the checker
/// rejects the rare collision).
pub fn protocol_id(qualified: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in qualified.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    if h == 0 {
        1
    } else {
        h
    }
}
