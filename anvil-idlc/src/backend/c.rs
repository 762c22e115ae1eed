//! The C backend: one header per library (`anvil/<library>.h`) plus `anvil/abi.h` with the
//! syscall instruction, the message buffer and the helpers clients and servers share.
//! Headers are freestanding C11 that also compile as C++17.
//!
//! Locals and helpers the generated C makes for itself end in `_`, which no IDL name may, so
//! IDL names cannot shadow them; parameters visible in signatures (`ep`, `ctx`, `badge`,
//! `error`) step aside with `Locals` when an IDL name takes theirs.
//!
//! Every `if`, `for` and `while` body is a braced block: for an unbraced one, GCC's
//! -Wmisleading-indentation (in -Wall) reads the source lines back from the header, which
//! costs time growing with the square of the header's size (a header of 10,000 methods took
//! gcc minutes instead of seconds).

use std::collections::BTreeSet;

use super::names::*;
use super::writer::W;
use crate::model::*;
use crate::Output;
use crate::{w, wc, wo};

pub fn generate(m: &Model) -> Vec<Output> {
    let mut outs = vec![Output {
        path: "anvil/abi.h".into(),
        contents: abi_header(m),
    }];
    for (li, lib) in m.libraries.iter().enumerate() {
        outs.push(Output {
            path: format!("anvil/{}.h", lib.short),
            contents: library_header(m, li),
        });
    }
    outs
}

/// Makes a doc line safe inside a C block comment: no `*/` to end it early, no `??` that a
/// C11 compiler reads as a trigraph, no control characters.
fn doc_text(d: &str) -> String {
    let mut s: String = d.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    while s.contains("*/") {
        s = s.replace("*/", "* /");
    }
    while s.contains("??") {
        s = s.replace("??", "? ?");
    }
    s
}

fn doc(w: &mut W, docs: &[String]) {
    if docs.is_empty() {
        return;
    }
    w.line("/**");
    for d in docs {
        let d = doc_text(d);
        if d.is_empty() {
            w.line(" *");
        } else {
            w!(w, " * {d}");
        }
    }
    w.line(" */");
}

/// The C spelling of a type stored inline (struct field, message field).
fn c_inline(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Scalar(s) => s.c_name().into(),
        Ty::Enum(e) => c_type(&m.enums[e].name),
        Ty::Bits(b) => c_type(&m.bits[b].name),
        Ty::Struct(s) => c_type(&m.structs[s].name),
        Ty::Bytes(_) => "uint8_t".into(),
        Ty::String(_) => "char".into(),
        Ty::Cap { .. } => cap_ty(m, ty),
    }
}

/// The C type of a capability value: `anvil_cap_t`, or the distinct handle of an endpoint
/// of a protocol.
fn cap_ty(m: &Model, ty: Ty) -> String {
    match protocol_of(ty) {
        Some(p) => c_ep_type(&m.interfaces[p]),
        None => "anvil_cap_t".into(),
    }
}

/// The slot of capability value `v`.
fn slot_of(ty: Ty, v: &str) -> String {
    match protocol_of(ty) {
        Some(_) => format!("{v}.slot"),
        None => v.to_string(),
    }
}

/// A capability value of type `ty` made from slot expression `s`.
fn from_slot(m: &Model, ty: Ty, s: &str) -> String {
    match protocol_of(ty) {
        Some(p) => format!("{}({s})", c_ep_ctor(&m.interfaces[p])),
        None => s.to_string(),
    }
}

fn literal(v: u64) -> String {
    if v < 10 {
        format!("{v}u")
    } else if v <= u64::from(u32::MAX) {
        format!("0x{v:x}u")
    } else {
        format!("0x{v:x}ull")
    }
}

fn status_const(m: &Model, name: &str) -> String {
    match m.status_enum() {
        Some(e) => c_member(&e.name, name),
        None => "0u".into(),
    }
}

/// The value of a status member, for `abi.h`, which comes before the status enum's header.
fn status_value(m: &Model, name: &str) -> u64 {
    m.status_enum()
        .and_then(|e| e.members.iter().find(|mm| mm.name == name))
        .map_or(0, |mm| mm.value)
}

fn abi_source(m: &Model) -> String {
    let lib = m
        .consts
        .iter()
        .find(|c| c.name == "MSG_DATA_BYTES")
        .map(|c| c.lib)
        .or(m.status_enum().map(|e| e.lib));
    match lib {
        Some(l) => m.source_of(l).to_string(),
        None => m.source_names().join(", "),
    }
}

