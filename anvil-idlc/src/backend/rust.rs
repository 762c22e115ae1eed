//! The Rust user backend: one file, `anvil_bindings.rs`, with a module per library holding
//! its types, typed capability handles with syscall stubs, and protocol clients and servers.
//!
//! Locals of generated functions end in `_`, which no IDL name may, so parameters named
//! anything cannot shadow them; generated parameters visible in signatures (`t`, `ep`,
//! `badge`) step aside with `Locals` when an IDL name takes theirs.

use super::names::*;
use super::rust_common::*;
use super::writer::{rs_str, W};
use crate::model::*;
use crate::Output;
use crate::{w, wc, wo};

pub fn generate(m: &Model) -> Vec<Output> {
    let methods: usize = m.interfaces.iter().map(|i| i.methods.len()).sum();
    // About what a method and a struct take, so that the text is not copied as it grows.
    let mut w = W::with_capacity(65536 + methods * 4000 + m.structs.len() * 1500);
    w.out.push_str(&banner_all(m));
    abi_module(&mut w, m);
    for li in 0..m.libraries.len() {
        w.blank();
        w.rs_docs(&m.libraries[li].docs);
        w.line("#[allow(clippy::all, dead_code, unused_imports)]");
        wo!(w, "pub mod {} {{", m.libraries[li].short);
        w.line("use super::abi::Handle as _;");
        library_types(&mut w, m, li);
        for i in m.interfaces.iter().filter(|i| i.lib == li) {
            match i.object_id {
                Some(_) => object(&mut w, m, i),
                None => protocol(&mut w, m, i),
            }
        }
        wc!(w, "}}");
    }
    syscall_table(&mut w, m);
    vec![Output {
        path: "anvil_bindings.rs".into(),
        contents: w.out,
    }]
}

fn abi_module(w: &mut W, m: &Model) {
    let caps = m.msg_max_caps;
    let data = m.msg_data_bytes.div_ceil(8) * 8;
    let hdr = 24 + 16 * m.msg_max_caps;
    w.line("/// The syscall instruction, capability handles, the message buffer, and the helpers that");
    w.line("/// generated clients and servers share.");
    w.line("#[allow(clippy::all, dead_code)]");
    wo!(w, "pub mod abi {{");
    abi_common(w);
    w.lines(
        r#"
/// Enters the kernel: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9;
/// status comes back in rax and results in the same six registers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn syscall6(nr: u64, a: [u64; 6]) -> (u64, [u64; 6]) {
    syscall(nr, a)
}

/// `syscall6` for a syscall that reads only its first `N` argument registers: the others are
/// not loaded (the kernel does not read them), which spares a register-only syscall up to six
/// instructions. Results come back as from `syscall6`; a register the syscall writes no
/// result to holds whatever it held before.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn syscall<const N: usize>(nr: u64, a: [u64; N]) -> (u64, [u64; 6]) {
    const { assert!(N <= 6, "a syscall has at most six argument registers") };
    let mut rax = nr;
    let mut r = [0u64; 6];
    r[..N].copy_from_slice(&a);
    // The registers past `N` are outputs only; `N` is a constant, so one arm remains.
    macro_rules! enter {
        ($io0:ident; $io1:ident; $io2:ident; $io3:ident; $io4:ident; $io5:ident) => {
            // SAFETY: the `syscall` instruction only transfers control to the kernel, which
            // validates every argument and touches user memory only through checked copies;
            // pointers passed here come from live Rust references. rcx and r11 are clobbered
            // by the instruction itself and declared so.
            unsafe {
                core::arch::asm!(
                    "syscall",
                    inout("rax") rax,
                    $io0("rdi") r[0], $io1("rsi") r[1], $io2("rdx") r[2],
                    $io3("r10") r[3], $io4("r8") r[4], $io5("r9") r[5],
                    out("rcx") _, out("r11") _,
                    options(nostack),
                )
            }
        };
    }
    match N {
        0 => enter!(lateout; lateout; lateout; lateout; lateout; lateout),
        1 => enter!(inout; lateout; lateout; lateout; lateout; lateout),
        2 => enter!(inout; inout; lateout; lateout; lateout; lateout),
        3 => enter!(inout; inout; inout; lateout; lateout; lateout),
        4 => enter!(inout; inout; inout; inout; lateout; lateout),
        5 => enter!(inout; inout; inout; inout; inout; lateout),
        _ => enter!(inout; inout; inout; inout; inout; inout),
    }
    (rax, r)
}

/// What a `@noreturn` stub does when its syscall comes back, which means it failed: it
/// stops the thread on an invalid opcode with the status in rax, so the failure shows as a
/// fault report instead of a silent spin.
#[cfg(target_arch = "x86_64")]
pub fn trap(status: u64) -> ! {
    // SAFETY: `ud2` raises an invalid-opcode fault and never falls through; it touches no
    // memory, and the kernel stops the thread and reports it.
    unsafe { core::arch::asm!("ud2", in("rax") status, options(noreturn, nostack)) }
}

/// A capability held by this process: the index of a slot in its CNode.
pub trait Handle {
    fn slot(&self) -> u64;
}

