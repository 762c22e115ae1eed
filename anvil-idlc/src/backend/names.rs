//! The names the backends give to IDL declarations, in one place: the backends emit them and
//! the hygiene check (`crate::hygiene`) registers them, so the two can never disagree about
//! what a name becomes.
//!
//! Names the generated code makes for itself inside a function (locals end in `_`; locals made
//! from an IDL name `x` are `x_v_`, `x_len_`, `x_n_`; parameters such as
//! `ep` or `badge`) come from `Locals`, which steps aside from the IDL names in scope. Helpers
//! the generated C declares for itself end in `_`, which no IDL name may do, so they cannot
//! clash with anything an IDL file declares.

use crate::fxhash::FxSet as HashSet;

use crate::model::{camel, snake, Interface, Method, Model, Param, Ty};

/// `CONST_NAME` form of a declaration name.
pub fn upper(name: &str) -> String {
    snake(name).to_ascii_uppercase()
}

/// `Tcb.create` -> `tcb_create`: the name a syscall or protocol method has in both languages.
pub fn fn_name(i: &Interface, m: &Method) -> String {
    format!("{}_{}", snake(&i.name), m.name)
}

/// C: the typedef of an enum, bits or struct.
pub fn c_type(name: &str) -> String {
    format!("anvil_{}_t", snake(name))
}

/// C: the struct tag of a typedef'd struct (`anvil_regs` for `anvil_regs_t`).
pub fn c_tag(type_name: &str) -> String {
    type_name.trim_end_matches("_t").to_string()
}

/// C: the macro of a const.
pub fn c_const(name: &str) -> String {
    format!("ANVIL_{}", upper(name))
}

/// C: the macro of an enum or bits member.
pub fn c_member(e: &str, member: &str) -> String {
    format!("ANVIL_{}_{member}", upper(e))
}

/// C: the macro holding an object's type id.
pub fn c_object_id(obj: &str) -> String {
    format!("ANVIL_OBJ_{}", upper(obj))
}

/// C: the macro holding a syscall number.
pub fn c_syscall(i: &Interface, m: &Method) -> String {
    format!("ANVIL_SYS_{}", fn_name(i, m).to_ascii_uppercase())
}

/// C: the stub of a syscall or protocol method.
pub fn c_fn(i: &Interface, m: &Method) -> String {
    format!("anvil_{}", fn_name(i, m))
}

/// C: the include guard of a library header.
pub fn c_guard(short: &str) -> String {
    format!("ANVIL_{}_H", short.to_ascii_uppercase())
}

/// C: the prefix of a protocol's macros (`ANVIL_CONSOLE`).
pub fn c_proto_macro(p: &Interface) -> String {
    format!("ANVIL_{}", upper(&p.name))
}

/// C: a macro of one protocol method (`ANVIL_CONSOLE_WRITE_ORDINAL`).
pub fn c_method_macro(p: &Interface, m: &Method, what: &str) -> String {
    format!("{}_{}_{what}", c_proto_macro(p), m.name.to_ascii_uppercase())
}

/// C: the request or response struct of a protocol method.
pub fn c_msg_type(p: &Interface, m: &Method, dir: &str) -> String {
    format!("anvil_{}_{}_{dir}_t", snake(&p.name), m.name)
}

/// C: the handler table of a protocol.
pub fn c_ops(p: &Interface) -> String {
    format!("anvil_{}_ops_t", snake(&p.name))
}

/// C: the server dispatch of a protocol.
pub fn c_dispatch(p: &Interface) -> String {
    format!("anvil_{}_dispatch", snake(&p.name))
}

/// C: the distinct handle type of an endpoint that speaks protocol `p`, and its constructor.
pub fn c_ep_type(p: &Interface) -> String {
    format!("anvil_{}_ep_t", snake(&p.name))
}

pub fn c_ep_ctor(p: &Interface) -> String {
    format!("anvil_{}_ep", snake(&p.name))
}

/// The names `anvil/abi.h` declares, whatever the IDL says.
pub const C_ABI_NAMES: &[&str] = &[
    "ANVIL_ABI_H",
    "ANVIL_STATIC_ASSERT",
    "ANVIL_ALIGNAS",
    "ANVIL_MSG_METHOD_ERROR",
    "anvil_cap_t",
    "anvil_syscall6",
    "anvil_copy_bytes",
    "anvil_zero_bytes",
    "anvil_utf8_valid",
    "anvil_msg",
    "anvil_msg_t",
    "anvil_msg_buffer",
    "anvil_msg_call",
    "anvil_msg_release",
    "anvil_msg_clear",
    "anvil_rx_cap",
    "anvil_rx_cap_t",
    "anvil_rx",
    "anvil_rx_t",
    "anvil_rx_take",
];