fn abi_header(m: &Model) -> String {
    let mut w = W::new();
    w.out.push_str(&crate::banner(&abi_source(m), "//"));
    w.line("/* anvil/abi.h: the syscall instruction, capability handles, the IPC message buffer, and the");
    w.line(" * helpers generated clients and servers share. Freestanding C11; compiles as C++17 too. */");
    w.lines(
        r#"#ifndef ANVIL_ABI_H
#define ANVIL_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define ANVIL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define ANVIL_ALIGNAS(n) alignas(n)
#define ANVIL_NORETURN [[noreturn]]
extern "C" {
#else
#define ANVIL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define ANVIL_ALIGNAS(n) _Alignas(n)
#define ANVIL_NORETURN _Noreturn
#endif

/** A capability: the index of a slot in the caller's CNode. */
typedef uint64_t anvil_cap_t;

/**
 * Enters the kernel: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9;
 * status comes back in rax, results in the same six registers. The registers are loaded
 * and stored inside the asm, so no register variables are needed (C++17 has none).
 */
static inline uint64_t anvil_syscall6(uint64_t nr, const uint64_t a[6], uint64_t r[6]) {
    uint64_t rax = nr;
    __asm__ volatile("movq 0(%[a]), %%rdi\n\t"
                     "movq 8(%[a]), %%rsi\n\t"
                     "movq 16(%[a]), %%rdx\n\t"
                     "movq 24(%[a]), %%r10\n\t"
                     "movq 32(%[a]), %%r8\n\t"
                     "movq 40(%[a]), %%r9\n\t"
                     "syscall\n\t"
                     "movq %%rdi, 0(%[r])\n\t"
                     "movq %%rsi, 8(%[r])\n\t"
                     "movq %%rdx, 16(%[r])\n\t"
                     "movq %%r10, 24(%[r])\n\t"
                     "movq %%r8, 32(%[r])\n\t"
                     "movq %%r9, 40(%[r])"
                     : "+a"(rax)
                     : [a] "r"(a), [r] "r"(r)
                     : "rcx", "r11", "rdi", "rsi", "rdx", "r10", "r8", "r9", "memory");
    return rax;
}

/* What a noreturn stub does when its syscall comes back, which means it failed: it stops the
 * thread on an invalid opcode with the status in rax, so the failure shows as a fault report
 * instead of a silent spin. */
ANVIL_NORETURN static inline void anvil_trap_(uint64_t status) {
    __asm__ volatile("ud2" : : "a"(status));
    __builtin_unreachable();
}

/* Byte copy that needs no libc (the headers are freestanding). */
static inline void anvil_copy_bytes(void *dst, const void *src, size_t n) {
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
    }
}

static inline void anvil_zero_bytes(void *dst, size_t n) {
    uint8_t *d = (uint8_t *)dst;
    for (size_t i = 0; i < n; i++) {
        d[i] = 0;
    }
}

/* Little-endian loads at any alignment, for checking received bytes before they are read
 * as typed values. */
static inline uint64_t anvil_load_(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

/** True if `s[0..n]` is UTF-8, with exactly the rules of Rust's `core::str::from_utf8`. */
static inline bool anvil_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const uint8_t c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80u) {
            i++;
            continue;
        } else if ((c & 0xE0u) == 0xC0u) {
            len = 2;
            min = 0x80u;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0u) == 0xE0u) {
            len = 3;
            min = 0x800u;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8u) == 0xF0u) {
            len = 4;
            min = 0x10000u;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (n - i < len) {
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0u) != 0x80u) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) {
            return false;
        }
        i += len;
    }
    return true;
}

/* A string<N> stored inline in a struct: UTF-8 up to the first NUL. */
static inline bool anvil_str_valid_(const uint8_t *s, size_t n) {
    size_t len = 0;
    while (len < n && s[len] != 0) {
        len++;
    }
    return anvil_utf8_valid(s, len);
}
"#,
    );
    if m.msg_data_bytes > 0 {
        let n = m.msg_max_caps;
        let hdr = 24 + 16 * n;
        w.lines(&format!(
            r#"/**
 * An IPC message as it lies in a thread's IPC buffer. `label` carries the protocol id and the
 * method ordinal in a request, and the status in a reply; `badge`, `cap_types` and
 * `cap_rights` are filled in by the kernel on receive (the object type id, 0 for none, and
 * the rights of each capability that arrived).
 */
typedef struct anvil_msg {{
    uint64_t label;
    uint64_t badge;
    uint32_t data_len;
    uint32_t cap_count;
    anvil_cap_t caps[{n}];
    uint32_t cap_types[{n}];
    uint32_t cap_rights[{n}];
    ANVIL_ALIGNAS(8) uint8_t data[{data}];
}} anvil_msg_t;
ANVIL_STATIC_ASSERT(offsetof(anvil_msg_t, cap_types) == {types_off}, "message header layout");
ANVIL_STATIC_ASSERT(offsetof(anvil_msg_t, cap_rights) == {rights_off}, "message header layout");
ANVIL_STATIC_ASSERT(offsetof(anvil_msg_t, data) == {hdr}, "message header layout");
ANVIL_STATIC_ASSERT(sizeof(anvil_msg_t) == {size}, "message size");

/** A reply label with this bit set carries the method's own error in its low 32 bits. */
#define ANVIL_MSG_METHOD_ERROR ((uint64_t)1 << 32)

/** Provided by the runtime: this thread's IPC buffer. */
anvil_msg_t *anvil_msg_buffer(void);
/** Provided by the runtime: sends the buffer's message to `ep` and waits for the reply in it. */
uint64_t anvil_msg_call(anvil_cap_t ep);
/** Provided by the runtime: deletes a capability this thread received and nobody kept. */
void anvil_msg_release(anvil_cap_t slot);

/** Zeroes the whole message, so that nothing from an earlier one is sent again. */
static inline void anvil_msg_clear(anvil_msg_t *m) {{
    anvil_zero_bytes(m, sizeof *m);
}}

/**
 * A capability that arrived with a request, already checked for object type and rights.
 * The dispatch deletes it when the handler returns, unless the handler takes it with
 * `anvil_rx_take`.
 */
typedef struct anvil_rx_cap {{
    anvil_cap_t slot;
    uint32_t type;
    uint32_t rights;
    bool taken;
}} anvil_rx_cap_t;

/** Keeps a received capability: it stays in this process's CNode, the caller's to delete. */
static inline anvil_cap_t anvil_rx_take(anvil_rx_cap_t *c) {{
    c->taken = true;
    return c->slot;
}}

/** The capabilities that arrived with a message, taken out before the buffer is reused. */
typedef struct anvil_rx {{
    anvil_rx_cap_t cap[{n}];
    uint32_t count;
}} anvil_rx_t;

static inline void anvil_rx_init_(anvil_rx_t *rx, const anvil_msg_t *m) {{
    rx->count = m->cap_count < {n}u ? m->cap_count : {n}u;
    for (uint32_t i = 0; i < {n}u; i++) {{
        rx->cap[i].slot = m->caps[i];
        rx->cap[i].type = i < rx->count ? m->cap_types[i] : 0u;
        rx->cap[i].rights = m->cap_rights[i];
        rx->cap[i].taken = false;
    }}
}}

/* Checks capability `i` as the kernel checks a syscall's: present (INVALID_CAP), of object
 * type `object` unless it is 0 (WRONG_TYPE), holding `rights` (ACCESS_DENIED). */
static inline uint32_t anvil_rx_check_(const anvil_rx_t *rx, uint32_t i, uint32_t object, uint32_t rights) {{
    if (i >= rx->count || rx->cap[i].type == 0u) {{
        return {invalid_cap}u; /* INVALID_CAP */
    }}
    if (object != 0u && rx->cap[i].type != object) {{
        return {wrong_type}u; /* WRONG_TYPE */
    }}
    if ((rx->cap[i].rights & rights) != rights) {{
        return {access_denied}u; /* ACCESS_DENIED */
    }}
    return 0u;
}}

/* Deletes every capability that arrived and was not taken. */
static inline void anvil_rx_release_(anvil_rx_t *rx) {{
    for (uint32_t i = 0; i < rx->count; i++) {{
        if (!rx->cap[i].taken && rx->cap[i].type != 0u) {{
            anvil_msg_release(rx->cap[i].slot);
        }}
    }}
    rx->count = 0;
}}

/* Decodes a reply label: returns the status (0: the server answered), and stores the method's
 * own error, if the label carries one, in `*error` (non-zero, at most `max_error`; 0 when the
 * method's errors are statuses). Anything else is a malformed reply (INVALID_ARGS). */
static inline uint32_t anvil_reply_decode_(uint64_t label, uint64_t max_error, uint64_t *error) {{
    const uint64_t low = label & 0xFFFFFFFFu;
    *error = 0;
    if (label == low) {{
        return (uint32_t)low;
    }}
    if (label == (ANVIL_MSG_METHOD_ERROR | low) && low != 0 && low <= max_error) {{
        *error = low;
        return 0u;
    }}
    return {invalid_args}u; /* INVALID_ARGS */
}}
"#,
            data = m.msg_data_bytes.div_ceil(8) * 8,
            types_off = 24 + 8 * n,
            rights_off = 24 + 12 * n,
            size = hdr + m.msg_data_bytes.div_ceil(8) * 8,
            invalid_cap = status_value(m, "INVALID_CAP"),
            wrong_type = status_value(m, "WRONG_TYPE"),
            access_denied = status_value(m, "ACCESS_DENIED"),
            invalid_args = status_value(m, "INVALID_ARGS"),
        ));
    }
    w.lines(
        "#ifdef __cplusplus
}
#endif