/// A capability of any object type.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnyCap(pub u64);

impl Handle for AnyCap {
    fn slot(&self) -> u64 {
        self.0
    }
}

/// A reply label with this bit set carries the method's own error in its low 32 bits; a
/// non-zero label below it is a status.
pub const METHOD_ERROR: u64 = 1 << 32;
"#,
    );
    if m.msg_data_bytes == 0 {
        wc!(w, "}}");
        return;
    }
    let st = status_path(m);
    let rights = m.rights_bits().map_or("u32".to_string(), |r| path(m, r.lib, &r.name));
    w.lines(&format!(
        r#"/// Capability slots in a message.
pub const MSG_CAPS: usize = {caps};
/// Bytes of data in a message (rounded up to 8).
pub const MSG_DATA: usize = {data};

/// An IPC message as it lies in a thread's IPC buffer. `label` is the protocol id and method
/// ordinal in a request and the status in a reply; `badge`, `cap_types` and `cap_rights` are
/// filled in by the kernel on receive (the object type id, 0 for none, and the rights of each
/// capability that arrived).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug)]
pub struct Message {{
    pub label: u64,
    pub badge: u64,
    pub data_len: u32,
    pub cap_count: u32,
    pub caps: [u64; MSG_CAPS],
    pub cap_types: [u32; MSG_CAPS],
    pub cap_rights: [u32; MSG_CAPS],
    pub data: [u8; MSG_DATA],
}}

const _: () = assert!(core::mem::offset_of!(Message, cap_types) == {types_off});
const _: () = assert!(core::mem::offset_of!(Message, cap_rights) == {rights_off});
const _: () = assert!(core::mem::offset_of!(Message, data) == {hdr});
const _: () = assert!(core::mem::size_of::<Message>() == {size});

impl Message {{
    pub const fn new() -> Self {{
        Message {{
            label: 0,
            badge: 0,
            data_len: 0,
            cap_count: 0,
            caps: [0; MSG_CAPS],
            cap_types: [0; MSG_CAPS],
            cap_rights: [0; MSG_CAPS],
            data: [0; MSG_DATA],
        }}
    }}

    /// Zeroes the whole message, so that nothing from an earlier one is sent again.
    pub fn clear(&mut self) {{
        *self = Self::new();
    }}

    /// Reads a plain-data value at the start of the data area.
    pub fn read<T: Pod>(&self) -> T {{
        const {{ assert!(core::mem::size_of::<T>() <= MSG_DATA) }};
        // SAFETY: `T: Pod` makes every bit pattern valid; the const assertion keeps the read
        // inside `data`; `read_unaligned` needs no alignment.
        unsafe {{ core::ptr::read_unaligned(self.data.as_ptr().cast::<T>()) }}
    }}

    /// Writes a plain-data value at the start of the data area. A typed copy need not carry
    /// the padding between fields, so the padding is zeroed after it: no stale byte of the
    /// buffer (or of the stack) travels under it.
    pub fn write<T: Pod>(&mut self, v: &T) {{
        const {{ assert!(core::mem::size_of::<T>() <= MSG_DATA) }};
        // SAFETY: the const assertion keeps the write inside `data`, which `&mut self`
        // borrows exclusively.
        unsafe {{ core::ptr::write_unaligned(self.data.as_mut_ptr().cast::<T>(), *v) }}
        for &(at, n) in T::PADDING {{
            self.data[usize::from(at)..usize::from(at) + usize::from(n)].fill(0);
        }}
    }}
}}

impl Default for Message {{
    fn default() -> Self {{
        Self::new()
    }}
}}

/// How protocol clients reach a server and servers dispose of what they received: the
/// runtime supplies the IPC buffer, the call into the kernel and the deletion of a
/// capability; tests may supply an in-process server instead.
pub trait Transport {{
    fn message(&mut self) -> &mut Message;
    /// Sends `message()` to the endpoint in `ep` and waits for the reply in it.
    /// Returns the transport status (0 when the reply arrived).
    fn call(&mut self, ep: u64) -> u64;
    /// Deletes the capability in `slot` of this process's CNode: the generated code calls it
    /// for every capability that arrived with a message and that no handler or caller kept.
    fn release(&mut self, slot: u64);
}}

/// A capability that arrived with a request, already checked for object type and rights.
/// The dispatch deletes it when the handler returns, unless the handler `take`s it.
#[derive(Debug)]
pub struct Received<H> {{
    handle: H,
    rights: u32,
    taken: bool,
}}

impl<H: Copy> Received<H> {{
    /// For the generated dispatch.
    pub fn new(handle: H, rights: u32) -> Self {{
        Received {{ handle, rights, taken: false }}
    }}

    /// The rights the capability carries (at least those the IDL requires).
    pub fn rights(&self) -> {rights} {{
        {rights}(self.rights as _)
    }}

    /// Keeps the capability: it stays in this process's CNode, the caller's to delete.
    pub fn take(&mut self) -> H {{
        self.taken = true;
        self.handle
    }}

    pub fn is_taken(&self) -> bool {{
        self.taken
    }}
}}

impl<H> core::ops::Deref for Received<H> {{
    type Target = H;
    fn deref(&self) -> &H {{
        &self.handle
    }}
}}

/// The capabilities that arrived with a message, taken out of the buffer before it is
/// reused: checked against what the method declares, then deleted unless kept.
pub struct Arrived {{
    slots: [u64; MSG_CAPS],
    types: [u32; MSG_CAPS],
    rights: [u32; MSG_CAPS],
    keep: [bool; MSG_CAPS],
    count: usize,
}}

impl Arrived {{
    pub fn take(msg: &Message) -> Self {{
        Arrived {{
            slots: msg.caps,
            types: msg.cap_types,
            rights: msg.cap_rights,
            keep: [false; MSG_CAPS],
            count: (msg.cap_count as usize).min(MSG_CAPS),
        }}
    }}

    pub fn count(&self) -> usize {{
        self.count
    }}

    /// Checks capability `i` as the kernel checks a syscall's: present (`INVALID_CAP`), of
    /// object type `object` unless it is 0 (`WRONG_TYPE`), holding `rights` (`ACCESS_DENIED`).
    pub fn check(&self, i: usize, object: u32, rights: u32) -> Result<(), {st}> {{
        if i >= self.count || self.types[i] == 0 {{
            Err({st}::INVALID_CAP)
        }} else if object != 0 && self.types[i] != object {{
            Err({st}::WRONG_TYPE)
        }} else if self.rights[i] & rights != rights {{
            Err({st}::ACCESS_DENIED)
        }} else {{
            Ok(())
        }}
    }}

    pub fn slot(&self, i: usize) -> u64 {{
        self.slots[i]
    }}

    pub fn rights(&self, i: usize) -> u32 {{
        self.rights[i]
    }}

    /// Keeps capability `i` out of `release`.
    pub fn keep(&mut self, i: usize) {{
        self.keep[i] = true;
    }}

    /// Deletes every capability that arrived and was not kept.
    pub fn release(&mut self, t: &mut impl Transport) {{
        for i in 0..self.count {{
            if !self.keep[i] && self.types[i] != 0 {{
                t.release(self.slots[i]);
            }}
        }}
        self.count = 0;
    }}
}}

/// The error of a protocol method with an error type of its own: the call failed (a
/// status from the kernel or from the server's generated checks), or the method did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError<E> {{
    Status({st}),
    Method(E),
}}

