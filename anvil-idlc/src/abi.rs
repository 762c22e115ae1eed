//! The ABI description backend (JSON) and the compatibility check between two descriptions.
//!
//! The JSON records exactly what binaries depend on: syscall numbers, argument and result
//! kinds, required rights, protocol ids and ordinals, message and struct layouts, enum values.
//! `compare` sorts the differences into ABI breaks (existing binaries stop working),
//! source-only changes (renames that keep every number and layout: binaries still work, code
//! using the old names must change), relaxed requirements (a parameter requires fewer rights:
//! old callers still work) and additions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Model, MsgLayout, Param, Ty};

/// The format version this compiler writes; `parse` also reads the versions in `FORMATS`.
pub const FORMAT: u32 = 2;
/// Format versions this compiler reads: 1 lacks protocol labels and endpoint protocols.
pub const FORMATS: [u32; 2] = [1, 2];

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Abi {
    pub format: u32,
    pub consts: BTreeMap<String, u64>,
    pub enums: BTreeMap<String, EnumAbi>,
    pub bits: BTreeMap<String, EnumAbi>,
    pub structs: BTreeMap<String, StructAbi>,
    pub objects: BTreeMap<String, u32>,
    pub syscalls: BTreeMap<String, SyscallAbi>,
    pub protocols: BTreeMap<String, BTreeMap<String, ProtoMethodAbi>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct EnumAbi {
    pub underlying: String,
    pub members: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StructAbi {
    pub size: u32,
    pub align: u32,
    pub fields: Vec<FieldAbi>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FieldAbi {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub offset: u32,
    pub size: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ParamAbi {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// Rights the capability must carry (names), for capability parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rights: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub moved: bool,
    /// For an endpoint capability that names the protocol its server speaks (`cap<Console>`):
    /// the protocol. It is not on the wire, so changing it is a source-only change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SyscallAbi {
    pub number: u64,
    pub params: Vec<ParamAbi>,
    pub results: Vec<ParamAbi>,
    pub error: String,
    pub noreturn: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProtoMethodAbi {
    pub ordinal: u32,
    /// The request label: protocol id in the upper half, ordinal in the lower (format 2).
    #[serde(default)]
    pub label: u64,
    pub request: MsgAbi,
    pub response: MsgAbi,
    pub error: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MsgAbi {
    pub size: u32,
    pub params: Vec<ParamAbi>,
    /// `name: offset` of each data parameter (for bytes/strings, of the length word).
    pub offsets: BTreeMap<String, u32>,
    pub caps: Vec<String>,
}

fn param(m: &Model, p: &Param) -> ParamAbi {
    let rights = match p.ty {
        Ty::Cap { rights, .. } => m.rights_names(rights),
        _ => Vec::new(),
    };
    ParamAbi {
        name: p.name.clone(),
        // Rights and protocol are recorded apart from the type, so a change of either is
        // reported as such.
        ty: match p.ty {
            Ty::Cap { object, .. } => m.type_name(Ty::Cap {
                object,
                rights: 0,
                protocol: None,
            }),
            t => m.type_name(t),
        },
        rights,
        moved: p.moved,
        protocol: match p.ty {
            Ty::Cap { protocol: Some(pr), .. } => Some(m.interfaces[pr].name.clone()),
            _ => None,
        },
    }
}

fn msg(m: &Model, ps: &[Param], l: &MsgLayout) -> MsgAbi {
    MsgAbi {
        size: l.size,
        params: ps.iter().map(|p| param(m, p)).collect(),
        offsets: l
            .fields
            .iter()
            .map(|f| (ps[f.param].name.clone(), f.len_offset.unwrap_or(f.offset)))
            .collect(),
        caps: l.caps.iter().map(|&c| ps[c].name.clone()).collect(),
    }
}

pub fn from_model(m: &Model) -> Abi {
    let enum_abi = |e: &crate::model::Enum| EnumAbi {
        underlying: e.underlying.name().into(),
        members: e.members.iter().map(|mm| (mm.name.clone(), mm.value)).collect(),
    };
    let mut abi = Abi {
        format: FORMAT,
        ..Default::default()
    };
    abi.consts = m.consts.iter().map(|c| (c.name.clone(), c.value)).collect();
    abi.enums = m.enums.iter().map(|e| (e.name.clone(), enum_abi(e))).collect();
    abi.bits = m.bits.iter().map(|e| (e.name.clone(), enum_abi(e))).collect();
    abi.structs = m
        .structs
        .iter()
        .map(|s| {
            let fields = s
                .fields
                .iter()
                .map(|f| FieldAbi {
                    name: f.name.clone(),
                    ty: m.type_name(f.ty),
                    offset: f.offset,
                    size: f.size,
                })
                .collect();
            (
                s.name.clone(),
                StructAbi {
                    size: s.size,
                    align: s.align,
                    fields,
                },
            )
        })
        .collect();
    for i in &m.interfaces {
        match i.object_id {
            Some(id) => {
                abi.objects.insert(i.name.clone(), id);
                for me in &i.methods {
                    abi.syscalls.insert(
                        format!("{}.{}", i.name, me.name),
                        SyscallAbi {
                            number: me.syscall.unwrap_or(0),
                            params: me.params.iter().map(|p| param(m, p)).collect(),
                            results: me.results.iter().map(|p| param(m, p)).collect(),
                            error: m.enums[me.error].name.clone(),
                            noreturn: me.noreturn,
                        },
                    );
                }
            }
            None => {
                let methods = i
                    .methods
                    .iter()
                    .map(|me| {
                        (
                            me.name.clone(),
                            ProtoMethodAbi {
                                ordinal: me.ordinal,
                                label: crate::backend::names::request_label(i, me),
                                request: msg(m, &me.params, &me.request),
                                response: msg(m, &me.results, &me.response),
                                error: m.enums[me.error].name.clone(),
                            },
                        )
                    })
                    .collect();
                abi.protocols.insert(i.name.clone(), methods);
            }
        }
    }
    abi
}

pub fn to_json(m: &Model) -> String {
    let mut s = serde_json::to_string_pretty(&from_model(m)).unwrap_or_default();
    s.push('\n');
    s
}

/// Parses an ABI description, with a clear error for anything that is not one, or for a
/// format version this compiler does not know.
pub fn parse(name: &str, text: &str) -> Result<Abi, String> {
    let abi: Abi = serde_json::from_str(text).map_err(|e| {
        format!(
            "{name}:{}:{}: error: not an anvil ABI description: {e}",
            e.line(),
            e.column()
        )
    })?;
    if !FORMATS.contains(&abi.format) {
        return Err(format!(
            "{name}: error: unknown ABI format version {} (this anvil-idlc reads versions {})",
            abi.format,
            FORMATS.map(|f| f.to_string()).join(" and ")
        ));
    }
    Ok(abi)
}

/// The differences between two ABIs, by kind.
#[derive(Debug, Default, Clone)]
pub struct Diff {
    /// Existing binaries stop working: a number, layout, type or requirement changed, or
    /// something was removed.
    pub breaks: Vec<String>,
    /// Binaries keep working, source code using the old names does not: a method, syscall,
    /// member, parameter or field renamed with every number and layout kept, or an endpoint
    /// capability's declared protocol changed.
    pub source_only: Vec<String>,
    /// A parameter requires fewer rights: every old caller still passes the check. A new
    /// caller relying on it may be refused by an old server (a server compiled against the
    /// old IDL still checks the old rights).
    pub relaxed: Vec<String>,
    pub additions: Vec<String>,
}

/// Compares an old ABI with a new one. Returns the breaking changes (empty: compatible)
/// and, separately, everything else, for information.
pub fn diff(old: &Abi, new: &Abi) -> (Vec<String>, Vec<String>) {
    let d = compare(old, new);
    let mut rest = d.additions;
    rest.extend(d.source_only);
    rest.extend(d.relaxed);
    (d.breaks, rest)
}

/// A parameter with its name left out: type, rights, moved-ness.
type WireParam = (String, Vec<String>, bool);

/// A method's shape with every name left out: what binaries depend on.
fn wire_params(ps: &[ParamAbi]) -> Vec<WireParam> {
    ps.iter().map(|p| (p.ty.clone(), p.rights.clone(), p.moved)).collect()
}

fn wire_msg(m: &MsgAbi) -> (u32, Vec<WireParam>, Vec<u32>, usize) {
    // Offsets in parameter order, so that renaming a parameter changes nothing here.
    let offsets = m
        .params
        .iter()
        .filter_map(|p| m.offsets.get(&p.name).copied())
        .collect();
    (m.size, wire_params(&m.params), offsets, m.caps.len())
}

fn same_proto_wire(a: &ProtoMethodAbi, b: &ProtoMethodAbi) -> bool {
    a.ordinal == b.ordinal
        && a.error == b.error
        && (a.label == 0 || b.label == 0 || a.label == b.label)
        && wire_msg(&a.request) == wire_msg(&b.request)
        && wire_msg(&a.response) == wire_msg(&b.response)
}

fn same_syscall_wire(a: &SyscallAbi, b: &SyscallAbi) -> bool {
    a.number == b.number
        && a.error == b.error
        && a.noreturn == b.noreturn
        && wire_params(&a.params) == wire_params(&b.params)
        && wire_params(&a.results) == wire_params(&b.results)
}

pub fn compare(old: &Abi, new: &Abi) -> Diff {
    let mut d = Diff::default();
    for (n, a) in &old.consts {
        match new.consts.get(n) {
            None => d.breaks.push(format!("const `{n}` was removed")),
            Some(b) if a != b => d.breaks.push(format!("const `{n}` changed value from {a} to {b}")),
            _ => {}
        }
    }
    for n in new.consts.keys().filter(|n| !old.consts.contains_key(*n)) {
        d.additions.push(format!("const `{n}` was added"));
    }
    for (kind, o, nw) in [("enum", &old.enums, &new.enums), ("bits", &old.bits, &new.bits)] {
        for (n, a) in o {
            let Some(b) = nw.get(n) else {
                d.breaks.push(format!("{kind} `{n}` was removed"));
                continue;
            };
            if a.underlying != b.underlying {
                d.breaks.push(format!(
                    "{kind} `{n}` changed its underlying type from {} to {}",
                    a.underlying, b.underlying
                ));
            }
            for (mn, mv) in &a.members {
                match b.members.get(mn) {
                    Some(nv) if nv != mv => d
                        .breaks
                        .push(format!("{kind} `{n}` member `{mn}` changed value from {mv} to {nv}")),
                    Some(_) => {}
                    None => {
                        // The same value under a new name: a rename.
                        let renamed = b
                            .members
                            .iter()
                            .find(|(bn, bv)| *bv == mv && !a.members.contains_key(*bn));
                        match renamed {
                            Some((bn, _)) => d.source_only.push(format!(
                                "{kind} `{n}` member `{mn}` was renamed `{bn}` (same value {mv})"
                            )),
                            None => d.breaks.push(format!("{kind} `{n}` lost member `{mn}`")),
                        }
                    }
                }
            }
            for (mn, mv) in &b.members {
                let renamed = a.members.iter().any(|(an, av)| av == mv && !b.members.contains_key(an));
                if !a.members.contains_key(mn) && !renamed {
                    d.additions.push(format!("{kind} `{n}` gained member `{mn}`"));
                }
            }
        }
        for n in nw.keys().filter(|n| !o.contains_key(*n)) {
            d.additions.push(format!("{kind} `{n}` was added"));
        }
    }
    for (n, a) in &old.structs {
        match new.structs.get(n) {
            None => d.breaks.push(format!("struct `{n}` was removed")),
            Some(b) if a == b => {}
            Some(b) => {
                let unnamed = |s: &StructAbi| -> Vec<(String, u32, u32)> {
                    s.fields.iter().map(|f| (f.ty.clone(), f.offset, f.size)).collect()
                };
                if a.size == b.size && a.align == b.align && unnamed(a) == unnamed(b) {
                    d.source_only.push(format!(
                        "struct `{n}` renamed fields ({} -> {}), same layout",
                        fields(&a.fields),
                        fields(&b.fields)
                    ));
                } else {
                    d.breaks.push(format!(
                        "struct `{n}` changed layout (size {} -> {}, fields {} -> {})",
                        a.size,
                        b.size,
                        fields(&a.fields),
                        fields(&b.fields)
                    ));
                }
            }
        }
    }
    for n in new.structs.keys().filter(|n| !old.structs.contains_key(*n)) {
        d.additions.push(format!("struct `{n}` was added"));
    }
    for (n, a) in &old.objects {
        match new.objects.get(n) {
            None => d.breaks.push(format!("object `{n}` was removed")),
            Some(b) if a != b => d.breaks.push(format!("object `{n}` changed type id from {a} to {b}")),
            _ => {}
        }
    }
    for n in new.objects.keys().filter(|n| !old.objects.contains_key(*n)) {
        d.additions.push(format!("object `{n}` was added"));
    }
    // Syscalls: a name that disappears while a new name has the same number and shape is a
    // rename.
    let mut renamed_to = Vec::new();
    for (n, a) in &old.syscalls {
        let what = format!("syscall `{n}`");
        match new.syscalls.get(n) {
            None => {
                let r = new
                    .syscalls
                    .iter()
                    .find(|(bn, b)| !old.syscalls.contains_key(*bn) && same_syscall_wire(a, b));
                match r {
                    Some((bn, _)) => {
                        renamed_to.push(bn.clone());
                        d.source_only
                            .push(format!("{what} was renamed `{bn}` (same number and arguments)"));
                    }
                    None => d.breaks.push(format!("{what} was removed")),
                }
            }
            Some(b) if a == b => {}
            Some(b) => {
                if a.number != b.number {
                    d.breaks
                        .push(format!("{what} changed number from {} to {}", a.number, b.number));
                }
                params_diff(&what, "parameters", &a.params, &b.params, true, &mut d);
                params_diff(&what, "results", &a.results, &b.results, false, &mut d);
                if a.error != b.error {
                    d.breaks
                        .push(format!("{what} changed its error type from {} to {}", a.error, b.error));
                }
                if a.noreturn != b.noreturn {
                    d.breaks.push(format!("{what} changed @noreturn"));
                }
            }
        }
    }
    for n in new.syscalls.keys() {
        if !old.syscalls.contains_key(n) && !renamed_to.contains(n) {
            d.additions.push(format!("syscall `{n}` was added"));
        }
    }
    for (pn, a) in &old.protocols {
        let Some(b) = new.protocols.get(pn) else {
            d.breaks.push(format!("protocol `{pn}` was removed"));
            continue;
        };
        let mut renamed_to = Vec::new();
        for (mn, am) in a {
            let what = format!("protocol method `{pn}.{mn}`");
            let Some(bm) = b.get(mn) else {
                let r = b
                    .iter()
                    .find(|(bn, bm)| !a.contains_key(*bn) && same_proto_wire(am, bm));
                match r {
                    Some((bn, _)) => {
                        renamed_to.push(bn.clone());
                        d.source_only.push(format!(
                            "{what} was renamed `{bn}` (same ordinal {} and layout)",
                            am.ordinal
                        ));
                    }
                    None => d.breaks.push(format!("{what} was removed")),
                }
                continue;
            };
            if am.ordinal != bm.ordinal {
                d.breaks
                    .push(format!("{what} changed ordinal from {} to {}", am.ordinal, bm.ordinal));
            } else if am.label != 0 && bm.label != 0 && am.label != bm.label {
                d.breaks.push(format!(
                    "{what} changed its label from {:#x} to {:#x} (the protocol's qualified name changed)",
                    am.label, bm.label
                ));
            }
            for (dir, x, y, is_in) in [
                ("request", &am.request, &bm.request, true),
                ("response", &am.response, &bm.response, false),
            ] {
                let before = d.breaks.len();
                params_diff(&what, dir, &x.params, &y.params, is_in, &mut d);
                if d.breaks.len() == before && wire_msg(x) != wire_msg(y) {
                    d.breaks.push(format!("{what} changed its {dir} layout"));
                }
            }
            if am.error != bm.error {
                d.breaks.push(format!(
                    "{what} changed its error type from {} to {}",
                    am.error, bm.error
                ));
            }
        }
        for mn in b.keys() {
            if !a.contains_key(mn) && !renamed_to.contains(mn) {
                d.additions.push(format!("protocol method `{pn}.{mn}` was added"));
            }
        }
    }
    for n in new.protocols.keys().filter(|n| !old.protocols.contains_key(*n)) {
        d.additions.push(format!("protocol `{n}` was added"));
    }
    d
}

fn fields(f: &[FieldAbi]) -> String {
    f.iter()
        .map(|x| format!("{}:{}@{}", x.name, x.ty, x.offset))
        .collect::<Vec<_>>()
        .join(",")
}

/// Compares parameters (`inputs`: what callers pass) or results.
fn params_diff(what: &str, dir: &str, a: &[ParamAbi], b: &[ParamAbi], inputs: bool, d: &mut Diff) {
    if a.len() != b.len() {
        d.breaks.push(format!(
            "{what} changed the number of {dir} from {} to {}",
            a.len(),
            b.len()
        ));
        return;
    }
    for (x, y) in a.iter().zip(b) {
        if x.ty != y.ty {
            d.breaks.push(format!(
                "{what} {dir}: `{}` changed type from {} to {}",
                x.name, x.ty, y.ty
            ));
            continue;
        }
        if x.rights != y.rights {
            let msg = format!(
                "{what} {dir}: `{}` changed required rights from [{}] to [{}]",
                x.name,
                x.rights.join(" | "),
                y.rights.join(" | ")
            );
            if inputs && y.rights.iter().all(|r| x.rights.contains(r)) {
                d.relaxed.push(msg);
            } else {
                d.breaks.push(msg);
            }
        }
        if x.moved != y.moved {
            d.breaks
                .push(format!("{what} {dir}: `{}` changed between copied and moved", x.name));
        }
        if x.name != y.name {
            d.source_only
                .push(format!("{what} {dir}: `{}` was renamed `{}`", x.name, y.name));
        }
        if x.protocol != y.protocol {
            d.source_only.push(format!(
                "{what} {dir}: `{}` changed its endpoint's protocol from {} to {}",
                y.name,
                x.protocol.as_deref().unwrap_or("none"),
                y.protocol.as_deref().unwrap_or("none")
            ));
        }
    }
}