#endif /* ANVIL_ABI_H */",
    );
    w.out
}

fn library_header(m: &Model, li: usize) -> String {
    let lib = &m.libraries[li];
    let methods: usize = m
        .interfaces
        .iter()
        .filter(|i| i.lib == li)
        .map(|i| i.methods.len())
        .sum();
    let structs = m.structs.iter().filter(|s| s.lib == li).count();
    // About what a method and a struct take, so that the text is not copied as it grows.
    let mut w = W::with_capacity(65536 + methods * 3200 + structs * 1200);
    w.out.push_str(&crate::banner(m.source_of(li), "//"));
    w!(w, "/* anvil/{}.h: the `{}` library. */", lib.short, lib.name);
    doc(&mut w, &lib.docs);
    let g = c_guard(&lib.short);
    w!(w, "#ifndef {g}");
    w!(w, "#define {g}");
    w.blank();
    w.line("#include <anvil/abi.h>");
    for dep in dependencies(m, li) {
        w!(w, "#include <anvil/{}.h>", m.libraries[dep].short);
    }
    w.lines("\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n");
    for c in m.consts.iter().filter(|c| c.lib == li) {
        doc(&mut w, &c.docs);
        w!(
            w,
            "#define {} (({}){})\n",
            c_const(&c.name),
            c.ty.c_name(),
            literal(c.value)
        );
    }
    for e in m.enums.iter().filter(|e| e.lib == li) {
        enum_like(&mut w, e, false);
    }
    for b in m.bits.iter().filter(|b| b.lib == li) {
        enum_like(&mut w, b, true);
    }
    for s in m.structs.iter().filter(|s| s.lib == li) {
        let tn = c_type(&s.name);
        let fields: Vec<CField> = s
            .fields
            .iter()
            .map(|f| CField {
                name: &f.name,
                docs: &f.docs,
                ty: f.ty,
                offset: f.offset,
                len_offset: None,
            })
            .collect();
        c_struct(&mut w, m, &tn, &s.docs, &fields, s.size);
        struct_validator(&mut w, m, s);
    }
    for i in m.protocols().filter(|i| i.lib == li) {
        endpoint_type(&mut w, i);
    }
    for i in m.interfaces.iter().filter(|i| i.lib == li) {
        match i.object_id {
            Some(id) => object(&mut w, m, i, id),
            None => protocol(&mut w, m, i),
        }
    }
    w.lines("#ifdef __cplusplus\n}\n#endif\n");
    w!(w, "#endif /* {g} */");
    w.out
}

