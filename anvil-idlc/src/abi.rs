//! The ABI description backend (JSON) and the compatibility check between two descriptions.
//!
//! The JSON records exactly what binaries depend on: syscall numbers, argument and result
//! kinds, required rights, protocol ordinals, message and struct layouts, enum values.
//! `diff` accepts additions and rejects every change to something that already existed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Model, MsgLayout, Param, Ty};

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
        // Rights are recorded apart from the type, so a change of rights is reported as such.
        ty: match p.ty {
            Ty::Cap { object, .. } => m.type_name(Ty::Cap { object, rights: 0 }),
            t => m.type_name(t),
        },
        rights,
        moved: p.moved,
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
        format: 1,
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

/// Parses an ABI description, with a clear error for anything that is not one.
pub fn parse(name: &str, text: &str) -> Result<Abi, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "{name}:{}:{}: error: not an anvil ABI description: {e}",
            e.line(),
            e.column()
        )
    })
}

/// Compares an old ABI with a new one. Returns the breaking changes (empty: compatible)
/// and, separately, the additions, for information.
pub fn diff(old: &Abi, new: &Abi) -> (Vec<String>, Vec<String>) {
    let mut breaks = Vec::new();
    let mut adds = Vec::new();
    map_diff("const", &old.consts, &new.consts, &mut breaks, &mut adds, |n, a, b| {
        vec![format!("const `{n}` changed value from {a} to {b}")]
    });
    for (kind, o, nw) in [("enum", &old.enums, &new.enums), ("bits", &old.bits, &new.bits)] {
        map_diff(kind, o, nw, &mut breaks, &mut adds, |n, a, b| {
            let mut v = Vec::new();
            if a.underlying != b.underlying {
                v.push(format!(
                    "{kind} `{n}` changed its underlying type from {} to {}",
                    a.underlying, b.underlying
                ));
            }
            for (mn, mv) in &a.members {
                match b.members.get(mn) {
                    None => v.push(format!("{kind} `{n}` lost member `{mn}`")),
                    Some(nv) if nv != mv => {
                        v.push(format!("{kind} `{n}` member `{mn}` changed value from {mv} to {nv}"))
                    }
                    _ => {}
                }
            }
            v
        });
        for (n, b) in nw {
            if let Some(a) = o.get(n) {
                for mn in b.members.keys().filter(|mn| !a.members.contains_key(*mn)) {
                    adds.push(format!("{kind} `{n}` gained member `{mn}`"));
                }
            }
        }
    }
    map_diff(
        "struct",
        &old.structs,
        &new.structs,
        &mut breaks,
        &mut adds,
        |n, a, b| {
            if a == b {
                vec![]
            } else {
                vec![format!(
                    "struct `{n}` changed layout (size {} -> {}, fields {} -> {})",
                    a.size,
                    b.size,
                    fields(&a.fields),
                    fields(&b.fields)
                )]
            }
        },
    );
    map_diff(
        "object",
        &old.objects,
        &new.objects,
        &mut breaks,
        &mut adds,
        |n, a, b| vec![format!("object `{n}` changed type id from {a} to {b}")],
    );
    map_diff(
        "syscall",
        &old.syscalls,
        &new.syscalls,
        &mut breaks,
        &mut adds,
        |n, a, b| {
            let mut v = Vec::new();
            if a.number != b.number {
                v.push(format!(
                    "syscall `{n}` changed number from {} to {}",
                    a.number, b.number
                ));
            }
            params_diff(&format!("syscall `{n}`"), "parameters", &a.params, &b.params, &mut v);
            params_diff(&format!("syscall `{n}`"), "results", &a.results, &b.results, &mut v);
            if a.error != b.error {
                v.push(format!(
                    "syscall `{n}` changed its error type from {} to {}",
                    a.error, b.error
                ));
            }
            if a.noreturn != b.noreturn {
                v.push(format!("syscall `{n}` changed @noreturn"));
            }
            v
        },
    );
    map_diff(
        "protocol",
        &old.protocols,
        &new.protocols,
        &mut breaks,
        &mut adds,
        |pn, a, b| {
            let mut v = Vec::new();
            for (mn, am) in a {
                let what = format!("protocol method `{pn}.{mn}`");
                match b.get(mn) {
                    None => v.push(format!("{what} was removed")),
                    Some(bm) => {
                        if am.ordinal != bm.ordinal {
                            v.push(format!("{what} changed ordinal from {} to {}", am.ordinal, bm.ordinal));
                        }
                        for (dir, x, y) in [
                            ("request", &am.request, &bm.request),
                            ("response", &am.response, &bm.response),
                        ] {
                            params_diff(&what, dir, &x.params, &y.params, &mut v);
                            if x.params == y.params && (x.offsets != y.offsets || x.size != y.size || x.caps != y.caps)
                            {
                                v.push(format!("{what} changed its {dir} layout"));
                            }
                        }
                        if am.error != bm.error {
                            v.push(format!(
                                "{what} changed its error type from {} to {}",
                                am.error, bm.error
                            ));
                        }
                    }
                }
            }
            v
        },
    );
    for (pn, b) in &new.protocols {
        if let Some(a) = old.protocols.get(pn) {
            for mn in b.keys().filter(|mn| !a.contains_key(*mn)) {
                adds.push(format!("protocol method `{pn}.{mn}` was added"));
            }
        }
    }
    (breaks, adds)
}

fn fields(f: &[FieldAbi]) -> String {
    f.iter()
        .map(|x| format!("{}:{}@{}", x.name, x.ty, x.offset))
        .collect::<Vec<_>>()
        .join(",")
}

fn params_diff(what: &str, dir: &str, a: &[ParamAbi], b: &[ParamAbi], v: &mut Vec<String>) {
    if a.len() != b.len() {
        v.push(format!(
            "{what} changed the number of {dir} from {} to {}",
            a.len(),
            b.len()
        ));
        return;
    }
    for (x, y) in a.iter().zip(b) {
        if x.ty != y.ty {
            v.push(format!(
                "{what} {dir}: `{}` changed type from {} to {}",
                x.name, x.ty, y.ty
            ));
        } else if x.rights != y.rights {
            v.push(format!(
                "{what} {dir}: `{}` changed required rights from [{}] to [{}]",
                x.name,
                x.rights.join(" | "),
                y.rights.join(" | ")
            ));
        } else if x.moved != y.moved {
            v.push(format!("{what} {dir}: `{}` changed between copied and moved", x.name));
        }
    }
}

fn map_diff<T: PartialEq>(
    kind: &str,
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
    breaks: &mut Vec<String>,
    adds: &mut Vec<String>,
    changed: impl Fn(&str, &T, &T) -> Vec<String>,
) {
    for (n, a) in old {
        match new.get(n) {
            None => breaks.push(format!("{kind} `{n}` was removed")),
            Some(b) if a != b => breaks.extend(changed(n, a, b)),
            _ => {}
        }
    }
    for n in new.keys().filter(|n| !old.contains_key(*n)) {
        adds.push(format!("{kind} `{n}` was added"));
    }
}