/// What a reply label says.
pub enum Reply {{
    Ok,
    Status({st}),
    /// The method's own error, non-zero.
    Method(u64),
}}

/// Decodes a reply label; `max_error` is the largest error value of the method's own error
/// type, or 0 if its errors are statuses. Anything else is a malformed reply.
pub fn decode_reply(label: u64, max_error: u64) -> Reply {{
    let low = label & 0xFFFF_FFFF;
    if label == 0 {{
        Reply::Ok
    }} else if label == low {{
        Reply::Status({st}(low as u32))
    }} else if label == METHOD_ERROR | low && low != 0 && low <= max_error {{
        Reply::Method(low)
    }} else {{
        Reply::Status({st}::INVALID_ARGS)
    }}
}}

/// The status of a transport failure (the kernel's, which fits 32 bits).
pub fn transport_status(st: u64) -> {st} {{
    if st <= 0xFFFF_FFFF {{
        {st}(st as u32)
    }} else {{
        {st}::INVALID_ARGS
    }}
}}
"#,
        types_off = 24 + 8 * caps,
        rights_off = 24 + 12 * caps,
        size = hdr + data,
    ));
    wc!(w, "}}");
}

/// The Rust type of a capability value: its typed handle.
fn handle_ty(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Cap { protocol: Some(p), .. } => path(m, m.interfaces[p].lib, &m.interfaces[p].name),
        Ty::Cap { object: Some(o), .. } => path(m, m.interfaces[o].lib, &m.interfaces[o].name),
        _ => "super::abi::AnyCap".into(),
    }
}

/// A parameter as a Rust function argument in user code.
fn arg_ty(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Scalar(s) => scalar(s).into(),
        Ty::Bytes(_) => "&[u8]".into(),
        Ty::String(_) => "&str".into(),
        Ty::Struct(_) => format!("&{}", inline_ty(m, ty)),
        Ty::Cap {
            object: None,
            protocol: None,
            ..
        } => "&impl super::abi::Handle".into(),
        Ty::Cap { .. } => format!("&{}", handle_ty(m, ty)),
        t => inline_ty(m, t),
    }
}

/// The Rust type of a result value returned to user code.
fn ret_ty(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Cap { .. } => handle_ty(m, ty),
        Ty::Bytes(_) | Ty::String(_) => "usize".into(),
        Ty::Struct(_) => inline_ty(m, ty),
        t => arg_ty(m, t),
    }
}

fn tuple(items: &[String]) -> String {
    match items.len() {
        0 => "()".into(),
        1 => items[0].clone(),
        _ => format!("({})", items.join(", ")),
    }
}