fn enum_like(w: &mut W, e: &Enum, bits: bool) {
    doc(w, &e.docs);
    let tn = c_type(&e.name);
    w!(w, "typedef {} {tn};", e.underlying.c_name());
    for mm in &e.members {
        doc(w, &mm.docs);
        w!(
            w,
            "#define {} (({tn}){})",
            c_member(&e.name, &mm.name),
            literal(mm.value)
        );
    }
    // The check generated code applies to a received value (trailing `_`: a helper).
    let helper = format!("anvil_{}_valid_", snake(&e.name));
    if bits {
        let all = e.members.iter().fold(0u64, |a, mm| a | mm.value);
        w!(
            w,
            "static inline bool {helper}(uint64_t v) {{ return (v & ~(uint64_t){}) == 0; }}",
            literal(all)
        );
    } else {
        wo!(w, "static inline bool {helper}(uint64_t v) {{");
        wo!(w, "switch (v) {{");
        for mm in &e.members {
            w!(w, "case {}:", literal(mm.value));
        }
        if !e.members.is_empty() {
            w.line("    return true;");
        }
        w.line("default:");
        w.line("    return false;");
        wc!(w, "}}");
        wc!(w, "}}");
    }
    w.blank();
}

struct CField<'a> {
    name: &'a str,
    docs: &'a [String],
    ty: Ty,
    offset: u32,
    len_offset: Option<u32>,
}

/// Emits a struct with static assertions of its size and of every field offset.
fn c_struct(w: &mut W, m: &Model, tn: &str, docs: &[String], fields: &[CField], size: u32) {
    doc(w, docs);
    wo!(w, "typedef struct {} {{", c_tag(tn));
    if fields.is_empty() {
        w.line("uint8_t unused_;");
    }
    for f in fields {
        doc(w, f.docs);
        if f.len_offset.is_some() {
            w!(w, "uint32_t {}_len;", f.name);
        }
        match f.ty {
            Ty::Bytes(n) | Ty::String(n) => w!(w, "{} {}[{n}];", c_inline(m, f.ty), f.name),
            _ => w!(w, "{} {};", c_inline(m, f.ty), f.name),
        }
    }
    wc!(w, "}} {tn};");
    if !fields.is_empty() {
        w!(w, "ANVIL_STATIC_ASSERT(sizeof({tn}) == {size}, \"layout of {tn}\");");
    }
    for f in fields {
        if let Some(lo) = f.len_offset {
            w!(
                w,
                "ANVIL_STATIC_ASSERT(offsetof({tn}, {}_len) == {lo}, \"layout of {tn}\");",
                f.name
            );
        }
        w!(
            w,
            "ANVIL_STATIC_ASSERT(offsetof({tn}, {}) == {}, \"layout of {tn}\");",
            f.name,
            f.offset
        );
    }
    w.blank();
}

/// The check of an inline value at byte pointer `p` (a C expression of type `const uint8_t *`),
/// as a C boolean expression, or `None` if every value is valid.
fn valid_at(m: &Model, ty: Ty, p: &str) -> Option<String> {
    match ty {
        Ty::Scalar(Scalar::Bool) => Some(format!("{p}[0] <= 1u")),
        Ty::Enum(e) => Some(format!(
            "anvil_{}_valid_(anvil_load_({p}, {}))",
            snake(&m.enums[e].name),
            m.enums[e].underlying.size()
        )),
        Ty::Bits(b) => Some(format!(
            "anvil_{}_valid_(anvil_load_({p}, {}))",
            snake(&m.bits[b].name),
            m.bits[b].underlying.size()
        )),
        Ty::Struct(s) => Some(format!("anvil_{}_valid_({p})", snake(&m.structs[s].name))),
        Ty::String(n) => Some(format!("anvil_str_valid_({p}, {n})")),
        _ => None,
    }
}

/// `anvil_<struct>_valid_(p)`: the checks of a struct received as bytes at `p`.
fn struct_validator(w: &mut W, m: &Model, s: &Struct) {
    let checks: Vec<String> = s
        .fields
        .iter()
        .filter_map(|f| valid_at(m, f.ty, &format!("(p + {})", f.offset)))
        .collect();
    let name = format!("anvil_{}_valid_", snake(&s.name));
    if checks.is_empty() {
        w!(
            w,
            "static inline bool {name}(const uint8_t *p) {{ (void)p; return true; }}\n"
        );
    } else {
        wo!(w, "static inline bool {name}(const uint8_t *p) {{");
        w!(w, "return {};", checks.join(" && "));
        wc!(w, "}}");
        w.blank();
    }
}

/// The distinct handle type of an endpoint that speaks protocol `i`.
fn endpoint_type(w: &mut W, i: &Interface) {
    let t = c_ep_type(i);
    w!(w, "/** An endpoint capability whose server speaks `{}`. */", i.name);
    w!(w, "typedef struct {{ anvil_cap_t slot; }} {t};");
    w!(
        w,
        "/** Names the endpoint in `slot` as one that speaks `{}`. */",
        i.name
    );
    wo!(w, "static inline {t} {}(anvil_cap_t slot) {{", c_ep_ctor(i));
    w!(w, "{t} e;");
    w.line("e.slot = slot;");
    w.line("return e;");
    wc!(w, "}}");
    w.blank();
}

/// C parameter declarations for one IDL parameter passed into a function.
fn c_in_params(m: &Model, p: &Param) -> Vec<String> {
    match p.ty {
        Ty::Bytes(_) => vec![format!("const uint8_t *{}", p.name), format!("size_t {}_len", p.name)],
        Ty::String(_) => vec![format!("const char *{}", p.name), format!("size_t {}_len", p.name)],
        Ty::Struct(_) => vec![format!("const {} *{}", c_inline(m, p.ty), p.name)],
        t => vec![format!("{} {}", c_inline(m, t), p.name)],
    }
}