/// Rust: the syscall number const of a method (`SYS_VMO_CREATE`).
pub fn rs_syscall(i: &Interface, m: &Method) -> String {
    format!("SYS_{}_{}", upper(&i.name), m.name.to_ascii_uppercase())
}

/// Rust: the type id const of an object (`OBJ_VMO`).
pub fn rs_object_id(i: &Interface) -> String {
    format!("OBJ_{}", upper(&i.name))
}

/// Rust: a const of one protocol method (`CONSOLE_WRITE_ORDINAL`).
pub fn rs_method_const(p: &Interface, m: &Method, what: &str) -> String {
    format!("{}_{}_{what}", upper(&p.name), m.name.to_ascii_uppercase())
}

/// Rust: a protocol's id const (`CONSOLE_PROTOCOL_ID`).
pub fn rs_protocol_id(p: &Interface) -> String {
    format!("{}_PROTOCOL_ID", upper(&p.name))
}

/// Rust: the request or response struct of a protocol method (`ConsoleWriteRequest`).
pub fn rs_msg_type(p: &Interface, m: &Method, suffix: &str) -> String {
    format!("{}{}{suffix}", p.name, camel(&m.name))
}

/// Rust: the client function of a protocol method (`console_write`).
pub fn rs_client_fn(p: &Interface, m: &Method) -> String {
    fn_name(p, m)
}

/// Rust: a protocol's server trait and dispatch function.
pub fn rs_server(p: &Interface) -> String {
    format!("{}Server", p.name)
}

pub fn rs_dispatch(p: &Interface) -> String {
    format!("{}_dispatch", snake(&p.name))
}

/// Rust: names every handle type's impl block has besides the IDL methods.
pub const RS_HANDLE_NAMES: &[&str] = &["from_slot", "slot"];

/// Rust: associated consts every `bits` type has besides its members.
pub const RS_BITS_NAMES: &[&str] = &["NONE", "ALL", "MEMBERS"];

/// Rust (kernel): methods the `Kernel` trait has besides one per syscall.
pub const KERNEL_TRAIT_NAMES: &[&str] = &["lookup", "user_bytes", "user_struct", "install"];

/// The names a method's IDL parameters and results take in the generated code, with the
/// names derived from them: `x_len` for `bytes`/`string` values (C and Rust), and `x_cap` for
/// the buffer size of a `bytes`/`string` result (C). Each with the IDL name it comes from.
pub fn method_scope(m: &Method) -> Vec<(String, &Param)> {
    let mut out = Vec::new();
    for p in m.params.iter().chain(&m.results) {
        out.push((p.name.clone(), p));
    }
    for (k, p) in m.params.iter().chain(&m.results).enumerate() {
        if matches!(p.ty, Ty::Bytes(_) | Ty::String(_)) {
            out.push((format!("{}_len", p.name), p));
            if k >= m.params.len() {
                out.push((format!("{}_cap", p.name), p));
            }
        }
    }
    out
}

/// Names the generated code gives its own locals and parameters inside one function: the
/// preferred name, unless an IDL name in scope has it, then the preferred name with `_`
/// appended (which no IDL name can have).
pub struct Locals {
    taken: HashSet<String>,
}

impl Locals {
    pub fn new(m: &Method) -> Self {
        Locals {
            taken: method_scope(m).into_iter().map(|(n, _)| n).collect(),
        }
    }

    /// For functions that have no IDL names in scope.
    pub fn none() -> Self {
        Locals {
            taken: HashSet::default(),
        }
    }

    pub fn get(&self, base: &str) -> String {
        if self.taken.contains(base) {
            format!("{base}_")
        } else {
            base.to_string()
        }
    }
}

/// True if `ty` is a capability to an endpoint that speaks a protocol.
pub fn protocol_of(ty: Ty) -> Option<usize> {
    match ty {
        Ty::Cap { protocol, .. } => protocol,
        _ => None,
    }
}

/// The label of a request: the protocol id in the upper half, the ordinal in the lower.
pub fn request_label(p: &Interface, m: &Method) -> u64 {
    (u64::from(p.protocol_id) << 32) | u64::from(m.ordinal)
}

/// Whether a model has what protocol code needs (a status enum and message limits).
pub fn has_messages(m: &Model) -> bool {
    m.msg_data_bytes > 0 && m.status.is_some()
}
