//! The Markdown backend: a reference page per library, generated from the doc comments.

use std::fmt::Write as _;

use super::fn_name;
use crate::model::*;
use crate::Output;

pub fn generate(m: &Model) -> Vec<Output> {
    let all: Vec<usize> = (0..m.libraries.len()).collect();
    let mut outs = vec![Output {
        path: "README.md".into(),
        contents: index(m, &all),
    }];
    for (li, lib) in m.libraries.iter().enumerate() {
        outs.push(Output {
            path: format!("{}.md", lib.short),
            contents: library(m, li),
        });
    }
    outs
}

/// The index page, listing the libraries `libs`. Its banner names no file, so that the page
/// of each library is all that a change to that library's file changes.
pub fn index(m: &Model, libs: &[usize]) -> String {
    let mut index = crate::banner("the .idl files of the libraries listed below", "<!--").replace('\n', " -->\n");
    index.push_str("\n# Anvil ABI reference\n\nGenerated from the interface files; one page per library.\n\n");
    for &li in libs {
        let lib = &m.libraries[li];
        let _ = writeln!(
            index,
            "- [`{}`]({}.md){}",
            lib.name,
            lib.short,
            lib.docs.first().map(|d| format!(": {d}")).unwrap_or_default()
        );
    }
    index
}

fn para(o: &mut String, docs: &[String]) {
    if !docs.is_empty() {
        let _ = writeln!(o, "{}\n", docs.join("\n"));
    }
}

fn ty(m: &Model, t: Ty) -> String {
    format!("`{}`", m.type_name(t))
}

fn library(m: &Model, li: usize) -> String {
    let lib = &m.libraries[li];
    let mut o = crate::banner(m.source_of(li), "<!--").replace('\n', " -->\n");
    let _ = writeln!(o, "\n# Library `{}`\n", lib.name);
    let _ = writeln!(
        o,
        "Source: `{}`. C header: `<anvil/{}.h>`. Rust module: `{}`.\n",
        m.source_of(li),
        lib.short,
        lib.short
    );
    para(&mut o, &lib.docs);
    let consts: Vec<&Const> = m.consts.iter().filter(|c| c.lib == li).collect();
    if !consts.is_empty() {
        o.push_str("## Constants\n\n| name | type | value | meaning |\n|---|---|---|---|\n");
        for c in consts {
            let _ = writeln!(
                o,
                "| `{}` | `{}` | {} | {} |",
                c.name,
                c.ty.name(),
                c.value,
                c.docs.join(" ")
            );
        }
        o.push('\n');
    }
    for (kind, list) in [("Enum", &m.enums), ("Bits", &m.bits)] {
        for e in list.iter().filter(|e| e.lib == li) {
            let _ = writeln!(o, "## {kind} `{}` : `{}`\n", e.name, e.underlying.name());
            para(&mut o, &e.docs);
            o.push_str("| member | value | meaning |\n|---|---|---|\n");
            for mm in &e.members {
                let _ = writeln!(o, "| `{}` | {:#x} | {} |", mm.name, mm.value, mm.docs.join(" "));
            }
            o.push('\n');
        }
    }
    for s in m.structs.iter().filter(|s| s.lib == li) {
        let _ = writeln!(o, "## Struct `{}` ({} bytes, align {})\n", s.name, s.size, s.align);
        para(&mut o, &s.docs);
        o.push_str("| field | type | offset | size | meaning |\n|---|---|---|---|---|\n");
        for f in &s.fields {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {} |",
                f.name,
                ty(m, f.ty),
                f.offset,
                f.size,
                f.docs.join(" ")
            );
        }
        o.push('\n');
    }
    for i in m.interfaces.iter().filter(|i| i.lib == li) {
        match i.object_id {
            Some(id) => {
                let _ = writeln!(o, "## Object `{}` (type id {id})\n", i.name);
                para(&mut o, &i.docs);
                for me in &i.methods {
                    let _ = writeln!(
                        o,
                        "### `{}.{}` — syscall {}\n\nC: `anvil_{}`, Rust: `{}::{}`.{}{}\n",
                        i.name,
                        me.name,
                        me.syscall.unwrap_or(0),
                        fn_name(i, me),
                        i.name,
                        me.name,
                        if me.blocking { " May block." } else { "" },
                        if me.noreturn { " Does not return." } else { "" }
                    );
                    para(&mut o, &me.docs);
                    params(&mut o, m, me);
                }
            }
            None => {
                let _ = writeln!(o, "## Protocol `{}`\n", i.name);
                para(&mut o, &i.docs);
                for me in &i.methods {
                    let _ = writeln!(
                        o,
                        "### `{}.{}` — ordinal {}\n\nRequest {} bytes, {} capabilities; response {} bytes, {} capabilities.{}\n",
                        i.name,
                        me.name,
                        me.ordinal,
                        me.request.size,
                        me.request.caps.len(),
                        me.response.size,
                        me.response.caps.len(),
                        if me.blocking { " May block." } else { "" }
                    );
                    para(&mut o, &me.docs);
                    params(&mut o, m, me);
                }
            }
        }
    }
    o
}

fn params(o: &mut String, m: &Model, me: &Method) {
    if me.params.is_empty() && me.results.is_empty() {
        return;
    }
    o.push_str("| | name | type | notes |\n|---|---|---|---|\n");
    for (dir, ps) in [("in", &me.params), ("out", &me.results)] {
        for p in ps {
            let mut notes = p.docs.join(" ");
            if p.moved {
                notes.push_str(" (moved)");
            }
            let _ = writeln!(o, "| {dir} | `{}` | {} | {} |", p.name, ty(m, p.ty), notes.trim());
        }
    }
    let _ = writeln!(o, "\nErrors: `{}`.\n", m.enums[me.error].name);
}