/// C parameter declarations for one IDL result (written through pointers; NULL skips it).
fn c_out_params(m: &Model, p: &Param) -> Vec<String> {
    match p.ty {
        Ty::Bytes(_) => vec![
            format!("uint8_t *{}", p.name),
            format!("size_t {}_cap", p.name),
            format!("size_t *{}_len", p.name),
        ],
        Ty::String(_) => vec![
            format!("char *{}", p.name),
            format!("size_t {}_cap", p.name),
            format!("size_t *{}_len", p.name),
        ],
        t => vec![format!("{} *{}", c_inline(m, t), p.name)],
    }
}

fn method_doc(w: &mut W, m: &Model, me: &Method, extra: &[&str]) {
    let mut docs = me.docs.clone();
    for p in me.params.iter().chain(&me.results) {
        if let Ty::Cap { rights, .. } = p.ty {
            let r = m.rights_names(rights);
            if !r.is_empty() {
                docs.push(format!("`{}` needs rights {}.", p.name, r.join(" | ")));
            }
        }
        if p.moved {
            docs.push(format!("`{}` is moved: the caller loses it.", p.name));
        }
    }
    if me.blocking {
        docs.push("May block.".into());
    }
    docs.extend(extra.iter().map(|s| s.to_string()));
    doc(w, &docs);
}

fn object(w: &mut W, m: &Model, i: &Interface, id: u32) {
    doc(w, &i.docs);
    w!(w, "#define {} {id}u\n", c_object_id(&i.name));
    for me in &i.methods {
        let sys = c_syscall(i, me);
        w!(w, "#define {sys} {}u", me.syscall.unwrap_or(0));
        let st = c_type(&m.enums[me.error].name);
        let mut args: Vec<String> = me.params.iter().flat_map(|p| c_in_params(m, p)).collect();
        args.extend(me.results.iter().flat_map(|p| c_out_params(m, p)));
        if args.is_empty() {
            args.push("void".into());
        }
        let mut regs = Vec::new();
        for p in &me.params {
            match p.ty {
                Ty::Bytes(_) | Ty::String(_) => {
                    regs.push(format!("(uint64_t)(uintptr_t){}", p.name));
                    regs.push(format!("(uint64_t){}_len", p.name));
                }
                Ty::Struct(_) => regs.push(format!("(uint64_t)(uintptr_t){}", p.name)),
                t => regs.push(format!("(uint64_t){}", slot_of(t, &p.name))),
            }
        }
        while regs.len() < SYSCALL_REGS {
            regs.push("0".into());
        }
        if me.noreturn {
            method_doc(
                w,
                m,
                me,
                &["Does not return. If the call fails, the thread stops on an invalid opcode with the status in rax."],
            );
            wo!(
                w,
                "ANVIL_NORETURN static inline void {}({}) {{",
                c_fn(i, me),
                args.join(", ")
            );
        } else {
            method_doc(w, m, me, &[]);
            wo!(w, "static inline {st} {}({}) {{", c_fn(i, me), args.join(", "));
        }
        w!(w, "const uint64_t a_[6] = {{{}}};", regs.join(", "));
        w.line("uint64_t r_[6];");
        if me.noreturn {
            w!(w, "anvil_trap_(anvil_syscall6({sys}, a_, r_));");
            wc!(w, "}}");
            w.blank();
            continue;
        }
        w!(w, "const {st} st_ = ({st})anvil_syscall6({sys}, a_, r_);");
        if me.results.is_empty() {
            w.line("(void)r_;");
        } else {
            wo!(w, "if (st_ == 0) {{");
            for (k, p) in me.results.iter().enumerate() {
                let v = from_slot(
                    m,
                    p.ty,
                    &format!(
                        "({})r_[{k}]",
                        match p.ty {
                            Ty::Cap { .. } => "anvil_cap_t".to_string(),
                            t => c_inline(m, t),
                        }
                    ),
                );
                w!(w, "if ({0}) {{ *{0} = {v}; }}", p.name);
            }
            wc!(w, "}}");
        }
        w.line("return st_;");
        wc!(w, "}}");
        w.blank();
    }
}

/// The checks of one received value, at byte offsets of the message data `d_` and in
/// capability slots of `rx`, in the order the kernel checks a syscall's arguments; each
/// failure runs `fail(status expression)`.
fn check_value(w: &mut W, m: &Model, l: &MsgLayout, ps: &[Param], k: usize, rx: &str, fail: &dyn Fn(&str) -> String) {
    let p = &ps[k];
    let invalid = status_const(m, "INVALID_ARGS");
    match p.ty {
        Ty::Cap { object, rights, .. } => {
            let slot = l.caps.iter().position(|&c| c == k).unwrap_or(0);
            let obj = object.map_or(0, |o| m.interfaces[o].object_id.unwrap_or(0));
            wo!(w, "{{");
            w!(
                w,
                "const uint32_t c_ = anvil_rx_check_({rx}, {slot}u, {obj}u, {}u);",
                rights as u32
            );
            w!(w, "if (c_ != 0u) {}", fail("c_"));
            wc!(w, "}}");
        }
        Ty::Bytes(n) | Ty::String(n) => {
            let f = l.fields.iter().find(|f| f.param == k);
            let (lo, off) = f.map_or((0, 0), |f| (f.len_offset.unwrap_or(0), f.offset));
            let cond = if matches!(p.ty, Ty::String(_)) {
                format!("anvil_load_(d_ + {lo}, 4) > {n}u || !anvil_utf8_valid(d_ + {off}, (size_t)anvil_load_(d_ + {lo}, 4))")
            } else {
                format!("anvil_load_(d_ + {lo}, 4) > {n}u")
            };
            w!(w, "if ({cond}) {}", fail(&invalid));
        }
        t => {
            let off = l.fields.iter().find(|f| f.param == k).map_or(0, |f| f.offset);
            if let Some(c) = valid_at(m, t, &format!("(d_ + {off})")) {
                w!(w, "if (!({c})) {}", fail(&invalid));
            }
        }
    }
}

