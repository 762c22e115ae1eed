//! The C backend: one header per library (`anvil/<library>.h`) plus `anvil/abi.h` with the
//! syscall instruction and the message buffer. Headers are freestanding C11.

use std::fmt::Write as _;

use super::{fn_name, upper};
use crate::model::*;
use crate::Output;

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

fn guard(name: &str) -> String {
    format!("ANVIL_{}_H", name.to_ascii_uppercase())
}

fn doc(out: &mut String, indent: &str, docs: &[String]) {
    if docs.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}/**");
    for d in docs {
        let d = d.replace("*/", "* /");
        if d.is_empty() {
            let _ = writeln!(out, "{indent} *");
        } else {
            let _ = writeln!(out, "{indent} * {d}");
        }
    }
    let _ = writeln!(out, "{indent} */");
}

/// The C spelling of a type stored inline (struct field, message field).
fn c_inline(m: &Model, ty: Ty) -> String {
    match ty {
        Ty::Scalar(s) => s.c_name().into(),
        Ty::Enum(e) => format!("anvil_{}_t", snake(&m.enums[e].name)),
        Ty::Bits(b) => format!("anvil_{}_t", snake(&m.bits[b].name)),
        Ty::Struct(s) => format!("anvil_{}_t", snake(&m.structs[s].name)),
        Ty::Bytes(_) => "uint8_t".into(),
        Ty::String(_) => "char".into(),
        Ty::Cap { .. } => "anvil_cap_t".into(),
    }
}

fn literal(v: u64) -> String {
    if v < 10 {
        format!("{v}u")
    } else {
        format!("0x{v:x}u")
    }
}

fn status_const(m: &Model, name: &str) -> String {
    let e = m.status_enum().map_or("status".to_string(), |e| snake(&e.name));
    format!("ANVIL_{}_{}", e.to_ascii_uppercase(), name)
}

