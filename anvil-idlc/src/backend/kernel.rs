//! The kernel backend: `kernel_dispatch.rs`, pulled into the kernel from `build.rs`.
//!
//! It holds the ABI types, the syscall numbers, a table describing every syscall, the
//! `Kernel` trait that the handwritten kernel implements (one method per syscall, taking
//! already decoded and checked arguments), and `dispatch`, which turns a syscall number and
//! six registers into a call of that trait. The kernel never decodes registers by hand.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::rust_common::*;
use crate::model::*;
use crate::Output;

pub fn generate(m: &Model) -> Vec<Output> {
    let pod = pod_trait();
    let libs = (0..m.libraries.len()).map(|li| {
        let name = ident(&m.libraries[li].short);
        let types = library_types(m, li);
        let d = docs(&m.libraries[li].docs);
        quote! {
            #d
            #[allow(clippy::all, dead_code)]
            pub mod #name { #types }
        }
    });
    let Some(status) = m.status_enum() else {
        let tokens = quote! { pub mod abi { #pod } #(#libs)* };
        return vec![Output {
            path: "kernel_dispatch.rs".into(),
            contents: render(m, tokens),
        }];
    };
    let status_path = {
        let l = ident(&m.libraries[status.lib].short);
        let n = ident(&status.name);
        quote!(#l::#n)
    };
    let rights_path = match m.rights_bits() {
        Some(r) => {
            let l = ident(&m.libraries[r.lib].short);
            let n = ident(&r.name);
            quote!(#l::#n)
        }
        None => quote!(u64),
    };
    let st = |n: &str| {
        let n = ident(n);
        quote!(#status_path::#n)
    };
    let (invalid_args, unknown) = (st("INVALID_ARGS"), st("UNKNOWN_METHOD"));

    // Object types.
    let obj_variants = m.objects().map(|o| {
        let n = ident(&o.name);
        let id = Literal::u32_unsuffixed(o.object_id.unwrap_or(0));
        let d = docs(&o.docs);
        quote! { #d #n = #id, }
    });
    let obj_names = m.objects().map(|o| {
        let n = ident(&o.name);
        let s = &o.name;
        quote! { ObjectType::#n => #s, }
    });

    let mut consts = Vec::new();
    let mut infos = Vec::new();
    let mut trait_fns = Vec::new();
    let mut arms = Vec::new();
    for i in m.objects() {
        for me in &i.methods {
            let fname = format!("{}_{}", snake(&i.name), me.name);
            let cname = format_ident!("SYS_{}", fname.to_ascii_uppercase());
            let nr = Literal::u64_unsuffixed(me.syscall.unwrap_or(0));
            consts.push(quote! { pub const #cname: u64 = #nr; });
            let fq = format!("{}.{}", i.name, me.name);
            let (blocking, noreturn) = (me.blocking, me.noreturn);
            let mut reg = 0usize;
            let mut arg_infos = Vec::new();
            let mut decodes = Vec::new();
            let mut params = Vec::new();
            let mut call_args = Vec::new();
            for p in &me.params {
                let pn = ident(&p.name);
                let r = Literal::usize_unsuffixed(reg);
                let pname = &p.name;
                match p.ty {
                    Ty::Cap { object, rights } => {
                        let ot = match object {
                            Some(o) => {
                                let n = ident(&m.interfaces[o].name);
                                quote!(Some(ObjectType::#n))
                            }
                            None => quote!(None),
                        };
                        let rv = Literal::u64_unsuffixed(rights);
                        let moved = p.moved;
                        arg_infos.push(quote! { Arg::Cap { name: #pname, object: #ot, rights: #rights_path(#rv as _), moved: #moved }, });
                        decodes.push(quote! {
                            let #pn = k.lookup(a[#r], #ot, #rights_path(#rv as _))?;
                        });
                        params.push(quote!(#pn: Self::Cap));
                    }
                    Ty::Bytes(n) | Ty::String(n) => {
                        let r2 = Literal::usize_unsuffixed(reg + 1);
                        let nl = Literal::u64_unsuffixed(n as u64);
                        let is_str = matches!(p.ty, Ty::String(_));
                        arg_infos.push(quote! { Arg::Bytes { name: #pname, max: #nl, string: #is_str }, });
                        decodes.push(quote! {
                            if a[#r2] > #nl { return Err(#invalid_args); }
                            let #pn = k.user_bytes(a[#r], a[#r2])?;
                        });
                        params.push(quote!(#pn: Self::UserBytes));
                    }
                    Ty::Struct(s) => {
                        let t = inline_ty(m, p.ty);
                        let t = quote!(#t).to_string().replace("super :: ", "");
                        let t: TokenStream = t.parse().unwrap_or_default();
                        let size = Literal::u32_unsuffixed(m.structs[s].size);
                        arg_infos.push(quote! { Arg::Struct { name: #pname, size: #size }, });
                        decodes.push(quote! { let #pn: #t = k.user_struct(a[#r])?; });
                        params.push(quote!(#pn: #t));
                    }
                    Ty::Scalar(Scalar::Bool) => {
                        arg_infos.push(quote! { Arg::Value { name: #pname }, });
                        decodes.push(quote! {
                            let #pn = match a[#r] { 0 => false, 1 => true, _ => return Err(#invalid_args) };
                        });
                        params.push(quote!(#pn: bool));
                    }
                    Ty::Scalar(s) => {
                        let t = scalar(s);
                        arg_infos.push(quote! { Arg::Value { name: #pname }, });
                        let conv = if s == Scalar::U64 {
                            quote!(a[#r])
                        } else if s.is_unsigned_int() {
                            quote!(#t::try_from(a[#r]).map_err(|_| #invalid_args)?)
                        } else {
                            quote!(#t::try_from(a[#r] as i64).map_err(|_| #invalid_args)?)
                        };
                        decodes.push(quote! { let #pn: #t = #conv; });
                        params.push(quote!(#pn: #t));
                    }
                    Ty::Enum(_) | Ty::Bits(_) => {
                        let (e, check) = match p.ty {
                            Ty::Enum(e) => (&m.enums[e], quote!(is_known)),
                            Ty::Bits(b) => (&m.bits[b], quote!(is_valid)),
                            _ => unreachable!(),
                        };
                        let u = scalar(e.underlying);
                        let t = {
                            let l = ident(&m.libraries[e.lib].short);
                            let n = ident(&e.name);
                            quote!(#l::#n)
                        };
                        arg_infos.push(quote! { Arg::Value { name: #pname }, });
                        decodes.push(quote! {
                            let #pn = #t(#u::try_from(a[#r]).map_err(|_| #invalid_args)?);
                            if !#pn.#check() { return Err(#invalid_args); }
                        });
                        params.push(quote!(#pn: #t));
                    }
                }
                call_args.push(quote!(#pn));
                reg += syscall_regs(p.ty);
            }
            // Results.
            let mut ret_tys = Vec::new();
            let mut ret_names = Vec::new();
            let mut encodes = Vec::new();
            for (k, p) in me.results.iter().enumerate() {
                let pn = format_ident!("ret_{}", p.name);
                let kl = Literal::usize_unsuffixed(k);
                ret_names.push(quote!(#pn));
                match p.ty {
                    Ty::Cap { .. } => {
                        ret_tys.push(quote!(Self::NewCap));
                        encodes.push(quote! { out[#kl] = k.install(#pn)?; });
                    }
                    Ty::Scalar(Scalar::Bool) => {
                        ret_tys.push(quote!(bool));
                        encodes.push(quote! { out[#kl] = u64::from(#pn); });
                    }
                    Ty::Scalar(s) => {
                        ret_tys.push(scalar(s));
                        encodes.push(quote! { out[#kl] = #pn as u64; });
                    }
                    Ty::Enum(_) | Ty::Bits(_) => {
                        let e = match p.ty {
                            Ty::Enum(e) => &m.enums[e],
                            Ty::Bits(b) => &m.bits[b],
                            _ => unreachable!(),
                        };
                        let l = ident(&m.libraries[e.lib].short);
                        let n = ident(&e.name);
                        ret_tys.push(quote!(#l::#n));
                        encodes.push(quote! { out[#kl] = #pn.0 as u64; });
                    }
                    _ => {}
                }
            }
            let rt = match ret_tys.len() {
                0 => quote!(()),
                1 => ret_tys[0].clone(),
                _ => quote!((#(#ret_tys),*)),
            };
            let pat = match ret_names.len() {
                0 => quote!(()),
                1 => ret_names[0].clone(),
                _ => quote!((#(#ret_names),*)),
            };
            let method = ident(&fname);
            let mut dl = vec![format!("`{fq}` (syscall {}).", me.syscall.unwrap_or(0))];
            dl.extend(me.docs.iter().cloned());
            let d = docs(&dl);
            trait_fns.push(quote! { #d fn #method(&mut self, #(#params),*) -> Result<#rt, #status_path>; });
            let ident_nr = cname.clone();
            arms.push(quote! {
                #ident_nr => {
                    #(#decodes)*
                    let #pat = k.#method(#(#call_args),*)?;
                    #(#encodes)*
                    Ok(out)
                }
            });
            let nres = Literal::usize_unsuffixed(me.results.len());
            infos.push(quote! {
                SyscallInfo { number: #cname, name: #fq, blocking: #blocking, noreturn: #noreturn, args: &[#(#arg_infos)*], results: #nres },
            });
        }
    }
    let tokens = quote! {
        /// Markers shared by the generated modules.
        pub mod abi { #pod }
        #(#libs)*

        pub use self::abi::Pod;
        #(#consts)*

        /// The type of a kernel object, as capabilities record it.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ObjectType { #(#obj_variants)* }

        impl ObjectType {
            pub const fn name(self) -> &'static str {
                match self { #(#obj_names)* }
            }
        }

        /// How one syscall argument is passed and checked.
        #[derive(Clone, Copy, Debug)]
        pub enum Arg {
            /// A capability slot; the holder needs `rights` on an object of type `object` (`None`: any).
            Cap { name: &'static str, object: Option<ObjectType>, rights: #rights_path, moved: bool },
            /// A user pointer and a length of at most `max` bytes (two registers).
            Bytes { name: &'static str, max: u64, string: bool },
            /// A user pointer to a struct of `size` bytes.
            Struct { name: &'static str, size: u32 },
            /// A value in one register, checked for range.
            Value { name: &'static str },
        }

        /// Static description of a syscall, for tests and tracing.
        #[derive(Clone, Copy, Debug)]
        pub struct SyscallInfo {
            pub number: u64,
            pub name: &'static str,
            pub blocking: bool,
            pub noreturn: bool,
            pub args: &'static [Arg],
            pub results: usize,
        }

        /// Every syscall, in declaration order.
        pub static SYSCALLS: &[SyscallInfo] = &[#(#infos)*];

        /// Looks a syscall up by number.
        pub fn syscall_info(nr: u64) -> Option<&'static SyscallInfo> {
            SYSCALLS.iter().find(|s| s.number == nr)
        }

        /// What the kernel implements. Arguments arrive decoded, range-checked, and for
        /// capabilities looked up and checked for object type and rights.
        pub trait Kernel {
            /// A capability that passed its type and rights check.
            type Cap;
            /// A validated user buffer (pointer and length checked against the caller's memory).
            type UserBytes;
            /// A new capability a handler returns; `install` puts it in the caller's CNode.
            type NewCap;
            /// Looks `slot` up in the caller's CNode and checks the object type and that every
            /// right in `rights` is held.
            fn lookup(&mut self, slot: u64, object: Option<ObjectType>, rights: #rights_path) -> Result<Self::Cap, #status_path>;
            /// Validates a user buffer of `len` bytes at `ptr`.
            fn user_bytes(&mut self, ptr: u64, len: u64) -> Result<Self::UserBytes, #status_path>;
            /// Copies a plain-data struct in from user memory at `ptr`.
            fn user_struct<T: Pod>(&mut self, ptr: u64) -> Result<T, #status_path>;
            /// Places a new capability in a free slot of the caller's CNode and returns the slot.
            fn install(&mut self, cap: Self::NewCap) -> Result<u64, #status_path>;
            #(#trait_fns)*
        }

        /// Decodes syscall `nr` with arguments `a`, calls the handler, and returns the
        /// status for rax and the six result registers.
        pub fn dispatch<K: Kernel>(k: &mut K, nr: u64, a: [u64; 6]) -> (u64, [u64; 6]) {
            match decode(k, nr, a) {
                Ok(out) => (0, out),
                Err(e) => (e.0 as u64, [0; 6]),
            }
        }

        fn decode<K: Kernel>(k: &mut K, nr: u64, a: [u64; 6]) -> Result<[u64; 6], #status_path> {
            #[allow(unused_mut)]
            let mut out = [0u64; 6];
            match nr {
                #(#arms)*
                _ => Err(#unknown),
            }
        }
    };
    vec![Output {
        path: "kernel_dispatch.rs".into(),
        contents: render(m, tokens),
    }]
}