/// The C condition that a received message does not have the layout `l` needs: too short,
/// or another number of capabilities.
fn short_msg(l: &MsgLayout, size: &str, count: &str) -> String {
    let n = format!("{count} != {}u", l.caps.len());
    if l.size > 0 {
        format!("m_->data_len < {size} || {n}")
    } else {
        n
    }
}

/// Whether the data checks of a message read the data bytes.
fn reads_data(ps: &[Param]) -> bool {
    ps.iter().any(|p| {
        matches!(
            p.ty,
            Ty::Bytes(_) | Ty::String(_) | Ty::Scalar(Scalar::Bool) | Ty::Enum(_) | Ty::Bits(_) | Ty::Struct(_)
        )
    })
}

fn protocol(w: &mut W, m: &Model, i: &Interface) {
    doc(w, &i.docs);
    let pm = c_proto_macro(i);
    w!(w, "#define {pm}_PROTOCOL_ID 0x{:08x}u", i.protocol_id);
    for me in &i.methods {
        w!(w, "#define {} {}u", c_method_macro(i, me, "ORDINAL"), me.ordinal);
        w!(
            w,
            "#define {} ((uint64_t)0x{:x}ull)",
            c_method_macro(i, me, "LABEL"),
            request_label(i, me)
        );
        w!(
            w,
            "#define {} {}u",
            c_method_macro(i, me, "REQUEST_SIZE"),
            me.request.size
        );
        w!(
            w,
            "#define {} {}u",
            c_method_macro(i, me, "RESPONSE_SIZE"),
            me.response.size
        );
        for (dir, ps, l) in [
            ("request", &me.params, &me.request),
            ("response", &me.results, &me.response),
        ] {
            let fields: Vec<CField> = l
                .fields
                .iter()
                .map(|f| CField {
                    name: &ps[f.param].name,
                    docs: &ps[f.param].docs,
                    ty: ps[f.param].ty,
                    offset: f.offset,
                    len_offset: f.len_offset,
                })
                .collect();
            let what = if dir == "request" { "Request" } else { "Response" };
            c_struct(
                w,
                m,
                &c_msg_type(i, me, dir),
                &[format!("{what} of `{}.{}`.", i.name, me.name)],
                &fields,
                l.size,
            );
        }
    }
    for me in &i.methods {
        client(w, m, i, me);
    }
    server(w, m, i);
}

fn client(w: &mut W, m: &Model, i: &Interface, me: &Method) {
    let loc = Locals::new(me);
    let (ep, error) = (loc.get("ep"), loc.get("error"));
    let custom = Some(me.error) != m.status;
    let st = status_const(m, "OK");
    let st_ty = m.status_enum().map_or("uint32_t".to_string(), |e| c_type(&e.name));
    let err_ty = c_type(&m.enums[me.error].name);
    let invalid = status_const(m, "INVALID_ARGS");
    let mut args = vec![format!("{} {ep}", c_ep_type(i))];
    args.extend(me.params.iter().flat_map(|p| c_in_params(m, p)));
    args.extend(me.results.iter().flat_map(|p| c_out_params(m, p)));
    let mut extra = vec!["Client stub: sends the request over `ep` and waits for the reply. Returns the status of the call; outputs are written only when it is OK."];
    if custom {
        args.push(format!("{err_ty} *{error}"));
        extra.push("When the server answered, `*error` is the method's own result: 0 for success (and the outputs are written), or its error. `error` must not be NULL.");
    }
    method_doc(w, m, me, &extra);
    wo!(w, "static inline {st_ty} {}({}) {{", c_fn(i, me), args.join(", "));
    if custom {
        w!(w, "if (!{error}) {{ return {invalid}; }}");
        w!(w, "*{error} = 0;");
    }
    w.line("anvil_msg_t *m_ = anvil_msg_buffer();");
    let req = c_msg_type(i, me, "request");
    w!(w, "{req} q_;");
    w.line("anvil_zero_bytes(&q_, sizeof q_);");
    for f in &me.request.fields {
        let p = &me.params[f.param];
        match p.ty {
            Ty::Bytes(n) | Ty::String(n) => {
                w!(w, "if ({0}_len > {n}u) {{ return {invalid}; }}", p.name);
                w!(w, "q_.{0}_len = (uint32_t){0}_len;", p.name);
                w!(w, "anvil_copy_bytes(q_.{0}, {0}, {0}_len);", p.name);
            }
            Ty::Struct(_) => w!(w, "q_.{0} = *{0};", p.name),
            _ => w!(w, "q_.{0} = {0};", p.name),
        }
    }
    w.line("anvil_msg_clear(m_);");
    w.line("anvil_copy_bytes(m_->data, &q_, sizeof q_);");
    w!(w, "m_->label = {};", c_method_macro(i, me, "LABEL"));
    w!(w, "m_->data_len = {};", c_method_macro(i, me, "REQUEST_SIZE"));
    w!(w, "m_->cap_count = {}u;", me.request.caps.len());
    for (k, &c) in me.request.caps.iter().enumerate() {
        let p = &me.params[c];
        w!(w, "m_->caps[{k}] = {};", slot_of(p.ty, &p.name));
    }
    w!(w, "const uint64_t st_ = anvil_msg_call({ep}.slot);");
    w!(
        w,
        "if (st_ != 0) {{ return ({st_ty})(st_ <= 0xFFFFFFFFu ? st_ : {invalid}); }}"
    );
    w.line("anvil_rx_t rx_;");
    w.line("anvil_rx_init_(&rx_, m_);");
    w!(w, "{st_ty} r_ = {st};");
    wo!(w, "do {{");
    let max_error = if custom {
        m.enums[me.error].underlying.max_literal().min(u64::from(u32::MAX))
    } else {
        0
    };
    w.line("uint64_t e_;");
    w!(
        w,
        "const uint32_t s_ = anvil_reply_decode_(m_->label, {max_error}u, &e_);"
    );
    wo!(w, "if (s_ != 0u) {{");
    w!(w, "r_ = ({st_ty})s_;");
    w.line("break;");
    wc!(w, "}}");
    if custom {
        wo!(w, "if (e_ != 0u) {{");
        w!(w, "*{error} = ({err_ty})e_;");
        w.line("break;");
        wc!(w, "}}");
    } else {
        w.line("(void)e_;");
    }
    let fail = |s: &str| format!("{{ r_ = ({st_ty})({s}); break; }}");
    w!(
        w,
        "if ({}) {}",
        short_msg(&me.response, &c_method_macro(i, me, "RESPONSE_SIZE"), "rx_.count"),
        fail(&invalid)
    );
    if reads_data(&me.results) {
        w.line("const uint8_t *d_ = m_->data;");
    }
    for k in 0..me.results.len() {
        check_value(w, m, &me.response, &me.results, k, "&rx_", &fail);
    }
    let resp = c_msg_type(i, me, "response");
    if !me.response.fields.is_empty() {
        w!(w, "{resp} p_;");
        w.line("anvil_copy_bytes(&p_, m_->data, sizeof p_);");
    }
    for (k, p) in me.results.iter().enumerate() {
        let pn = &p.name;
        match p.ty {
            Ty::Bytes(_) | Ty::String(_) => {
                wo!(w, "if ({pn}) {{");
                w!(w, "const size_t n_ = p_.{pn}_len < {pn}_cap ? p_.{pn}_len : {pn}_cap;");
                w!(w, "anvil_copy_bytes({pn}, p_.{pn}, n_);");
                w!(w, "if ({pn}_len) {{ *{pn}_len = n_; }}");
                wc!(w, "}}");
            }
            Ty::Cap { .. } => {
                let slot = me.response.caps.iter().position(|&c| c == k).unwrap_or(0);
                wo!(w, "if ({pn}) {{");
                w!(
                    w,
                    "*{pn} = {};",
                    from_slot(m, p.ty, &format!("anvil_rx_take(&rx_.cap[{slot}])"))
                );
                wc!(w, "}}");
            }
            _ => w!(w, "if ({pn}) {{ *{pn} = p_.{pn}; }}"),
        }
    }
    wc!(w, "}} while (0);");
    w.line("anvil_rx_release_(&rx_);");
    w.line("return r_;");
    wc!(w, "}}");
    w.blank();
}