/// Converts a register to a result value.
fn from_reg(m: &Model, ty: Ty, r: &str) -> String {
    match ty {
        Ty::Scalar(Scalar::Bool) => format!("{r} != 0"),
        Ty::Scalar(s) => format!("{r} as {}", scalar(s)),
        Ty::Enum(e) => format!("{}({r} as {})", inline_ty(m, ty), scalar(m.enums[e].underlying)),
        Ty::Bits(b) => format!("{}({r} as {})", inline_ty(m, ty), scalar(m.bits[b].underlying)),
        t => format!("{}({r})", ret_ty(m, t)),
    }
}

/// The docs of a method with the rights each capability needs.
fn method_docs(m: &Model, me: &Method, extra: &[&str]) -> Vec<String> {
    let mut dl = me.docs.clone();
    for p in &me.params {
        if let Ty::Cap { rights, .. } = p.ty {
            let r = m.rights_names(rights);
            if !r.is_empty() {
                dl.push(format!("`{}` needs rights {}.", p.name, r.join(" | ")));
            }
        }
    }
    dl.extend(extra.iter().map(|s| s.to_string()));
    dl
}

/// A typed handle: a capability slot that names an object (or an endpoint of a protocol).
fn handle_type(w: &mut W, name: &str, docs: &[String]) {
    w.rs_docs(docs);
    w.line("#[repr(transparent)]");
    w.line("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]");
    w!(w, "pub struct {name}(pub u64);");
    wo!(w, "impl super::abi::Handle for {name} {{");
    w.line("fn slot(&self) -> u64 {");
    w.line("    self.0");
    w.line("}");
    wc!(w, "}}");
}

fn object(w: &mut W, m: &Model, i: &Interface) {
    let name = &i.name;
    let self_idx = m.interfaces.iter().position(|x| std::ptr::eq(x, i));
    let st = status_path(m);
    w!(w, "pub const {}: u32 = {};", rs_object_id(i), i.object_id.unwrap_or(0));
    for me in &i.methods {
        w!(w, "pub const {}: u64 = {};", rs_syscall(i, me), me.syscall.unwrap_or(0));
    }
    handle_type(w, name, &i.docs);
    wo!(w, "impl {name} {{");
    w.line("/// Names the capability in slot `slot` of this process's CNode as this type.");
    w!(w, "pub const fn from_slot(slot: u64) -> Self {{ {name}(slot) }}");
    for me in &i.methods {
        let is_method = matches!(me.params.first(), Some(Param { ty: Ty::Cap { object: Some(o), protocol: None, .. }, .. }) if Some(*o) == self_idx);
        let mut args = Vec::new();
        let mut regs = Vec::new();
        for (k, p) in me.params.iter().enumerate() {
            let pn = &p.name;
            if k == 0 && is_method {
                args.push("&self".to_string());
                regs.push("self.0".to_string());
                continue;
            }
            args.push(format!("{pn}: {}", arg_ty(m, p.ty)));
            match p.ty {
                Ty::Bytes(_) | Ty::String(_) => {
                    regs.push(format!("{pn}.as_ptr() as u64"));
                    regs.push(format!("{pn}.len() as u64"));
                }
                Ty::Struct(_) => regs.push(format!("{pn} as *const _ as u64")),
                Ty::Cap { .. } => regs.push(format!("{pn}.slot()")),
                Ty::Enum(_) | Ty::Bits(_) => regs.push(format!("{pn}.0 as u64")),
                Ty::Scalar(Scalar::Bool) => regs.push(format!("u64::from({pn})")),
                Ty::Scalar(_) => regs.push(format!("{pn} as u64")),
            }
        }
        let call = format!("super::abi::syscall({}, [{}])", rs_syscall(i, me), regs.join(", "));
        if me.noreturn {
            w.rs_docs(&method_docs(
                m,
                me,
                &["Does not return. If the call fails, the thread stops on an invalid opcode with the status in rax."],
            ));
            wo!(w, "pub fn {}({}) -> ! {{", me.name, args.join(", "));
            w!(w, "let (st_, _) = {call};");
            w.line("super::abi::trap(st_)");
            wc!(w, "}}");
            continue;
        }
        w.rs_docs(&method_docs(m, me, &[]));
        let rets: Vec<String> = me.results.iter().map(|p| ret_ty(m, p.ty)).collect();
        let vals: Vec<String> = me
            .results
            .iter()
            .enumerate()
            .map(|(k, p)| from_reg(m, p.ty, &format!("r_[{k}]")))
            .collect();
        wo!(
            w,
            "pub fn {}({}) -> Result<{}, {st}> {{",
            me.name,
            args.join(", "),
            tuple(&rets)
        );
        let r = if me.results.is_empty() { "_" } else { "r_" };
        w!(w, "let (st_, {r}) = {call};");
        wo!(w, "if st_ != 0 {{");
        w!(w, "return Err({st}(st_ as u32));");
        wc!(w, "}}");
        w!(w, "Ok({})", tuple(&vals));
        wc!(w, "}}");
    }
    wc!(w, "}}");
}