fn abi_header(m: &Model) -> String {
    let mut o = crate::banner(m, "//");
    o.push_str("/* anvil/abi.h: the syscall instruction, capability handles and the IPC message buffer. */\n");
    let _ = writeln!(o, "#ifndef ANVIL_ABI_H\n#define ANVIL_ABI_H\n");
    o.push_str("#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
    o.push_str("/** A capability: the index of a slot in the caller's CNode. */\ntypedef uint64_t anvil_cap_t;\n\n");
    o.push_str(
        "/**\n * Enters the kernel: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9;\n * status comes back in rax, results in the same six registers.\n */\n",
    );
    o.push_str("static inline uint64_t anvil_syscall6(uint64_t nr, const uint64_t a[6], uint64_t r[6]) {\n");
    for (reg, i) in [
        ("rax", None),
        ("rdi", Some(0)),
        ("rsi", Some(1)),
        ("rdx", Some(2)),
        ("r10", Some(3)),
        ("r8", Some(4)),
        ("r9", Some(5)),
    ] {
        let v = i.map_or("nr".to_string(), |i| format!("a[{i}]"));
        let _ = writeln!(o, "    register uint64_t {reg} __asm__(\"{reg}\") = {v};");
    }
    o.push_str("    __asm__ volatile(\"syscall\"\n                     : \"+r\"(rax), \"+r\"(rdi), \"+r\"(rsi), \"+r\"(rdx), \"+r\"(r10), \"+r\"(r8), \"+r\"(r9)\n                     :\n                     : \"rcx\", \"r11\", \"memory\");\n");
    for (i, reg) in ["rdi", "rsi", "rdx", "r10", "r8", "r9"].iter().enumerate() {
        let _ = writeln!(o, "    r[{i}] = {reg};");
    }
    o.push_str("    return rax;\n}\n\n");
    o.push_str("/* Byte copy that needs no libc (the headers are freestanding). */\n");
    o.push_str("static inline void anvil_copy_bytes(void *dst, const void *src, size_t n) {\n    uint8_t *d = (uint8_t *)dst;\n    const uint8_t *s = (const uint8_t *)src;\n    for (size_t i = 0; i < n; i++) d[i] = s[i];\n}\n\n");
    o.push_str("static inline void anvil_zero_bytes(void *dst, size_t n) {\n    uint8_t *d = (uint8_t *)dst;\n    for (size_t i = 0; i < n; i++) d[i] = 0;\n}\n\n");
    if m.msg_data_bytes > 0 {
        let _ = writeln!(o, "/**\n * An IPC message as it lies in a thread's IPC buffer. `label` carries the method ordinal\n * in a request and the status in a reply; `badge` is filled in by the kernel on receive.\n * On receive, the kernel also fills `cap_types` and `cap_rights` with the object type and\n * rights of each capability the message brought (0 for unused entries); a sender's values\n * there are ignored.\n */");
        let _ = writeln!(
            o,
            "typedef struct anvil_msg {{\n    uint64_t label;\n    uint64_t badge;\n    uint32_t data_len;\n    uint32_t cap_count;\n    anvil_cap_t caps[{n}];\n    uint32_t cap_types[{n}];\n    uint32_t cap_rights[{n}];\n    _Alignas(8) uint8_t data[{}];\n}} anvil_msg_t;\n",
            m.msg_data_bytes,
            n = m.msg_max_caps
        );
        let hdr = (24 + 16 * m.msg_max_caps).div_ceil(8) * 8;
        let _ = writeln!(
            o,
            "_Static_assert(offsetof(anvil_msg_t, data) == {hdr}, \"message header layout\");"
        );
        let _ = writeln!(
            o,
            "_Static_assert(sizeof(anvil_msg_t) == {}, \"message size\");\n",
            hdr + m.msg_data_bytes.div_ceil(8) * 8
        );
        o.push_str("/** Provided by the runtime: this thread's IPC buffer. */\nanvil_msg_t *anvil_msg_buffer(void);\n");
        o.push_str("/** Provided by the runtime: sends the buffer's message to `ep` and waits for the reply in it. */\nuint64_t anvil_msg_call(anvil_cap_t ep);\n\n");
    }
    o.push_str("#endif /* ANVIL_ABI_H */\n");
    o
}

fn library_header(m: &Model, li: usize) -> String {
    let lib = &m.libraries[li];
    let mut o = crate::banner(m, "//");
    let _ = writeln!(o, "/* anvil/{}.h: the `{}` library. */", lib.short, lib.name);
    doc(&mut o, "", &lib.docs);
    let g = guard(&lib.short);
    let _ = writeln!(o, "#ifndef {g}\n#define {g}\n");
    o.push_str("#include <anvil/abi.h>\n");
    for dep in dependencies(m, li) {
        let _ = writeln!(o, "#include <anvil/{}.h>", m.libraries[dep].short);
    }
    o.push('\n');
    for c in m.consts.iter().filter(|c| c.lib == li) {
        doc(&mut o, "", &c.docs);
        let _ = writeln!(
            o,
            "#define ANVIL_{} (({}){})\n",
            upper(&c.name),
            c.ty.c_name(),
            literal(c.value)
        );
    }
    for (e, _) in m
        .enums
        .iter()
        .map(|e| (e, 0))
        .chain(m.bits.iter().map(|b| (b, 1)))
        .filter(|(e, _)| e.lib == li)
    {
        doc(&mut o, "", &e.docs);
        let tn = format!("anvil_{}_t", snake(&e.name));
        let _ = writeln!(o, "typedef {} {tn};", e.underlying.c_name());
        for mm in &e.members {
            doc(&mut o, "", &mm.docs);
            let _ = writeln!(
                o,
                "#define ANVIL_{}_{} (({tn}){})",
                upper(&e.name),
                mm.name,
                literal(mm.value)
            );
        }
        o.push('\n');
    }
    for s in m.structs.iter().filter(|s| s.lib == li) {
        let tn = format!("anvil_{}_t", snake(&s.name));
        c_struct(
            &mut o,
            m,
            &tn,
            &s.docs,
            s.fields
                .iter()
                .map(|f| (f.name.clone(), f.docs.clone(), f.ty, f.offset, None))
                .collect(),
            s.size,
        );
    }
    for i in m.interfaces.iter().filter(|i| i.lib == li) {
        match i.object_id {
            Some(id) => object(&mut o, m, i, id),
            None => protocol(&mut o, m, i),
        }
    }
    let _ = writeln!(o, "#endif /* {g} */");
    o
}

type CField = (String, Vec<String>, Ty, u32, Option<u32>);

/// Emits a struct with static assertions of its size and of every field offset.
fn c_struct(o: &mut String, m: &Model, tn: &str, docs: &[String], fields: Vec<CField>, size: u32) {
    doc(o, "", docs);
    let tag = tn.trim_end_matches("_t");
    let _ = writeln!(o, "typedef struct {tag} {{");
    if fields.is_empty() {
        o.push_str("    uint8_t unused_;\n");
    }
    for (name, fdocs, ty, _, len_off) in &fields {
        doc(o, "    ", fdocs);
        if len_off.is_some() {
            let _ = writeln!(o, "    uint32_t {name}_len;");
        }
        match ty {
            Ty::Bytes(n) | Ty::String(n) => {
                let _ = writeln!(o, "    {} {name}[{n}];", c_inline(m, *ty));
            }
            _ => {
                let _ = writeln!(o, "    {} {name};", c_inline(m, *ty));
            }
        }
    }
    let _ = writeln!(o, "}} {tn};");
    if !fields.is_empty() {
        let _ = writeln!(o, "_Static_assert(sizeof({tn}) == {size}, \"layout of {tn}\");");
    }
    for (name, _, _, off, len_off) in &fields {
        if let Some(lo) = len_off {
            let _ = writeln!(
                o,
                "_Static_assert(offsetof({tn}, {name}_len) == {lo}, \"layout of {tn}\");"
            );
        }
        let _ = writeln!(
            o,
            "_Static_assert(offsetof({tn}, {name}) == {off}, \"layout of {tn}\");"
        );
    }
    o.push('\n');
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

fn signature(m: &Model, ret: &str, name: &str, first: Option<&str>, params: &[Param], results: &[Param]) -> String {
    let mut args: Vec<String> = first.map(|f| vec![f.to_string()]).unwrap_or_default();
    args.extend(params.iter().flat_map(|p| c_in_params(m, p)));
    args.extend(results.iter().flat_map(|p| c_out_params(m, p)));
    if args.is_empty() {
        args.push("void".into());
    }
    format!("{ret} {name}({})", args.join(", "))
}

fn method_doc(o: &mut String, m: &Model, me: &Method, extra: &str) {
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
    if !extra.is_empty() {
        docs.push(extra.into());
    }
    doc(o, "", &docs);
}

fn object(o: &mut String, m: &Model, i: &Interface, id: u32) {
    doc(o, "", &i.docs);
    let _ = writeln!(o, "#define ANVIL_OBJ_{} {}u\n", upper(&i.name), id);
    for me in &i.methods {
        let name = fn_name(i, me);
        let nr = me.syscall.unwrap_or(0);
        let _ = writeln!(o, "#define ANVIL_SYS_{} {}u", name.to_ascii_uppercase(), nr);
        method_doc(o, m, me, "");
        let st = format!("anvil_{}_t", snake(&m.enums[me.error].name));
        let ret = if me.noreturn {
            "_Noreturn static inline void".to_string()
        } else {
            format!("static inline {st}")
        };
        let _ = writeln!(
            o,
            "{} {{",
            signature(m, &ret, &format!("anvil_{name}"), None, &me.params, &me.results)
        );
        let mut regs = Vec::new();
        for p in &me.params {
            match p.ty {
                Ty::Bytes(_) | Ty::String(_) => {
                    regs.push(format!("(uint64_t)(uintptr_t){}", p.name));
                    regs.push(format!("(uint64_t){}_len", p.name));
                }
                Ty::Struct(_) => regs.push(format!("(uint64_t)(uintptr_t){}", p.name)),
                _ => regs.push(format!("(uint64_t){}", p.name)),
            }
        }
        while regs.len() < SYSCALL_REGS {
            regs.push("0".into());
        }
        let _ = writeln!(o, "    const uint64_t a[6] = {{{}}};", regs.join(", "));
        o.push_str("    uint64_t r[6];\n");
        let sysname = format!("ANVIL_SYS_{}", name.to_ascii_uppercase());
        if me.noreturn {
            let _ = writeln!(
                o,
                "    (void)anvil_syscall6({sysname}, a, r);\n    for (;;) {{\n    }}\n}}\n"
            );
            continue;
        }
        let _ = writeln!(o, "    const {st} st = ({st})anvil_syscall6({sysname}, a, r);");
        if me.results.is_empty() {
            o.push_str("    (void)r;\n");
        } else {
            o.push_str("    if (st == 0) {\n");
            for (k, p) in me.results.iter().enumerate() {
                let _ = writeln!(o, "        if ({0}) *{0} = ({1})r[{k}];", p.name, c_inline(m, p.ty));
            }
            o.push_str("    }\n");
        }
        o.push_str("    return st;\n}\n\n");
    }
}

fn msg_fields(ps: &[Param], l: &MsgLayout) -> Vec<CField> {
    l.fields
        .iter()
        .map(|f| {
            let p = &ps[f.param];
            (p.name.clone(), p.docs.clone(), p.ty, f.offset, f.len_offset)
        })
        .collect()
}

fn protocol(o: &mut String, m: &Model, i: &Interface) {
    doc(o, "", &i.docs);
    let pn = snake(&i.name);
    let invalid = status_const(m, "INVALID_ARGS");
    for me in &i.methods {
        let base = format!("anvil_{pn}_{}", me.name);
        let _ = writeln!(
            o,
            "#define ANVIL_{}_ORDINAL {}u",
            base.trim_start_matches("anvil_").to_ascii_uppercase(),
            me.ordinal
        );
        let ub = base.to_ascii_uppercase();
        let _ = writeln!(
            o,
            "#define {ub}_REQUEST_SIZE {}u\n#define {ub}_RESPONSE_SIZE {}u",
            me.request.size, me.response.size
        );
        c_struct(
            o,
            m,
            &format!("{base}_request_t"),
            &[format!("Request of `{}.{}`.", i.name, me.name)],
            msg_fields(&me.params, &me.request),
            me.request.size,
        );
        c_struct(
            o,
            m,
            &format!("{base}_response_t"),
            &[format!("Response of `{}.{}`.", i.name, me.name)],
            msg_fields(&me.results, &me.response),
            me.response.size,
        );
    }
    // Client stubs.
    for me in &i.methods {
        let base = format!("anvil_{pn}_{}", me.name);
        let st = format!("anvil_{}_t", snake(&m.enums[me.error].name));
        method_doc(
            o,
            m,
            me,
            "Client stub: sends the request over `ep` and waits for the reply.",
        );
        let _ = writeln!(
            o,
            "{} {{",
            signature(
                m,
                &format!("static inline {st}"),
                &base,
                Some("anvil_cap_t ep"),
                &me.params,
                &me.results
            )
        );
        o.push_str("    anvil_msg_t *m = anvil_msg_buffer();\n");
        let _ = writeln!(o, "    {base}_request_t *q = ({base}_request_t *)(void *)m->data;");
        for f in &me.request.fields {
            let p = &me.params[f.param];
            match p.ty {
                Ty::Bytes(n) | Ty::String(n) => {
                    let _ = writeln!(o, "    if ({}_len > {n}u) return ({st}){invalid};", p.name);
                    let _ = writeln!(
                        o,
                        "    q->{0}_len = (uint32_t){0}_len;\n    anvil_copy_bytes(q->{0}, {0}, {0}_len);",
                        p.name
                    );
                }
                Ty::Struct(_) => {
                    let _ = writeln!(o, "    q->{0} = *{0};", p.name);
                }
                _ => {
                    let _ = writeln!(o, "    q->{0} = {0};", p.name);
                }
            }
        }
        for (k, &c) in me.request.caps.iter().enumerate() {
            let _ = writeln!(o, "    m->caps[{k}] = {};", me.params[c].name);
        }
        let ub = base.to_ascii_uppercase();
        if me.request.fields.is_empty() {
            o.push_str("    (void)q;\n");
        }
        let _ = writeln!(
            o,
            "    m->label = {}u;\n    m->data_len = {ub}_REQUEST_SIZE;\n    m->cap_count = {}u;",
            me.ordinal,
            me.request.caps.len()
        );
        let _ = writeln!(o, "    const {st} st = ({st})anvil_msg_call(ep);\n    if (st != 0) return st;\n    if (m->label != 0) return ({st})m->label;");
        if !me.results.is_empty() {
            if let Some(cond) = short_msg(&base, "RESPONSE", &me.response) {
                let _ = writeln!(o, "    if ({cond}) return ({st}){invalid};");
            }
            let _ = writeln!(
                o,
                "    const {base}_response_t *p = (const {base}_response_t *)(const void *)m->data;"
            );
            if me.response.fields.is_empty() {
                o.push_str("    (void)p;\n");
            }
            for f in &me.response.fields {
                let p = &me.results[f.param];
                match p.ty {
                    Ty::Bytes(n) | Ty::String(n) => {
                        let _ = writeln!(
                            o,
                            "    if (p->{0}_len > {n}u) return ({st}){invalid};\n    if ({0}) {{\n        const size_t n = p->{0}_len < {0}_cap ? p->{0}_len : {0}_cap;\n        anvil_copy_bytes({0}, p->{0}, n);\n        if ({0}_len) *{0}_len = n;\n    }}",
                            p.name
                        );
                    }
                    _ => {
                        let _ = writeln!(o, "    if ({0}) *{0} = p->{0};", p.name);
                    }
                }
            }
            for (k, &c) in me.response.caps.iter().enumerate() {
                let _ = writeln!(o, "    if ({0}) *{0} = m->caps[{k}];", me.results[c].name);
            }
        }
        o.push_str("    return 0;\n}\n\n");
    }
    // Server side: a table of handlers and one dispatch function.
    let _ = writeln!(
        o,
        "/** Handlers a `{}` server provides; `ctx` is passed through, `badge` names the caller. */",
        i.name
    );
    let _ = writeln!(o, "typedef struct anvil_{pn}_ops {{");
    for me in &i.methods {
        let st = format!("anvil_{}_t", snake(&m.enums[me.error].name));
        let mut args = vec!["void *ctx".to_string(), "uint64_t badge".to_string()];
        args.extend(me.params.iter().flat_map(|p| c_in_params(m, p)));
        for p in &me.results {
            match p.ty {
                Ty::Bytes(n) => args.push(format!("uint8_t {}[{n}], size_t *{}_len", p.name, p.name)),
                Ty::String(n) => args.push(format!("char {}[{n}], size_t *{}_len", p.name, p.name)),
                t => args.push(format!("{} *{}", c_inline(m, t), p.name)),
            }
        }
        let _ = writeln!(o, "    {st} (*handle_{})({});", me.name, args.join(", "));
    }
    let _ = writeln!(o, "}} anvil_{pn}_ops_t;\n");
    let unknown = status_const(m, "UNKNOWN_METHOD");
    let _ = writeln!(
        o,
        "/** Decodes the request in `m`, calls the handler, and leaves the reply in `m`. */\nstatic inline void anvil_{pn}_dispatch(const anvil_{pn}_ops_t *ops, void *ctx, anvil_msg_t *m) {{"
    );
    o.push_str("    switch (m->label) {\n");
    let fail = format!("            m->label = {invalid};\n            m->data_len = 0;\n            m->cap_count = 0;\n            break;\n");
    for me in &i.methods {
        let base = format!("anvil_{pn}_{}", me.name);
        let _ = writeln!(o, "    case {}u: {{", me.ordinal);
        if let Some(cond) = short_msg(&base, "REQUEST", &me.request) {
            let _ = writeln!(o, "        if ({cond}) {{\n{fail}        }}");
        }
        let _ = writeln!(
            o,
            "        {base}_request_t q;\n        anvil_copy_bytes(&q, m->data, sizeof(q));"
        );
        let _ = writeln!(
            o,
            "        {base}_response_t p;\n        anvil_zero_bytes(&p, sizeof(p));"
        );
        if me.request.fields.is_empty() {
            o.push_str("        (void)q;\n");
        }
        let mut args = vec!["ctx".to_string(), "m->badge".to_string()];
        for (k, p) in me.params.iter().enumerate() {
            match p.ty {
                Ty::Cap { .. } => {
                    let slot = me.request.caps.iter().position(|&c| c == k).unwrap_or(0);
                    args.push(format!("m->caps[{slot}]"));
                }
                Ty::Bytes(n) | Ty::String(n) => {
                    let _ = writeln!(o, "        if (q.{}_len > {n}u) {{\n{fail}        }}", p.name);
                    args.push(format!("q.{}", p.name));
                    args.push(format!("q.{}_len", p.name));
                }
                Ty::Struct(_) => args.push(format!("&q.{}", p.name)),
                _ => args.push(format!("q.{}", p.name)),
            }
        }
        let mut len_locals = Vec::new();
        let mut cap_locals = Vec::new();
        for (k, p) in me.results.iter().enumerate() {
            match p.ty {
                Ty::Bytes(_) | Ty::String(_) => {
                    let _ = writeln!(o, "        size_t {}_len = 0;", p.name);
                    args.push(format!("p.{}", p.name));
                    args.push(format!("&{}_len", p.name));
                    len_locals.push(p.name.clone());
                }
                Ty::Cap { .. } => {
                    let _ = writeln!(o, "        anvil_cap_t {} = 0;", p.name);
                    args.push(format!("&{}", p.name));
                    let slot = me.response.caps.iter().position(|&c| c == k).unwrap_or(0);
                    cap_locals.push((p.name.clone(), slot));
                }
                _ => args.push(format!("&p.{}", p.name)),
            }
        }
        let _ = writeln!(
            o,
            "        const uint64_t st = (uint64_t)ops->handle_{}({});",
            me.name,
            args.join(", ")
        );
        let _ = writeln!(
            o,
            "        m->label = st;\n        m->data_len = 0;\n        m->cap_count = 0;\n        if (st != 0) break;"
        );
        for n in &len_locals {
            let cap = me
                .results
                .iter()
                .find(|p| &p.name == n)
                .map(|p| match p.ty {
                    Ty::Bytes(b) | Ty::String(b) => b,
                    _ => 0,
                })
                .unwrap_or(0);
            let _ = writeln!(
                o,
                "        p.{n}_len = (uint32_t)({n}_len < {cap}u ? {n}_len : {cap}u);"
            );
        }
        for (n, slot) in &cap_locals {
            let _ = writeln!(o, "        m->caps[{slot}] = {n};");
        }
        let _ = writeln!(
            o,
            "        anvil_copy_bytes(m->data, &p, sizeof(p));\n        m->data_len = {}_RESPONSE_SIZE;\n        m->cap_count = {}u;\n        break;\n    }}",
            base.to_ascii_uppercase(),
            me.response.caps.len()
        );
    }
    let _ = writeln!(o, "    default:\n        m->label = {unknown};\n        m->data_len = 0;\n        m->cap_count = 0;\n        break;\n    }}\n}}\n");
}

/// The C condition that a received message is too short for `l`, if one can be.
fn short_msg(base: &str, dir: &str, l: &MsgLayout) -> Option<String> {
    let mut conds = Vec::new();
    if l.size > 0 {
        conds.push(format!("m->data_len < {}_{dir}_SIZE", base.to_ascii_uppercase()));
    }
    if !l.caps.is_empty() {
        conds.push(format!("m->cap_count < {}u", l.caps.len()));
    }
    (!conds.is_empty()).then(|| conds.join(" || "))
}

/// The other libraries whose declarations this library's header uses: its imports, and the
/// libraries of every type and error enum its declarations name (the status enum is used
/// implicitly by every method).
fn dependencies(m: &Model, li: usize) -> std::collections::BTreeSet<usize> {
    let mut deps: std::collections::BTreeSet<usize> = m.libraries[li].imports.iter().copied().collect();
    let add_ty = |deps: &mut std::collections::BTreeSet<usize>, ty: Ty| match ty {
        Ty::Enum(e) => {
            deps.insert(m.enums[e].lib);
        }
        Ty::Bits(b) => {
            deps.insert(m.bits[b].lib);
        }
        Ty::Struct(st) => {
            deps.insert(m.structs[st].lib);
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
