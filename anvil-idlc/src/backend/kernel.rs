//! The kernel backend: `kernel_dispatch.rs`, pulled into the kernel from `build.rs`.
//!
//! It holds the ABI types, the syscall numbers, a table describing every syscall, the
//! `Kernel` trait that the handwritten kernel implements (one method per syscall, taking
//! already decoded and checked arguments), and `dispatch`, which turns a syscall number and
//! six registers into a call of that trait. The kernel never decodes registers by hand.
//! Names the dispatch gives itself end in `_`, so no IDL name can shadow them.

use super::names::fn_name;
use super::rust_common::*;
use super::writer::{rs_str, W};
use crate::model::*;
use crate::Output;
use crate::{w, wc, wo};

pub fn generate(m: &Model) -> Vec<Output> {
    let methods: usize = m.interfaces.iter().map(|i| i.methods.len()).sum();
    // About what a method and a struct take, so that the text is not copied as it grows.
    let mut w = W::with_capacity(65536 + methods * 1000 + m.structs.len() * 1500);
    w.out.push_str(&banner_all(m));
    w.line("/// Markers shared by the generated modules.");
    w.line("#[allow(dead_code)]");
    wo!(w, "pub mod abi {{");
    abi_common(&mut w);
    wc!(w, "}}");
    for li in 0..m.libraries.len() {
        w.rs_docs(&m.libraries[li].docs);
        w.line("#[allow(clippy::all, dead_code)]");
        wo!(w, "pub mod {} {{", m.libraries[li].short);
        library_types(&mut w, m, li);
        wc!(w, "}}");
    }
    if m.status_enum().is_some() {
        dispatch(&mut w, m);
    }
    vec![Output {
        path: "kernel_dispatch.rs".into(),
        contents: w.out,
    }]
}

/// A type path as seen from the root of the generated file (not from a sibling module).
fn root_path(m: &Model, lib: usize, name: &str) -> String {
    format!("{}::{name}", m.libraries[lib].short)
}