/// The statements that store parameter `p` (bound to `v`) into request struct `q_`.
fn store(w: &mut W, p: &Param, v: &str, invalid: &str) {
    let f = &p.name;
    match p.ty {
        Ty::Bytes(n) | Ty::String(n) => {
            let bytes = if matches!(p.ty, Ty::String(_)) {
                format!("{v}.as_bytes()")
            } else {
                v.to_string()
            };
            w!(w, "let b_: &[u8] = {bytes};");
            w!(w, "if b_.len() > {n} {{ return Err({invalid}); }}");
            w!(w, "q_.{f}_len = b_.len() as u32;");
            w!(w, "q_.{f}[..b_.len()].copy_from_slice(b_);");
        }
        Ty::Struct(_) => w!(w, "q_.{f} = *{v};"),
        Ty::Scalar(Scalar::Bool) => w!(w, "q_.{f} = u8::from({v});"),
        _ => w!(w, "q_.{f} = {v};"),
    }
}

/// The checks of one received value in message struct `q_`, in the order the kernel checks
/// a syscall's arguments; each failure does `fail` with the status expression.
fn check_value(w: &mut W, m: &Model, l: &MsgLayout, ps: &[Param], k: usize, fail: &dyn Fn(&str) -> String) {
    let p = &ps[k];
    let invalid = status_member(m, "INVALID_ARGS");
    match p.ty {
        Ty::Cap { object, rights, .. } => {
            let slot = l.caps.iter().position(|&c| c == k).unwrap_or(0);
            let obj = object.map_or(0, |o| m.interfaces[o].object_id.unwrap_or(0));
            w!(
                w,
                "if let Err(e_) = rx_.check({slot}, {obj}, {rights}) {{ {} }}",
                fail("e_")
            );
        }
        Ty::Bytes(n) => {
            w!(w, "if q_.{}_len as usize > {n} {{ {} }}", p.name, fail(&invalid));
        }
        Ty::String(n) => {
            w!(
                w,
                "if q_.{0}_len as usize > {n} || core::str::from_utf8(&q_.{0}[..q_.{0}_len as usize]).is_err() {{ {1} }}",
                p.name,
                fail(&invalid)
            );
        }
        t => {
            if let Some(c) = valid_expr(t, &format!("q_.{}", p.name)) {
                w!(w, "if !({c}) {{ {} }}", fail(&invalid));
            }
        }
    }
}

fn protocol(w: &mut W, m: &Model, i: &Interface) {
    let invalid = status_member(m, "INVALID_ARGS");
    let pid = i.protocol_id;
    w!(w, "pub const {}: u32 = {pid:#010x};", rs_protocol_id(i));
    for me in &i.methods {
        w!(
            w,
            "pub const {}: u32 = {};",
            rs_method_const(i, me, "ORDINAL"),
            me.ordinal
        );
        w!(
            w,
            "pub const {}: u64 = {:#x};",
            rs_method_const(i, me, "LABEL"),
            request_label(i, me)
        );
        w!(
            w,
            "pub const {}: u32 = {};",
            rs_method_const(i, me, "REQUEST_SIZE"),
            me.request.size
        );
        w!(
            w,
            "pub const {}: u32 = {};",
            rs_method_const(i, me, "RESPONSE_SIZE"),
            me.response.size
        );
        for (suffix, ps, l) in [
            ("Request", &me.params, &me.request),
            ("Response", &me.results, &me.response),
        ] {
            let fields: Vec<FieldSpec> = l
                .fields
                .iter()
                .map(|f| FieldSpec {
                    name: &ps[f.param].name,
                    docs: &ps[f.param].docs,
                    ty: ps[f.param].ty,
                    offset: f.offset,
                    len_offset: f.len_offset,
                })
                .collect();
            let what = if suffix == "Request" { "Request" } else { "Response" };
            pod_struct(
                w,
                m,
                &rs_msg_type(i, me, suffix),
                &[format!("{what} of `{}.{}`.", i.name, me.name)],
                &fields,
                l.size,
                false,
            );
        }
    }
    // The typed client: an endpoint whose server speaks this protocol.
    let mut docs = i.docs.clone();
    docs.push(format!(
        "An endpoint capability whose server speaks `{}`: calls go through its methods.",
        i.name
    ));
    handle_type(w, &i.name, &docs);
    wo!(w, "impl {} {{", i.name);
    w.line("/// Names the endpoint in slot `slot` of this process's CNode as one that speaks this protocol.");
    w!(w, "pub const fn from_slot(slot: u64) -> Self {{ {}(slot) }}", i.name);
    for me in &i.methods {
        let loc = Locals::new(me);
        let t = loc.get("t");
        let (args, names) = client_args(m, me);
        let (rt, et) = client_result(m, me);
        w.rs_docs(&method_docs(m, me, &[]));
        let sep = if args.is_empty() { "" } else { ", " };
        wo!(
            w,
            "pub fn {}(&self, {t}: &mut impl super::abi::Transport{sep}{}) -> Result<{rt}, {et}> {{",
            me.name,
            args.join(", ")
        );
        w!(w, "self::{}({t}, self{sep}{})", rs_client_fn(i, me), names.join(", "));
        wc!(w, "}}");
    }
    wc!(w, "}}");
    for me in &i.methods {
        client(w, m, i, me);
    }
    server(w, m, i, &invalid);
}

