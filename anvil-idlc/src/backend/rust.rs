//! The Rust user backend: one file, `anvil_bindings.rs`, with a module per library holding
//! its types, typed capability handles with syscall stubs, and protocol clients and servers.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::rust_common::*;
use super::{method_type, upper};
use crate::model::*;
use crate::Output;

pub fn generate(m: &Model) -> Vec<Output> {
    let abi = abi_module(m);
    let libs = (0..m.libraries.len()).map(|li| {
        let name = ident(&m.libraries[li].short);
        let d = docs(&m.libraries[li].docs);
        let types = library_types(m, li);
        let ifaces = m.interfaces.iter().filter(|i| i.lib == li).map(|i| match i.object_id {
            Some(_) => object(m, i),
            None => protocol(m, i),
        });
        quote! {
            #d
            #[allow(clippy::all, dead_code, non_camel_case_types, unused_imports)]
            pub mod #name {
                use super::abi::{Handle, Message, Transport};
                #types
                #(#ifaces)*
            }
        }
    });
    let table = syscall_table(m);
    let tokens = quote! { #abi #(#libs)* #table };
    vec![Output {
        path: "anvil_bindings.rs".into(),
        contents: render(m, tokens),
    }]
}

fn abi_module(m: &Model) -> TokenStream {
    let pod = pod_trait();
    let caps = Literal::usize_unsuffixed(m.msg_max_caps as usize);
    let data = Literal::usize_unsuffixed(m.msg_data_bytes.div_ceil(8) as usize * 8);
    let hdr = Literal::usize_unsuffixed((24 + 16 * m.msg_max_caps as usize).div_ceil(8) * 8);
    quote! {
        /// The syscall instruction, capability handles and the message buffer.
        #[allow(clippy::all, dead_code)]
        pub mod abi {
            #pod

            /// Enters the kernel: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9;
            /// status comes back in rax and results in the same six registers.
            #[cfg(target_arch = "x86_64")]
            #[inline(always)]
            pub fn syscall6(nr: u64, a: [u64; 6]) -> (u64, [u64; 6]) {
                let (mut rax, mut r) = (nr, a);
                // SAFETY: the `syscall` instruction only transfers control to the kernel, which
                // validates every argument and touches user memory only through checked copies;
                // pointers passed here come from live Rust references. rcx and r11 are clobbered
                // by the instruction itself and declared so.
                unsafe {
                    core::arch::asm!(
                        "syscall",
                        inout("rax") rax,
                        inout("rdi") r[0], inout("rsi") r[1], inout("rdx") r[2],
                        inout("r10") r[3], inout("r8") r[4], inout("r9") r[5],
                        out("rcx") _, out("r11") _,
                        options(nostack),
                    );
                }
                (rax, r)
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
                fn slot(&self) -> u64 { self.0 }
            }

            /// An IPC message as it lies in a thread's IPC buffer. `label` is the method ordinal in
            /// a request and the status in a reply; `badge` is filled in by the kernel on receive.
            /// On receive, the kernel also fills `cap_types` and `cap_rights` with the object type
            /// and rights of each capability the message brought (0 for unused entries); a
            /// sender's values there are ignored.
            #[repr(C, align(8))]
            #[derive(Clone, Copy, Debug)]
            pub struct Message {
                pub label: u64,
                pub badge: u64,
                pub data_len: u32,
                pub cap_count: u32,
                pub caps: [u64; #caps],
                pub cap_types: [u32; #caps],
                pub cap_rights: [u32; #caps],
                pub data: [u8; #data],
            }

            const _: () = assert!(core::mem::offset_of!(Message, data) == #hdr);

            impl Message {
                pub const fn new() -> Self {
                    Message { label: 0, badge: 0, data_len: 0, cap_count: 0, caps: [0; #caps], cap_types: [0; #caps], cap_rights: [0; #caps], data: [0; #data] }
                }

                /// Reads a plain-data value at the start of the data area.
                pub fn read<T: Pod>(&self) -> T {
                    const { assert!(core::mem::size_of::<T>() <= #data) };
                    // SAFETY: `T: Pod` makes every bit pattern valid; the const assertion keeps
                    // the read inside `data`; `read_unaligned` needs no alignment.
                    unsafe { core::ptr::read_unaligned(self.data.as_ptr().cast::<T>()) }
                }

                /// Writes a plain-data value at the start of the data area.
                pub fn write<T: Pod>(&mut self, v: &T) {
                    const { assert!(core::mem::size_of::<T>() <= #data) };
                    // SAFETY: as in `read`; `data` is exclusively borrowed.
                    unsafe { core::ptr::write_unaligned(self.data.as_mut_ptr().cast::<T>(), *v) }
                }
            }

            impl Default for Message {
                fn default() -> Self { Self::new() }
            }

            /// How protocol clients reach a server: the runtime supplies the IPC buffer and the
            /// call into the kernel; tests may supply an in-process server instead.
            pub trait Transport {
                fn message(&mut self) -> &mut Message;
                /// Sends `message()` to the endpoint in `ep` and waits for the reply in it.
                /// Returns the transport status (0 when the reply arrived).
                fn call(&mut self, ep: u64) -> u64;
            }
        }
    }
}

/// A parameter as a Rust function argument in user code.
fn arg_ty(m: &Model, ty: Ty) -> TokenStream {
    match ty {
        Ty::Scalar(s) => scalar(s),
        Ty::Bytes(_) => quote!(&[u8]),
        Ty::String(_) => quote!(&str),
        Ty::Struct(_) => {
            let t = inline_ty(m, ty);
            quote!(&#t)
        }
        Ty::Cap { object: Some(o), .. } => {
            let t = handle_path(m, o);
            quote!(&#t)
        }
        Ty::Cap { object: None, .. } => quote!(&impl Handle),
        t => inline_ty(m, t),
    }
}

fn handle_path(m: &Model, o: usize) -> TokenStream {
    let l = ident(&m.libraries[m.interfaces[o].lib].short);
    let n = ident(&m.interfaces[o].name);
    quote!(super::#l::#n)
}

/// The Rust type of a result value returned to user code.
fn ret_ty(m: &Model, ty: Ty) -> TokenStream {
    match ty {
        Ty::Cap { object: Some(o), .. } => handle_path(m, o),
        Ty::Cap { object: None, .. } => quote!(super::abi::AnyCap),
        Ty::Bytes(_) | Ty::String(_) => quote!(usize),
        Ty::Struct(_) => inline_ty(m, ty),
        t => arg_ty(m, t),
    }
}

fn tuple(items: Vec<TokenStream>) -> TokenStream {
    if items.len() == 1 {
        items.into_iter().next().unwrap_or_default()
    } else {
        quote!((#(#items),*))
    }
}

/// Converts a register to a result value.
fn from_reg(m: &Model, ty: Ty, r: TokenStream) -> TokenStream {
    match ty {
        Ty::Scalar(Scalar::Bool) => quote!(#r != 0),
        Ty::Scalar(s) => {
            let t = scalar(s);
            quote!(#r as #t)
        }
        Ty::Enum(_) | Ty::Bits(_) => {
            let t = inline_ty(m, ty);
            let u = match ty {
                Ty::Enum(e) => scalar(m.enums[e].underlying),
                Ty::Bits(b) => scalar(m.bits[b].underlying),
                _ => quote!(u64),
            };
            quote!(#t(#r as #u))
        }
        t => {
            let h = ret_ty(m, t);
            quote!(#h(#r))
        }
    }
}

fn object(m: &Model, i: &Interface) -> TokenStream {
    let name = ident(&i.name);
    let d = docs(&i.docs);
    let self_idx = m.interfaces.iter().position(|x| std::ptr::eq(x, i));
    let id_const = format_ident!("OBJ_{}", upper(&i.name));
    let id = Literal::u32_unsuffixed(i.object_id.unwrap_or(0));
    let mut nrs = Vec::new();
    let methods = i.methods.iter().map(|me| {
        let nr_name = format_ident!("SYS_{}_{}", upper(&i.name), me.name.to_ascii_uppercase());
        let nr = Literal::u64_unsuffixed(me.syscall.unwrap_or(0));
        nrs.push(quote! { pub const #nr_name: u64 = #nr; });
        let fname = ident(&me.name);
        let is_method = matches!(me.params.first(), Some(Param { ty: Ty::Cap { object: Some(o), .. }, .. }) if Some(*o) == self_idx);
        let mut args = Vec::new();
        let mut regs = Vec::new();
        for (k, p) in me.params.iter().enumerate() {
            let pn = ident(&p.name);
            if k == 0 && is_method {
                args.push(quote!(&self));
                regs.push(quote!(self.slot()));
                continue;
            }
            let t = arg_ty(m, p.ty);
            args.push(quote!(#pn: #t));
            match p.ty {
                Ty::Bytes(_) => {
                    regs.push(quote!(#pn.as_ptr() as u64));
                    regs.push(quote!(#pn.len() as u64));
                }
                Ty::String(_) => {
                    regs.push(quote!(#pn.as_ptr() as u64));
                    regs.push(quote!(#pn.len() as u64));
                }
                Ty::Struct(_) => regs.push(quote!(#pn as *const _ as u64)),
                Ty::Cap { .. } => regs.push(quote!(#pn.slot())),
                Ty::Enum(_) | Ty::Bits(_) => regs.push(quote!(#pn.0 as u64)),
                Ty::Scalar(Scalar::Bool) => regs.push(quote!(u64::from(#pn))),
                Ty::Scalar(_) => regs.push(quote!(#pn as u64)),
            }
        }
        while regs.len() < SYSCALL_REGS {
            regs.push(quote!(0));
        }
        let mut dl = me.docs.clone();
        for p in &me.params {
            if let Ty::Cap { rights, .. } = p.ty {
                let r = m.rights_names(rights);
                if !r.is_empty() {
                    dl.push(format!("`{}` needs rights {}.", p.name, r.join(" | ")));
                }
            }
        }
        let md = docs(&dl);
        let err = error_ty(m, me);
        let call = quote! { let (st, r) = super::abi::syscall6(#nr_name, [#(#regs),*]); };
        if me.noreturn {
            return quote! {
                #md
                pub fn #fname(#(#args),*) -> ! {
                    #call
                    let _ = (st, r);
                    loop { core::hint::spin_loop(); }
                }
            };
        }
        let rets: Vec<TokenStream> = me.results.iter().map(|p| ret_ty(m, p.ty)).collect();
        let vals: Vec<TokenStream> = me
            .results
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let k = Literal::usize_unsuffixed(k);
                from_reg(m, p.ty, quote!(r[#k]))
            })
            .collect();
        let rt = tuple(rets);
        let rv = tuple(vals);
        let rv = if me.results.is_empty() { quote!(()) } else { rv };
        let rt = if me.results.is_empty() { quote!(()) } else { rt };
        let keep_r = if me.results.is_empty() { quote!(let _ = r;) } else { quote!() };
        quote! {
            #md
            pub fn #fname(#(#args),*) -> Result<#rt, #err> {
                #call
                #keep_r
                if st != 0 {
                    return Err(#err(st as _));
                }
                Ok(#rv)
            }
        }
    });
    let methods: Vec<TokenStream> = methods.collect();
    quote! {
        pub const #id_const: u32 = #id;
        #(#nrs)*
        #d
        #[repr(transparent)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct #name(pub u64);
        impl Handle for #name {
            fn slot(&self) -> u64 { self.0 }
        }
        impl #name {
            /// Names the capability in slot `slot` of this process's CNode as this type.
            pub const fn from_slot(slot: u64) -> Self { #name(slot) }
            #(#methods)*
        }
    }
}

fn msg_struct(m: &Model, name: &str, what: String, ps: &[Param], l: &MsgLayout) -> TokenStream {
    pod_struct(StructSpec {
        name: name.to_string(),
        docs: vec![what],
        fields: l
            .fields
            .iter()
            .map(|f| {
                let p = &ps[f.param];
                (p.name.clone(), p.docs.clone(), p.ty, f.offset, f.len_offset)
            })
            .collect(),
        size: l.size,
        model: m,
    })
}

/// Stores a parameter value into a message struct field.
fn store(dst: TokenStream, p: &Param, src: TokenStream) -> TokenStream {
    let f = ident(&p.name);
    match p.ty {
        Ty::Bytes(n) | Ty::String(n) => {
            let lf = format_ident!("{}_len", p.name);
            let n = Literal::usize_unsuffixed(n as usize);
            let bytes = if matches!(p.ty, Ty::String(_)) {
                quote!(#src.as_bytes())
            } else {
                quote!(#src)
            };
            quote! {
                let b: &[u8] = #bytes;
                if b.len() > #n { return Err(INVALID); }
                #dst.#lf = b.len() as u32;
                #dst.#f[..b.len()].copy_from_slice(b);
            }
        }
        Ty::Struct(_) => quote! { #dst.#f = *#src; },
        Ty::Scalar(Scalar::Bool) => quote! { #dst.#f = u8::from(#src); },
        _ => quote! { #dst.#f = #src; },
    }
}

fn protocol(m: &Model, i: &Interface) -> TokenStream {
    let mut items = Vec::new();
    let server = format_ident!("{}Server", i.name);
    let dispatch = format_ident!("{}_dispatch", snake(&i.name));
    let invalid = status_member(m, "INVALID_ARGS");
    let unknown = status_member(m, "UNKNOWN_METHOD");
    let mut trait_fns = Vec::new();
    let mut arms = Vec::new();
    for me in &i.methods {
        let req = method_type(i, me, "Request");
        let resp = method_type(i, me, "Response");
        let req_i = ident(&req);
        let resp_i = ident(&resp);
        let ord_name = format_ident!("{}_{}_ORDINAL", upper(&i.name), me.name.to_ascii_uppercase());
        let ord = Literal::u32_unsuffixed(me.ordinal);
        let req_size = format_ident!("{}_{}_REQUEST_SIZE", upper(&i.name), me.name.to_ascii_uppercase());
        let resp_size = format_ident!("{}_{}_RESPONSE_SIZE", upper(&i.name), me.name.to_ascii_uppercase());
        let rqs = Literal::u32_unsuffixed(me.request.size);
        let rps = Literal::u32_unsuffixed(me.response.size);
        items.push(quote! {
            pub const #ord_name: u32 = #ord;
            pub const #req_size: u32 = #rqs;
            pub const #resp_size: u32 = #rps;
        });
        items.push(msg_struct(
            m,
            &req,
            format!("Request of `{}.{}`.", i.name, me.name),
            &me.params,
            &me.request,
        ));
        items.push(msg_struct(
            m,
            &resp,
            format!("Response of `{}.{}`.", i.name, me.name),
            &me.results,
            &me.response,
        ));
        let err = error_ty(m, me);
        let ncap_req = Literal::u32_unsuffixed(me.request.caps.len() as u32);
        let ncap_resp = Literal::u32_unsuffixed(me.response.caps.len() as u32);

        let resp_check = short_msg(&me.response, &resp_size, quote!(return Err(INVALID)));
        let req_check = short_msg(&me.request, &req_size, quote!(return fail(msg, (#invalid).0 as u64)));
        let mut_p = if me.response.fields.is_empty() {
            quote!()
        } else {
            quote!(mut)
        };
        // Client stub.
        let fname = format_ident!("{}_{}", snake(&i.name), me.name);
        let mut args = vec![quote!(t: &mut impl Transport), quote!(ep: &impl Handle)];
        let mut fill = Vec::new();
        for (k, p) in me.params.iter().enumerate() {
            let pn = ident(&p.name);
            let ty = arg_ty(m, p.ty);
            args.push(quote!(#pn: #ty));
            if let Ty::Cap { .. } = p.ty {
                let slot = Literal::usize_unsuffixed(me.request.caps.iter().position(|&c| c == k).unwrap_or(0));
                fill.push(quote! { msg.caps[#slot] = #pn.slot(); });
            } else {
                fill.push(store(quote!(q), p, quote!(#pn)));
            }
        }
        let mut rets = Vec::new();
        let mut vals = Vec::new();
        for (k, p) in me.results.iter().enumerate() {
            let pn = ident(&p.name);
            match p.ty {
                Ty::Bytes(n) | Ty::String(n) => {
                    let lf = format_ident!("{}_len", p.name);
                    let n = Literal::usize_unsuffixed(n as usize);
                    args.push(quote!(#pn: &mut [u8]));
                    rets.push(quote!(usize));
                    vals.push(quote! {{
                        let n = p.#lf as usize;
                        if n > #n { return Err(INVALID); }
                        let n = n.min(#pn.len());
                        #pn[..n].copy_from_slice(&p.#pn[..n]);
                        n
                    }});
                }
                Ty::Cap { .. } => {
                    let slot = Literal::usize_unsuffixed(me.response.caps.iter().position(|&c| c == k).unwrap_or(0));
                    let h = ret_ty(m, p.ty);
                    rets.push(h.clone());
                    vals.push(quote!(#h(msg.caps[#slot])));
                }
                Ty::Scalar(Scalar::Bool) => {
                    rets.push(quote!(bool));
                    vals.push(quote!(p.#pn != 0));
                }
                t => {
                    rets.push(ret_ty(m, t));
                    vals.push(quote!(p.#pn));
                }
            }
        }
        let rt = if rets.is_empty() {
            quote!(())
        } else {
            tuple(rets.clone())
        };
        let rv = if vals.is_empty() {
            quote!(())
        } else {
            tuple(vals.clone())
        };
        let cd = docs(&me.docs);
        let mut_q = if me.request.fields.is_empty() {
            quote!()
        } else {
            quote!(mut)
        };
        items.push(quote! {
            #cd
            pub fn #fname(#(#args),*) -> Result<#rt, #err> {
                const INVALID: #err = #err((#invalid).0 as _);
                let #mut_q q = #req_i::zeroed();
                let msg = t.message();
                #(#fill)*
                msg.write(&q);
                msg.label = #ord as u64;
                msg.data_len = #req_size;
                msg.cap_count = #ncap_req;
                let st = t.call(ep.slot());
                if st != 0 { return Err(#err(st as _)); }
                let msg = t.message();
                if msg.label != 0 { return Err(#err(msg.label as _)); }
                #resp_check
                let p: #resp_i = msg.read();
                let _ = &p;
                Ok(#rv)
            }
        });

        // Server trait method and dispatch arm.
        let mname = ident(&me.name);
        let mut targs = vec![quote!(&mut self), quote!(badge: u64)];
        let mut call_args = vec![quote!(msg.badge)];
        let mut checks = Vec::new();
        for (k, p) in me.params.iter().enumerate() {
            let pn = ident(&p.name);
            let ty = match p.ty {
                Ty::Cap { .. } => quote!(super::abi::AnyCap),
                t => arg_ty(m, t),
            };
            targs.push(quote!(#pn: #ty));
            match p.ty {
                Ty::Cap { .. } => {
                    let slot = Literal::usize_unsuffixed(me.request.caps.iter().position(|&c| c == k).unwrap_or(0));
                    call_args.push(quote!(super::abi::AnyCap(msg.caps[#slot])));
                }
                Ty::Bytes(n) | Ty::String(n) => {
                    let lf = format_ident!("{}_len", p.name);
                    let n = Literal::usize_unsuffixed(n as usize);
                    checks.push(quote! { if q.#lf as usize > #n { return fail(msg, (#invalid).0 as u64); } });
                    if matches!(p.ty, Ty::String(_)) {
                        checks.push(quote! {
                            let Ok(#pn) = core::str::from_utf8(&q.#pn[..q.#lf as usize]) else { return fail(msg, (#invalid).0 as u64); };
                        });
                        call_args.push(quote!(#pn));
                    } else {
                        call_args.push(quote!(&q.#pn[..q.#lf as usize]));
                    }
                }
                Ty::Struct(_) => call_args.push(quote!(&q.#pn)),
                Ty::Scalar(Scalar::Bool) => call_args.push(quote!(q.#pn != 0)),
                _ => call_args.push(quote!(q.#pn)),
            }
        }
        let mut outs_store = Vec::new();
        let mut ret_names = Vec::new();
        let mut ret_tys = Vec::new();
        for (k, p) in me.results.iter().enumerate() {
            let pn = ident(&p.name);
            match p.ty {
                Ty::Bytes(n) | Ty::String(n) => {
                    let nl = Literal::usize_unsuffixed(n as usize);
                    targs.push(quote!(#pn: &mut [u8; #nl]));
                    call_args.push(quote!(&mut p.#pn));
                    let lf = format_ident!("{}_len", p.name);
                    ret_names.push(quote!(#lf));
                    ret_tys.push(quote!(usize));
                    outs_store.push(quote! { p.#lf = #lf.min(#nl) as u32; });
                }
                Ty::Cap { .. } => {
                    let slot = Literal::usize_unsuffixed(me.response.caps.iter().position(|&c| c == k).unwrap_or(0));
                    ret_names.push(quote!(#pn));
                    ret_tys.push(quote!(super::abi::AnyCap));
                    outs_store.push(quote! { msg.caps[#slot] = #pn.0; });
                }
                Ty::Scalar(Scalar::Bool) => {
                    ret_names.push(quote!(#pn));
                    ret_tys.push(quote!(bool));
                    outs_store.push(quote! { p.#pn = u8::from(#pn); });
                }
                t => {
                    ret_names.push(quote!(#pn));
                    ret_tys.push(ret_ty(m, t));
                    outs_store.push(quote! { p.#pn = #pn; });
                }
            }
        }
        let trt = if ret_tys.is_empty() { quote!(()) } else { tuple(ret_tys) };
        let pat = if ret_names.is_empty() {
            quote!(())
        } else {
            tuple(ret_names)
        };
        let sd = docs(&me.docs);
        trait_fns.push(quote! { #sd fn #mname(#(#targs),*) -> Result<#trt, #err>; });
        arms.push(quote! {
            #ord => {
                #req_check
                let q: #req_i = msg.read();
                let _ = &q;
                #(#checks)*
                let #mut_p p = #resp_i::zeroed();
                match s.#mname(#(#call_args),*) {
                    Err(e) => fail(msg, e.0 as u64),
                    Ok(#pat) => {
                        #(#outs_store)*
                        msg.write(&p);
                        msg.label = 0;
                        msg.data_len = #resp_size;
                        msg.cap_count = #ncap_resp;
                    }
                }
            }
        });
    }
    let d = docs(&i.docs);
    let sdoc = format!(
        " The server side of `{}`: implement it and pass received messages to `{}`.",
        i.name, dispatch
    );
    let ddoc = format!(" Decodes the request in `msg`, calls the `{server}` method and leaves the reply in `msg`.");
    quote! {
        #(#items)*
        #d
        #[doc = #sdoc]
        pub trait #server {
            #(#trait_fns)*
        }
        #[doc = #ddoc]
        pub fn #dispatch<S: #server + ?Sized>(s: &mut S, msg: &mut Message) {
            fn fail(msg: &mut Message, st: u64) {
                msg.label = st;
                msg.data_len = 0;
                msg.cap_count = 0;
            }
            match msg.label {
                #(#arms)*
                _ => fail(msg, (#unknown).0 as u64),
            }
        }
    }
}

/// The check that a received message is long enough and carries enough capabilities.
fn short_msg(l: &MsgLayout, size: &proc_macro2::Ident, fail: TokenStream) -> TokenStream {
    let mut conds = Vec::new();
    if l.size > 0 {
        conds.push(quote!(msg.data_len < #size));
    }
    if !l.caps.is_empty() {
        let n = Literal::u32_unsuffixed(l.caps.len() as u32);
        conds.push(quote!(msg.cap_count < #n));
    }
    if conds.is_empty() {
        quote!()
    } else {
        quote! { if #(#conds)||* { #fail; } }
    }
}

/// A table of every syscall and how its arguments are passed, for tests that attack each
/// argument (hostile callers) and for tracing.
fn syscall_table(m: &Model) -> TokenStream {
    let mut rows = Vec::new();
    for i in m.objects() {
        for me in &i.methods {
            let name = format!("{}.{}", i.name, me.name);
            let nr = Literal::u64_unsuffixed(me.syscall.unwrap_or(0));
            let args = me.params.iter().map(|p| match p.ty {
                Ty::Cap { object, rights } => {
                    let o = match object {
                        Some(o) => {
                            let id = Literal::u32_unsuffixed(m.interfaces[o].object_id.unwrap_or(0));
                            quote!(Some(#id))
                        }
                        None => quote!(None),
                    };
                    let r = Literal::u32_unsuffixed(rights as u32);
                    quote! { Arg::Cap { object: #o, rights: #r }, }
                }
                Ty::Bytes(n) | Ty::String(n) => {
                    let n = Literal::u64_unsuffixed(u64::from(n));
                    quote! { Arg::Bytes { max: #n }, }
                }
                Ty::Struct(st) => {
                    let size = Literal::u32_unsuffixed(m.structs[st].size);
                    quote! { Arg::Struct { size: #size }, }
                }
                _ => quote! { Arg::Value, },
            });
            let (noreturn, blocking) = (me.noreturn, me.blocking);
            rows.push(quote! {
                Syscall { name: #name, number: #nr, args: &[#(#args)*], noreturn: #noreturn, blocking: #blocking },
            });
        }
    }
    quote! {
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

            pub static SYSCALLS: &[Syscall] = &[#(#rows)*];
        }
    }
}