fn dispatch(w: &mut W, m: &Model) {
    let st = m.status_enum().map_or(String::new(), |s| root_path(m, s.lib, &s.name));
    let rights = m
        .rights_bits()
        .map_or("u64".to_string(), |r| root_path(m, r.lib, &r.name));
    let invalid = format!("{st}::INVALID_ARGS");
    w.blank();
    w.line("pub use self::abi::Pod;");
    for i in m.objects() {
        for me in &i.methods {
            w!(w, "pub const {}: u64 = {};", kernel_sys(i, me), me.syscall.unwrap_or(0));
        }
    }
    w.blank();
    w.line("/// The type of a kernel object, as capabilities record it.");
    w.line("#[repr(u32)]");
    w.line("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]");
    wo!(w, "pub enum ObjectType {{");
    for o in m.objects() {
        w.rs_docs(&o.docs);
        w!(w, "{} = {},", o.name, o.object_id.unwrap_or(0));
    }
    wc!(w, "}}");
    wo!(w, "impl ObjectType {{");
    wo!(w, "pub const fn name(self) -> &'static str {{");
    wo!(w, "match self {{");
    for o in m.objects() {
        w!(w, "ObjectType::{} => {},", o.name, rs_str(&o.name));
    }
    wc!(w, "}}");
    wc!(w, "}}");
    wc!(w, "}}");
    w.blank();
    w.lines(&format!(
        "/// How one syscall argument is passed and checked.
#[derive(Clone, Copy, Debug)]
pub enum Arg {{
    /// A capability slot; the holder needs `rights` on an object of type `object` (`None`: any).
    Cap {{ name: &'static str, object: Option<ObjectType>, rights: {rights}, moved: bool }},
    /// A user pointer and a length of at most `max` bytes (two registers).
    Bytes {{ name: &'static str, max: u64, string: bool }},
    /// A user pointer to a struct of `size` bytes.
    Struct {{ name: &'static str, size: u32 }},
    /// A value in one register, checked for range.
    Value {{ name: &'static str }},
}}

/// Static description of a syscall, for tests and tracing.
#[derive(Clone, Copy, Debug)]
pub struct SyscallInfo {{
    pub number: u64,
    pub name: &'static str,
    pub blocking: bool,
    pub noreturn: bool,
    pub args: &'static [Arg],
    pub results: usize,
}}
"
    ));
    w.line("/// Every syscall, in declaration order.");
    wo!(w, "pub static SYSCALLS: &[SyscallInfo] = &[");
    for i in m.objects() {
        for me in &i.methods {
            let args: Vec<String> = me.params.iter().map(|p| arg_info(m, p, &rights)).collect();
            w!(
                w,
                "SyscallInfo {{ number: {}, name: {}, blocking: {}, noreturn: {}, args: &[{}], results: {} }},",
                kernel_sys(i, me),
                rs_str(&format!("{}.{}", i.name, me.name)),
                me.blocking,
                me.noreturn,
                args.join(", "),
                me.results.len()
            );
        }
    }
    wc!(w, "];");
    w.lines(
        "
/// Looks a syscall up by number.
pub fn syscall_info(nr: u64) -> Option<&'static SyscallInfo> {
    SYSCALLS.iter().find(|s| s.number == nr)
}
",
    );
    objects_and_caps(w, m, &st, &rights);
    w.line("/// What the kernel implements besides the handlers: looking capabilities up, checking");
    w.line("/// user memory, placing new capabilities. The handlers are in one trait per object.");
    wo!(w, "pub trait Kernel {{");
    w.lines(&format!(
        "/// The kernel's type for each kind of object.
type T: Types;
/// A capability looked up in the caller's CNode.
type Cap: CapRef<Self::T>;
/// A validated user buffer (pointer and length checked against the caller's memory).
type UserBytes;
/// A new capability a handler returns; `install` puts it in the caller's CNode.
type NewCap;
/// Looks `slot` up in the caller's CNode (`INVALID_CAP` if it is empty or out of range);
/// the dispatch checks its type and rights.
fn lookup(&mut self, slot: u64) -> Result<Self::Cap, {st}>;
/// Validates a user buffer of `len` bytes at `ptr`.
fn user_bytes(&mut self, ptr: u64, len: u64) -> Result<Self::UserBytes, {st}>;
/// Copies a plain-data struct in from user memory at `ptr`.
fn user_struct<T: Pod>(&mut self, ptr: u64) -> Result<T, {st}>;
/// Places a new capability in a free slot of the caller's CNode and returns the slot.
fn install(&mut self, cap: Self::NewCap) -> Result<u64, {st}>;"
    ));
    wc!(w, "}}");
    for i in m.objects().filter(|i| !i.methods.is_empty()) {
        w!(
            w,
            "/// The syscalls of `{}` objects (`{}`), with their arguments decoded and checked.",
            i.name,
            i.name
        );
        wo!(w, "pub trait {}Syscalls: Kernel {{", i.name);
        for me in &i.methods {
            let params: Vec<String> = me
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name, param_ty(m, p.ty)))
                .collect();
            let rets: Vec<String> = me.results.iter().map(|p| result_ty(m, p.ty)).collect();
            let rt = match rets.len() {
                0 => "()".to_string(),
                1 => rets[0].clone(),
                _ => format!("({})", rets.join(", ")),
            };
            let mut dl = vec![format!(
                "`{}.{}` (syscall {}).",
                i.name,
                me.name,
                me.syscall.unwrap_or(0)
            )];
            dl.extend(me.docs.iter().cloned());
            w.rs_docs(&dl);
            let sep = if params.is_empty() { "" } else { ", " };
            w!(
                w,
                "fn {}(&mut self{sep}{}) -> Result<{rt}, {st}>;",
                fn_name(i, me),
                params.join(", ")
            );
            if me.fastpath {
                w.line("/// The fast path, tried first with the same arguments: `None` when one of its");
                w.line("/// conditions does not hold, and the general handler runs.");
                w!(
                    w,
                    "fn {}_fast(&mut self{sep}{}) -> Option<Result<{rt}, {st}>>;",
                    fn_name(i, me),
                    params.join(", ")
                );
            }
        }
        wc!(w, "}}");
    }
    let bounds: Vec<String> = m
        .objects()
        .filter(|i| !i.methods.is_empty())
        .map(|i| format!("{}Syscalls", i.name))
        .collect();
    w!(
        w,
        "/// Everything the dispatch needs: the kernel and every object's syscalls."
    );
    w!(w, "pub trait AllSyscalls: Kernel + {} {{}}", bounds.join(" + "));
    w!(w, "impl<K: Kernel + {}> AllSyscalls for K {{}}", bounds.join(" + "));
    // One function per syscall, each with its own small frame, reached through one dense table
    // indexed by the syscall number: a single `match` holding every syscall's decoding made
    // one function whose prologue and 2 KiB frame every syscall paid for, and a `match` of
    // calls is lowered to two range checks and a call (syscall numbers are sparse).
    let numbers: Vec<u64> = m
        .objects()
        .flat_map(|i| i.methods.iter().map(|me| me.syscall.unwrap_or(0)))
        .collect();
    let base = numbers.iter().copied().min().unwrap_or(0);
    let span = numbers.iter().copied().max().map_or(0, |hi| hi - base + 1);
    w.lines(&format!(
        "
/// The lowest syscall number, and how many numbers from it the dispatch table covers (every
/// number from the lowest syscall to the highest: at most 255 objects of 64 methods each).
pub const SYSCALL_BASE: u64 = {base};
pub const SYSCALL_SPAN: usize = {span};

/// The function that decodes one syscall.
type SysFn_<K> = fn(&mut K, &mut [u64; 6]) -> u64;

/// The dispatch table: each syscall's function at its number minus `SYSCALL_BASE`, and
/// `unknown_` at numbers no method has.
const fn table_<K: AllSyscalls>() -> [SysFn_<K>; SYSCALL_SPAN] {{
    #[allow(unused_mut)]
    let mut t_: [SysFn_<K>; SYSCALL_SPAN] = [unknown_::<K>; SYSCALL_SPAN];"
    ));
    for i in m.objects() {
        for me in &i.methods {
            w!(
                w,
                "    t_[({} - SYSCALL_BASE) as usize] = {}::<K>;",
                kernel_sys(i, me),
                sys_fn(i, me)
            );
        }
    }
    w.lines(&format!(
        "    t_
}}

/// The table as a constant of every kernel type, so that it is built at compile time and a
/// reference to it is a static.
trait Table_: AllSyscalls + Sized {{
    const TABLE_: [SysFn_<Self>; SYSCALL_SPAN];
}}
impl<K: AllSyscalls> Table_ for K {{
    const TABLE_: [SysFn_<Self>; SYSCALL_SPAN] = table_::<K>();
}}

/// Decodes syscall `nr` from the six argument registers `regs` (in ABI order), calls the
/// handler, and writes its results into the same registers; returns the status for rax.
/// A syscall refused here returns all six registers zero; one that succeeds (or blocks, and
/// ends later with its waker's status) leaves the registers it has no result for as the
/// caller passed them.
#[inline]
pub fn dispatch<K: AllSyscalls>(k_: &mut K, nr_: u64, regs_: &mut [u64; 6]) -> u64 {{
    let t_ = &<K as Table_>::TABLE_;
    match t_.get(nr_.wrapping_sub(SYSCALL_BASE) as usize) {{
        Some(f_) => f_(k_, regs_),
        None => unknown_(k_, regs_),
    }}
}}

/// A syscall number no method has.
#[cold]
#[inline(never)]
fn unknown_<K: AllSyscalls>(_k: &mut K, regs_: &mut [u64; 6]) -> u64 {{
    failed_(regs_, {st}::UNKNOWN_METHOD)
}}

/// A failed syscall: all six result registers zero, the status for rax.
#[cold]
#[inline(never)]
fn failed_(regs_: &mut [u64; 6], e_: {st}) -> u64 {{
    *regs_ = [0; 6];
    e_.0 as u64
}}
"
    ));
    for i in m.objects() {
        for me in &i.methods {
            // The dispatch jumps straight here (a tail call), and this returns the status.
            w!(
                w,
                "/// `{}.{}`: decodes, checks, calls the handler, writes the results.",
                i.name,
                me.name
            );
            w.line("#[inline(never)]");
            wo!(
                w,
                "fn {}<K: AllSyscalls>(k_: &mut K, a_: &mut [u64; 6]) -> u64 {{",
                sys_fn(i, me)
            );
            w.line("#[inline(always)]");
            w.line("#[allow(unused_variables)]");
            wo!(
                w,
                "fn body_<K: AllSyscalls>(k_: &mut K, a_: &mut [u64; 6]) -> Result<(), {st}> {{"
            );
            let mut reg = 0usize;
            let mut call = Vec::new();
            for p in &me.params {
                let pn = &p.name;
                let r = reg;
                match p.ty {
                    Ty::Cap { object, rights: rv, .. } => {
                        // Type, then rights, as the kernel documents: INVALID_CAP (lookup),
                        // WRONG_TYPE, ACCESS_DENIED.
                        // Borrowed where `lookup` put it: moving the capability out of the
                        // `Result` copied it on every syscall.
                        w!(w, "let {pn}_r_ = k_.lookup(a_[{r}]);");
                        w!(
                            w,
                            "let {pn}_c_ = match &{pn}_r_ {{ Ok(c_) => c_, Err(e_) => return Err(*e_) }};"
                        );
                        let wanted = if rv == 0 {
                            String::new()
                        } else {
                            rights_expr(m, &rights, rv)
                        };
                        match object {
                            Some(o) => {
                                let on = &m.interfaces[o].name;
                                w!(
                                    w,
                                    "let {pn} = match {pn}_c_.object() {{ Object::{on}(o_) => Checked {{ object: o_, rights: {pn}_c_.rights(), badge: {pn}_c_.badge(), cap: {pn}_c_ }}, _ => return Err({st}::WRONG_TYPE) }};"
                                );
                                if !wanted.is_empty() {
                                    w!(
                                        w,
                                        "if !{pn}.rights.contains({wanted}) {{ return Err({st}::ACCESS_DENIED); }}"
                                    );
                                }
                            }
                            None => {
                                if !wanted.is_empty() {
                                    w!(w, "if !{pn}_c_.rights().contains({wanted}) {{ return Err({st}::ACCESS_DENIED); }}");
                                }
                                w!(w, "let {pn} = {pn}_c_;");
                            }
                        }
                    }
                    Ty::Bytes(n) | Ty::String(n) => {
                        w!(w, "if a_[{}] > {n} {{ return Err({invalid}); }}", r + 1);
                        w!(w, "let {pn} = k_.user_bytes(a_[{r}], a_[{}])?;", r + 1);
                    }
                    Ty::Struct(s) => {
                        let t = root_path(m, m.structs[s].lib, &m.structs[s].name);
                        w!(w, "let {pn}: {t} = k_.user_struct(a_[{r}])?;");
                        w!(w, "if !{pn}.is_valid() {{ return Err({invalid}); }}");
                    }
                    Ty::Scalar(Scalar::Bool) => {
                        w!(
                            w,
                            "let {pn} = match a_[{r}] {{ 0 => false, 1 => true, _ => return Err({invalid}) }};"
                        );
                    }
                    Ty::Scalar(s) => {
                        let t = scalar(s);
                        let conv = if s == Scalar::U64 {
                            format!("a_[{r}]")
                        } else if s.is_unsigned_int() {
                            format!("{t}::try_from(a_[{r}]).map_err(|_| {invalid})?")
                        } else {
                            format!("{t}::try_from(a_[{r}] as i64).map_err(|_| {invalid})?")
                        };
                        w!(w, "let {pn}: {t} = {conv};");
                    }
                    Ty::Enum(_) | Ty::Bits(_) => {
                        let (e, check) = match p.ty {
                            Ty::Enum(e) => (&m.enums[e], "is_known"),
                            Ty::Bits(b) => (&m.bits[b], "is_valid"),
                            _ => unreachable!(),
                        };
                        let t = root_path(m, e.lib, &e.name);
                        let u = scalar(e.underlying);
                        w!(w, "let {pn} = {t}({u}::try_from(a_[{r}]).map_err(|_| {invalid})?);");
                        w!(w, "if !{pn}.{check}() {{ return Err({invalid}); }}");
                    }
                }
                call.push(pn.clone());
                reg += syscall_regs(p.ty);
            }
            let names: Vec<String> = me.results.iter().map(|p| format!("{}_v_", p.name)).collect();
            let pat = match names.len() {
                0 => "()".to_string(),
                1 => names[0].clone(),
                _ => format!("({})", names.join(", ")),
            };
            if me.fastpath {
                w!(
                    w,
                    "let {pat} = match k_.{}_fast({}) {{",
                    fn_name(i, me),
                    call.join(", ")
                );
                w!(w, "Some(r_) => r_?,");
                w!(w, "None => k_.{}({})?,", fn_name(i, me), call.join(", "));
                w.line("};");
            } else {
                w!(w, "let {pat} = k_.{}({})?;", fn_name(i, me), call.join(", "));
            }
            // Every argument has been read by now: the results go into the same registers.
            for (k, p) in me.results.iter().enumerate() {
                let v = &names[k];
                match p.ty {
                    Ty::Cap { .. } => w!(w, "a_[{k}] = k_.install({v})?;"),
                    Ty::Scalar(Scalar::Bool) => w!(w, "a_[{k}] = u64::from({v});"),
                    Ty::Scalar(_) => w!(w, "a_[{k}] = {v} as u64;"),
                    Ty::Enum(_) | Ty::Bits(_) => w!(w, "a_[{k}] = {v}.0 as u64;"),
                    _ => {}
                }
            }
            w.line("Ok(())");
            wc!(w, "}}");
            w.line("match body_(k_, a_) { Ok(()) => 0, Err(e_) => failed_(a_, e_) }");
            wc!(w, "}}");
        }
    }
}

/// The generated function that decodes one syscall.
fn sys_fn(i: &Interface, me: &Method) -> String {
    format!("sys_{}_", fn_name(i, me))
}

/// The kernel's object types, the enum of what a capability names, and the checked
/// capability handlers receive.
fn objects_and_caps(w: &mut W, m: &Model, _st: &str, rights: &str) {
    w.line("/// The kernel's type for each kind of object (a reference it can clone).");
    wo!(w, "pub trait Types {{");
    for o in m.objects() {
        w!(w, "type {}: Clone;", o.name);
    }
    wc!(w, "}}");
    w.line("/// What a capability names: an object of one of the kinds the IDL declares.");
    wo!(w, "pub enum Object<T: Types> {{");
    for o in m.objects() {
        w!(w, "{}(T::{}),", o.name, o.name);
    }
    wc!(w, "}}");
    wo!(w, "impl<T: Types> Clone for Object<T> {{");
    // Every syscall's capability lookup clones one: inlined, the arms fold into one
    // reference-count increment.
    w.line("#[inline(always)]");
    wo!(w, "fn clone(&self) -> Self {{");
    wo!(w, "match self {{");
    for o in m.objects() {
        w!(w, "Object::{n}(o_) => Object::{n}(o_.clone()),", n = o.name);
    }
    wc!(w, "}}");
    wc!(w, "}}");
    wc!(w, "}}");
    wo!(w, "impl<T: Types> Object<T> {{");
    w.line("/// The kind of object.");
    wo!(w, "pub fn object_type(&self) -> ObjectType {{");
    wo!(w, "match self {{");
    for o in m.objects() {
        w!(w, "Object::{n}(_) => ObjectType::{n},", n = o.name);
    }
    wc!(w, "}}");
    wc!(w, "}}");
    wc!(w, "}}");
    w.line("/// A capability as the kernel looked it up: the object, the rights and the badge.");
    wo!(w, "pub trait CapRef<T: Types> {{");
    w.line("fn object(&self) -> &Object<T>;");
    w!(w, "fn rights(&self) -> {rights};");
    w.line("fn badge(&self) -> u64;");
    wc!(w, "}}");
    w.line("/// A capability argument that passed its type and rights checks: the object, already");
    w.line("/// of the type the syscall needs, with the capability it came through.");
    wo!(w, "pub struct Checked<'a, O, C> {{");
    w.line("pub object: &'a O,");
    w!(w, "pub rights: {rights},");
    w.line("pub badge: u64,");
    w.line("pub cap: &'a C,");
    wc!(w, "}}");
    w.line("impl<O, C> Clone for Checked<'_, O, C> { fn clone(&self) -> Self { *self } }");
    w.line("impl<O, C> Copy for Checked<'_, O, C> {}");
    wo!(w, "impl<O, C> core::ops::Deref for Checked<'_, O, C> {{");
    w.line("type Target = O;");
    w.line("fn deref(&self) -> &O { self.object }");
    wc!(w, "}}");
}

/// The rights in `mask` by name (`Rights(Rights::READ.0 | Rights::MAP.0)`), so no bare number
/// stands for a set of rights in generated code.
fn rights_expr(m: &Model, rights: &str, mask: u64) -> String {
    let names = m.rights_names(mask);
    if names.is_empty() {
        return format!("{rights}::NONE");
    }
    let parts: Vec<String> = names.iter().map(|n| format!("{rights}::{n}.0")).collect();
    format!("{rights}({})", parts.join(" | "))
}

fn kernel_sys(i: &Interface, me: &Method) -> String {
    format!("SYS_{}", fn_name(i, me).to_ascii_uppercase())
}

fn arg_info(m: &Model, p: &Param, rights: &str) -> String {
    let name = rs_str(&p.name);
    match p.ty {
        Ty::Cap { object, rights: rv, .. } => {
            let ot = object.map_or("None".to_string(), |o| {
                format!("Some(ObjectType::{})", m.interfaces[o].name)
            });
            format!(
                "Arg::Cap {{ name: {name}, object: {ot}, rights: {}, moved: {} }}",
                rights_expr(m, rights, rv),
                p.moved
            )
        }
        Ty::Bytes(n) | Ty::String(n) => format!(
            "Arg::Bytes {{ name: {name}, max: {n}, string: {} }}",
            matches!(p.ty, Ty::String(_))
        ),
        Ty::Struct(s) => format!("Arg::Struct {{ name: {name}, size: {} }}", m.structs[s].size),
        _ => format!("Arg::Value {{ name: {name} }}"),
    }
}

fn param_ty(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Cap { object: Some(o), .. } => {
            format!("Checked<'_, <Self::T as Types>::{}, Self::Cap>", m.interfaces[o].name)
        }
        Ty::Cap { object: None, .. } => "&Self::Cap".into(),
        Ty::Bytes(_) | Ty::String(_) => "Self::UserBytes".into(),
        Ty::Struct(s) => root_path(m, m.structs[s].lib, &m.structs[s].name),
        Ty::Scalar(s) => scalar(s).into(),
        Ty::Enum(e) => root_path(m, m.enums[e].lib, &m.enums[e].name),
        Ty::Bits(b) => root_path(m, m.bits[b].lib, &m.bits[b].name),
    }
}

fn result_ty(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Cap { .. } => "Self::NewCap".into(),
        t => param_ty(m, t),
    }
}

/// For tests of the generated dispatch: `impl <Object>Syscalls for <mock>` for every object,
/// each handler taking its checked arguments and answering `<mock>::ok()` (which must return
/// `Ok(Default::default())`), so a mock kernel keeps up with `idl/` without being edited.
pub fn mock_handlers(m: &Model, mock: &str, module: &str) -> String {
    let st = m
        .status_enum()
        .map_or(String::new(), |s| format!("{module}::{}", root_path(m, s.lib, &s.name)));
    let mut o = String::new();
    for i in m.objects().filter(|i| !i.methods.is_empty()) {
        o.push_str(&format!("impl {module}::{}Syscalls for {mock} {{\n", i.name));
        for me in &i.methods {
            let params: Vec<String> = me
                .params
                .iter()
                .map(|p| {
                    let t = param_ty(m, p.ty)
                        .replace("Types", &format!("{module}::Types"))
                        .replace("Checked", &format!("{module}::Checked"));
                    format!("_{}: {}", p.name, qualify(m, &t, module))
                })
                .collect();
            let rets: Vec<String> = me
                .results
                .iter()
                .map(|p| qualify(m, &result_ty(m, p.ty), module))
                .collect();
            let rt = match rets.len() {
                0 => "()".to_string(),
                1 => rets[0].clone(),
                _ => format!("({})", rets.join(", ")),
            };
            let sep = if params.is_empty() { "" } else { ", " };
            o.push_str(&format!(
                "    fn {}(&mut self{sep}{}) -> Result<{rt}, {st}> {{ self.ok() }}\n",
                fn_name(i, me),
                params.join(", ")
            ));
            if me.fastpath {
                o.push_str(&format!(
                    "    fn {}_fast(&mut self{sep}{}) -> Option<Result<{rt}, {st}>> {{ None }}\n",
                    fn_name(i, me),
                    params.join(", ")
                ));
            }
        }
        o.push_str("}\n");
    }
    o
}

/// Prefixes the library paths in a generated type with the module the dispatch is in.
fn qualify(m: &Model, ty: &str, module: &str) -> String {
    let mut t = ty.to_string();
    for l in &m.libraries {
        let from = format!("{}::", l.short);
        if t.starts_with(&from) {
            t = format!("{module}::{t}");
        }
    }
    t
}