/// A client function's IDL arguments (declarations and names).
fn client_args(m: &Model, me: &Method) -> (Vec<String>, Vec<String>) {
    let mut args = Vec::new();
    let mut names = Vec::new();
    for p in &me.params {
        args.push(format!("{}: {}", p.name, arg_ty(m, p.ty)));
        names.push(p.name.clone());
    }
    for p in &me.results {
        if matches!(p.ty, Ty::Bytes(_) | Ty::String(_)) {
            args.push(format!("{}: &mut [u8]", p.name));
            names.push(p.name.clone());
        }
    }
    (args, names)
}

/// A client function's success and error types.
fn client_result(m: &Model, me: &Method) -> (String, String) {
    let rets: Vec<String> = me.results.iter().map(|p| ret_ty(m, p.ty)).collect();
    let et = if Some(me.error) == m.status {
        status_path(m)
    } else {
        format!("super::abi::CallError<{}>", error_ty(m, me))
    };
    (tuple(&rets), et)
}

fn client(w: &mut W, m: &Model, i: &Interface, me: &Method) {
    let loc = Locals::new(me);
    let (t, ep) = (loc.get("t"), loc.get("ep"));
    let invalid = status_member(m, "INVALID_ARGS");
    let custom = Some(me.error) != m.status;
    let wrap = |s: &str| {
        if custom {
            format!("super::abi::CallError::Status({s})")
        } else {
            s.to_string()
        }
    };
    let (args, _) = client_args(m, me);
    let (rt, et) = client_result(m, me);
    w.rs_docs(&method_docs(
        m,
        me,
        &["Client stub: sends the request over `ep` and waits for the reply."],
    ));
    let sep = if args.is_empty() { "" } else { ", " };
    wo!(
        w,
        "pub fn {}({t}: &mut impl super::abi::Transport, {ep}: &{}{sep}{}) -> Result<{rt}, {et}> {{",
        rs_client_fn(i, me),
        i.name,
        args.join(", ")
    );
    let req = rs_msg_type(i, me, "Request");
    let resp = rs_msg_type(i, me, "Response");
    let mutq = if me.request.fields.is_empty() { "" } else { "mut " };
    w!(w, "let {mutq}q_ = {req}::zeroed();");
    for f in &me.request.fields {
        store(w, &me.params[f.param], &me.params[f.param].name, &wrap(&invalid));
    }
    w!(w, "let msg_ = {t}.message();");
    w.line("msg_.clear();");
    w.line("msg_.write(&q_);");
    w!(w, "msg_.label = {};", rs_method_const(i, me, "LABEL"));
    w!(w, "msg_.data_len = {};", rs_method_const(i, me, "REQUEST_SIZE"));
    w!(w, "msg_.cap_count = {};", me.request.caps.len());
    for (k, &c) in me.request.caps.iter().enumerate() {
        w!(w, "msg_.caps[{k}] = {}.slot();", me.params[c].name);
    }
    w!(w, "let st_ = {t}.call({ep}.0);");
    wo!(w, "if st_ != 0 {{");
    w!(w, "return Err({});", wrap("super::abi::transport_status(st_)"));
    wc!(w, "}}");
    w!(w, "let msg_ = {t}.message();");
    w.line("let mut rx_ = super::abi::Arrived::take(msg_);");
    let max_error = if custom {
        m.enums[me.error].underlying.max_literal().min(u64::from(u32::MAX))
    } else {
        0
    };
    wo!(w, "let r_ = match super::abi::decode_reply(msg_.label, {max_error}) {{");
    w!(w, "super::abi::Reply::Status(s_) => Err({}),", wrap("s_"));
    if custom {
        let e = &m.enums[me.error];
        w!(
            w,
            "super::abi::Reply::Method(e_) => Err(super::abi::CallError::Method({}(e_ as {}))),",
            error_ty(m, me),
            scalar(e.underlying)
        );
    } else {
        w!(w, "super::abi::Reply::Method(_) => Err({invalid}),");
    }
    wo!(w, "super::abi::Reply::Ok => 'ok: {{");
    let fail = |s: &str| format!("break 'ok Err({});", wrap(s));
    w!(
        w,
        "if {} {{ {} }}",
        short_msg(&me.response, &rs_method_const(i, me, "RESPONSE_SIZE")),
        fail(&invalid)
    );
    if !me.response.fields.is_empty() {
        w!(w, "let q_: {resp} = msg_.read();");
    }
    for k in 0..me.results.len() {
        check_value(w, m, &me.response, &me.results, k, &fail);
    }
    let mut vals = Vec::new();
    for (k, p) in me.results.iter().enumerate() {
        let pn = &p.name;
        match p.ty {
            Ty::Bytes(_) | Ty::String(_) => {
                w!(w, "let {pn}_n_ = (q_.{pn}_len as usize).min({pn}.len());");
                w!(w, "{pn}[..{pn}_n_].copy_from_slice(&q_.{pn}[..{pn}_n_]);");
                vals.push(format!("{pn}_n_"));
            }
            Ty::Cap { .. } => {
                let slot = me.response.caps.iter().position(|&c| c == k).unwrap_or(0);
                w!(w, "rx_.keep({slot});");
                vals.push(format!("{}(rx_.slot({slot}))", handle_ty(m, p.ty)));
            }
            Ty::Scalar(Scalar::Bool) => vals.push(format!("q_.{pn} != 0")),
            _ => vals.push(format!("q_.{pn}")),
        }
    }
    w!(w, "Ok({})", tuple(&vals));
    wc!(w, "}}");
    wc!(w, "}};");
    w!(w, "rx_.release({t});");
    w.line("r_");
    wc!(w, "}}");
}