fn server(w: &mut W, m: &Model, i: &Interface) {
    let ops = c_ops(i);
    w!(
        w,
        "/** Handlers a `{}` server provides; `ctx` is passed through, `badge` names the caller. A",
        i.name
    );
    w.line(" * received capability is deleted when its handler returns unless the handler calls");
    w.line(" * `anvil_rx_take` on it. A NULL handler answers UNKNOWN_METHOD. */");
    wo!(w, "typedef struct {} {{", c_tag(&ops));
    for me in &i.methods {
        let loc = Locals::new(me);
        let st = c_type(&m.enums[me.error].name);
        let mut args = vec![
            format!("void *{}", loc.get("ctx")),
            format!("uint64_t {}", loc.get("badge")),
        ];
        for p in &me.params {
            match p.ty {
                Ty::Cap { .. } => args.push(format!("anvil_rx_cap_t *{}", p.name)),
                _ => args.extend(c_in_params(m, p)),
            }
        }
        for p in &me.results {
            match p.ty {
                Ty::Bytes(n) => args.push(format!("uint8_t {0}[{n}], size_t *{0}_len", p.name)),
                Ty::String(n) => args.push(format!("char {0}[{n}], size_t *{0}_len", p.name)),
                t => args.push(format!("{} *{}", c_inline(m, t), p.name)),
            }
        }
        doc(w, &me.docs);
        w!(w, "{st} (*handle_{})({});", me.name, args.join(", "));
    }
    if i.methods.is_empty() {
        w.line("uint8_t unused_;");
    }
    wc!(w, "}} {ops};");
    w.blank();
    let invalid = status_const(m, "INVALID_ARGS");
    let unknown = status_const(m, "UNKNOWN_METHOD");
    for me in &i.methods {
        let custom = Some(me.error) != m.status;
        wo!(
            w,
            "static inline uint64_t {}_serve_(const {ops} *ops_, void *ctx_, anvil_msg_t *m_, anvil_rx_t *rx_, uint64_t badge_) {{",
            c_fn(i, me)
        );
        w!(w, "if (!ops_->handle_{}) {{ return {unknown}; }}", me.name);
        let fail = |s: &str| format!("{{ return (uint64_t)({s}); }}");
        w!(
            w,
            "if ({}) {}",
            short_msg(&me.request, &c_method_macro(i, me, "REQUEST_SIZE"), "rx_->count"),
            fail(&invalid)
        );
        if reads_data(&me.params) {
            w.line("const uint8_t *d_ = m_->data;");
        }
        for k in 0..me.params.len() {
            check_value(w, m, &me.request, &me.params, k, "rx_", &fail);
        }
        let req = c_msg_type(i, me, "request");
        let resp = c_msg_type(i, me, "response");
        w!(w, "{req} q_;");
        w.line("anvil_copy_bytes(&q_, m_->data, sizeof q_);");
        w!(w, "{resp} p_;");
        w.line("anvil_zero_bytes(&p_, sizeof p_);");
        let mut args = vec!["ctx_".to_string(), "badge_".to_string()];
        for (k, p) in me.params.iter().enumerate() {
            let pn = &p.name;
            match p.ty {
                Ty::Cap { .. } => {
                    let slot = me.request.caps.iter().position(|&c| c == k).unwrap_or(0);
                    args.push(format!("&rx_->cap[{slot}]"));
                }
                Ty::Bytes(_) => {
                    args.push(format!("q_.{pn}"));
                    args.push(format!("(size_t)q_.{pn}_len"));
                }
                Ty::String(_) => {
                    args.push(format!("q_.{pn}"));
                    args.push(format!("(size_t)q_.{pn}_len"));
                }
                Ty::Struct(_) => args.push(format!("&q_.{pn}")),
                _ => args.push(format!("q_.{pn}")),
            }
        }
        let mut caps_out = Vec::new();
        for (k, p) in me.results.iter().enumerate() {
            let pn = &p.name;
            match p.ty {
                Ty::Bytes(_) | Ty::String(_) => {
                    w!(w, "size_t {pn}_len_ = 0;");
                    args.push(format!("p_.{pn}"));
                    args.push(format!("&{pn}_len_"));
                }
                Ty::Cap { .. } => {
                    w!(w, "{} {pn}_v_;", cap_ty(m, p.ty));
                    w!(w, "anvil_zero_bytes(&{pn}_v_, sizeof {pn}_v_);");
                    args.push(format!("&{pn}_v_"));
                    let slot = me.response.caps.iter().position(|&c| c == k).unwrap_or(0);
                    caps_out.push((slot, slot_of(p.ty, &format!("{pn}_v_"))));
                }
                _ => args.push(format!("&p_.{pn}")),
            }
        }
        if me.request.caps.is_empty() {
            w.line("(void)rx_;");
        }
        w!(
            w,
            "const uint64_t h_ = (uint64_t)ops_->handle_{}({});",
            me.name,
            args.join(", ")
        );
        if custom {
            w.line("if (h_ != 0) { return ANVIL_MSG_METHOD_ERROR | h_; }");
        } else {
            w.line("if (h_ != 0) { return h_; }");
        }
        for p in &me.results {
            if let Ty::Bytes(n) | Ty::String(n) = p.ty {
                w!(w, "p_.{0}_len = (uint32_t)({0}_len_ < {n}u ? {0}_len_ : {n}u);", p.name);
            }
        }
        w.line("anvil_msg_clear(m_);");
        w.line("anvil_copy_bytes(m_->data, &p_, sizeof p_);");
        w!(w, "m_->data_len = {};", c_method_macro(i, me, "RESPONSE_SIZE"));
        w!(w, "m_->cap_count = {}u;", me.response.caps.len());
        for (slot, v) in caps_out {
            w!(w, "m_->caps[{slot}] = {v};");
        }
        w.line("return 0;");
        wc!(w, "}}");
        w.blank();
    }
    w.line("/** Decodes the request in `m`, checks it as the kernel checks a syscall, calls the handler,");
    w.line(" * leaves the reply in `m`, and deletes the capabilities that arrived unless taken. */");
    wo!(
        w,
        "static inline void {}(const {ops} *ops, void *ctx, anvil_msg_t *m) {{",
        c_dispatch(i)
    );
    w.line("anvil_rx_t rx_;");
    w.line("anvil_rx_init_(&rx_, m);");
    w.line("uint64_t r_;");
    if i.methods.is_empty() {
        w.line("(void)ops;");
        w.line("(void)ctx;");
    }
    wo!(w, "switch (m->label) {{");
    for me in &i.methods {
        w!(w, "case {}:", c_method_macro(i, me, "LABEL"));
        w!(w, "    r_ = {}_serve_(ops, ctx, m, &rx_, m->badge);", c_fn(i, me));
        w.line("    break;");
    }
    w.line("default:");
    w!(w, "    r_ = {unknown};");
    w.line("    break;");
    wc!(w, "}}");
    wo!(w, "if (r_ != 0) {{");
    w.line("anvil_msg_clear(m);");
    w.line("m->label = r_;");
    wc!(w, "}}");
    w.line("anvil_rx_release_(&rx_);");
    wc!(w, "}}");
    w.blank();
}