fn server(w: &mut W, m: &Model, i: &Interface, invalid: &str) {
    let server = rs_server(i);
    let dispatch = rs_dispatch(i);
    w.rs_docs(&i.docs);
    w!(
        w,
        "/// The server side of `{}`: implement it and pass received messages to `{dispatch}`.",
        i.name
    );
    w.line("/// Capabilities arrive checked, as `Received` handles the dispatch deletes after the");
    w.line("/// method returns unless it `take`s them.");
    wo!(w, "pub trait {server} {{");
    for me in &i.methods {
        let loc = Locals::new(me);
        let mut args = vec!["&mut self".to_string(), format!("{}: u64", loc.get("badge"))];
        for p in &me.params {
            let t = match p.ty {
                Ty::Cap { .. } => format!("&mut super::abi::Received<{}>", handle_ty(m, p.ty)),
                t => arg_ty(m, t),
            };
            args.push(format!("{}: {t}", p.name));
        }
        let mut rets = Vec::new();
        for p in &me.results {
            match p.ty {
                Ty::Bytes(n) | Ty::String(n) => {
                    args.push(format!("{}: &mut [u8; {n}]", p.name));
                    rets.push("usize".to_string());
                }
                Ty::Scalar(Scalar::Bool) => rets.push("bool".into()),
                t => rets.push(ret_ty(m, t)),
            }
        }
        w.rs_docs(&me.docs);
        w!(
            w,
            "fn {}({}) -> Result<{}, {}>;",
            me.name,
            args.join(", "),
            tuple(&rets),
            error_ty(m, me)
        );
    }
    wc!(w, "}}");
    w!(
        w,
        "/// Decodes the request in `t`'s message, checks it as the kernel checks a syscall, calls the"
    );
    w!(
        w,
        "/// `{server}` method, leaves the reply in the message, and deletes the capabilities that arrived"
    );
    w.line("/// unless the method took them.");
    wo!(
        w,
        "pub fn {dispatch}<S: {server} + ?Sized>(s_: &mut S, t_: &mut impl super::abi::Transport) {{"
    );
    w.line("let msg_ = t_.message();");
    w.line("let badge_ = msg_.badge;");
    w.line("let mut rx_ = super::abi::Arrived::take(msg_);");
    if i.methods.is_empty() {
        w.line("let _ = badge_;");
    }
    wo!(w, "let r_: Result<(), u64> = match msg_.label {{");
    for me in &i.methods {
        wo!(w, "{} => 'm: {{", rs_method_const(i, me, "LABEL"));
        let fail = |s: &str| format!("break 'm Err(({s}).0 as u64);");
        w!(
            w,
            "if {} {{ {} }}",
            short_msg(&me.request, &rs_method_const(i, me, "REQUEST_SIZE")),
            fail(invalid)
        );
        if !me.request.fields.is_empty() {
            w!(w, "let q_: {} = msg_.read();", rs_msg_type(i, me, "Request"));
        }
        for k in 0..me.params.len() {
            check_value(w, m, &me.request, &me.params, k, &fail);
        }
        let mut call = vec!["badge_".to_string()];
        for (k, p) in me.params.iter().enumerate() {
            let pn = &p.name;
            match p.ty {
                Ty::Cap { .. } => {
                    let slot = me.request.caps.iter().position(|&c| c == k).unwrap_or(0);
                    w!(
                        w,
                        "let mut {pn}_v_ = super::abi::Received::new({}(rx_.slot({slot})), rx_.rights({slot}));",
                        handle_ty(m, p.ty)
                    );
                    call.push(format!("&mut {pn}_v_"));
                }
                Ty::Bytes(_) => call.push(format!("&q_.{pn}[..q_.{pn}_len as usize]")),
                Ty::String(_) => {
                    w!(
                        w,
                        "let {pn}_v_ = core::str::from_utf8(&q_.{pn}[..q_.{pn}_len as usize]).unwrap_or_default();"
                    );
                    call.push(format!("{pn}_v_"));
                }
                Ty::Struct(_) => call.push(format!("&q_.{pn}")),
                Ty::Scalar(Scalar::Bool) => call.push(format!("q_.{pn} != 0")),
                _ => call.push(format!("q_.{pn}")),
            }
        }
        let resp = rs_msg_type(i, me, "Response");
        let mutp = if me.response.fields.is_empty() { "" } else { "mut " };
        w!(w, "let {mutp}p_ = {resp}::zeroed();");
        for p in &me.results {
            if matches!(p.ty, Ty::Bytes(_) | Ty::String(_)) {
                call.push(format!("&mut p_.{}", p.name));
            }
        }
        w!(w, "let h_ = s_.{}({});", me.name, call.join(", "));
        for (k, p) in me.params.iter().enumerate() {
            if let Ty::Cap { .. } = p.ty {
                let slot = me.request.caps.iter().position(|&c| c == k).unwrap_or(0);
                w!(w, "if {}_v_.is_taken() {{ rx_.keep({slot}); }}", p.name);
            }
        }
        let names: Vec<String> = me.results.iter().map(|p| format!("{}_v_", p.name)).collect();
        wo!(w, "match h_ {{");
        if Some(me.error) == m.status {
            w.line("Err(e_) => Err(e_.0 as u64),");
        } else {
            w!(w, "Err(e_) if e_.0 == 0 => Err(({invalid}).0 as u64),");
            w.line("Err(e_) => Err(super::abi::METHOD_ERROR | e_.0 as u64),");
        }
        wo!(w, "Ok({}) => {{", tuple(&names));
        for (k, p) in me.results.iter().enumerate() {
            let pn = &p.name;
            match p.ty {
                Ty::Bytes(n) | Ty::String(n) => w!(w, "p_.{pn}_len = {pn}_v_.min({n}) as u32;"),
                Ty::Scalar(Scalar::Bool) => w!(w, "p_.{pn} = u8::from({pn}_v_);"),
                Ty::Cap { .. } => {
                    let _ = k;
                }
                _ => w!(w, "p_.{pn} = {pn}_v_;"),
            }
        }
        w.line("let msg_ = t_.message();");
        w.line("msg_.clear();");
        w.line("msg_.write(&p_);");
        w!(w, "msg_.data_len = {};", rs_method_const(i, me, "RESPONSE_SIZE"));
        w!(w, "msg_.cap_count = {};", me.response.caps.len());
        for (k, &c) in me.response.caps.iter().enumerate() {
            w!(w, "msg_.caps[{k}] = {}_v_.0;", me.results[c].name);
        }
        w.line("Ok(())");
        wc!(w, "}}");
        wc!(w, "}}");
        wc!(w, "}}");
    }
    w!(w, "_ => Err(({}).0 as u64),", status_member(m, "UNKNOWN_METHOD"));
    wc!(w, "}};");
    wo!(w, "if let Err(label_) = r_ {{");
    w.line("let msg_ = t_.message();");
    w.line("msg_.clear();");
    w.line("msg_.label = label_;");
    wc!(w, "}}");
    w.line("rx_.release(t_);");
    wc!(w, "}}");
}

/// The condition that a received message does not have the layout `l` needs: too short, or
/// another number of capabilities.
fn short_msg(l: &MsgLayout, size: &str) -> String {
    let n = format!("rx_.count() != {}", l.caps.len());
    if l.size > 0 {
        format!("msg_.data_len < {size} || {n}")
    } else {
        n
    }
}

/// A table of every syscall and how its arguments are passed, for tests that attack each
/// argument (hostile callers) and for tracing.
fn syscall_table(w: &mut W, m: &Model) {
    w.lines(
        "
/// Every syscall and how its arguments are passed.
#[allow(clippy::all, dead_code)]
pub mod syscalls {
    /// How one argument is passed: a capability slot (with the object type id and rights
    /// the kernel checks), a pointer and length (two registers), a struct pointer, or a value.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Arg {
        Cap { object: Option<u32>, rights: u32 },
        Bytes { max: u64 },
        Struct { size: u32 },
        Value,
    }

    #[derive(Clone, Copy, Debug)]
    pub struct Syscall {
        pub name: &'static str,
        pub number: u64,
        pub args: &'static [Arg],
        pub noreturn: bool,
        pub blocking: bool,
    }
",
    );
    w.open("");
    w.line("/// Every syscall, in declaration order.");
    wo!(w, "pub static SYSCALLS: &[Syscall] = &[");
    for i in m.objects() {
        for me in &i.methods {
            let args: Vec<String> = me
                .params
                .iter()
                .map(|p| match p.ty {
                    Ty::Cap { object, rights, .. } => {
                        let o = object.map_or("None".to_string(), |o| {
                            format!("Some({})", m.interfaces[o].object_id.unwrap_or(0))
                        });
                        format!("Arg::Cap {{ object: {o}, rights: {rights} }}")
                    }
                    Ty::Bytes(n) | Ty::String(n) => format!("Arg::Bytes {{ max: {n} }}"),
                    Ty::Struct(s) => format!("Arg::Struct {{ size: {} }}", m.structs[s].size),
                    _ => "Arg::Value".into(),
                })
                .collect();
            w!(
                w,
                "Syscall {{ name: {}, number: {}, args: &[{}], noreturn: {}, blocking: {} }},",
                rs_str(&format!("{}.{}", i.name, me.name)),
                me.syscall.unwrap_or(0),
                args.join(", "),
                me.noreturn,
                me.blocking
            );
        }
    }
    wc!(w, "];");
    w.close("}");
}