/// The other libraries whose declarations this library's header uses: its imports, and the
/// libraries of every type, error enum and protocol handle its declarations name (the status
/// enum is used by every method).
fn dependencies(m: &Model, li: usize) -> BTreeSet<usize> {
    let mut deps: BTreeSet<usize> = m.libraries[li].imports.iter().copied().collect();
    let add_ty = |deps: &mut BTreeSet<usize>, ty: Ty| match ty {
        Ty::Enum(e) => {
            deps.insert(m.enums[e].lib);
        }
        Ty::Bits(b) => {
            deps.insert(m.bits[b].lib);
        }
        Ty::Struct(st) => {
            deps.insert(m.structs[st].lib);
        }
        Ty::Cap { protocol: Some(p), .. } => {
            deps.insert(m.interfaces[p].lib);
        }
        _ => {}
    };
    for st in m.structs.iter().filter(|s| s.lib == li) {
        for f in &st.fields {
            add_ty(&mut deps, f.ty);
        }
    }
    for i in m.interfaces.iter().filter(|i| i.lib == li) {
        for me in &i.methods {
            deps.insert(m.enums[me.error].lib);
            if let Some(s) = m.status {
                deps.insert(m.enums[s].lib);
            }
            for p in me.params.iter().chain(&me.results) {
                add_ty(&mut deps, p.ty);
            }
        }
    }
    deps.remove(&li);
    deps
}
