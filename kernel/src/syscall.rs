//! Syscall handling. The entry stub saves registers and calls `entry`, which hands the number
//! and arguments to the generated `dispatch`; that decodes, looks capabilities up, checks
//! types and rights, and calls the `Kernel` methods below with typed arguments. One error
//! path: every failure is a `Status` returned in rax.
//!
//! `entry` runs the handler in a scope of its own, so every reference the handler took is
//! dropped before the thread can leave the CPU: a thread that dies in a syscall is never
//! resumed, and anything still on its stack would leak (see `sched`).

use alloc::sync::Arc;

use crate::abi::kernel::{FaultKind, FaultReport, ThreadState};
use crate::abi::types::{MapFlags, Regs, Rights, Status};
use crate::abi::{Kernel, ObjectType, Pod};
use crate::arch::x86_64::trap::TrapFrame;
use crate::mm::PAGE;
use crate::object::cnode::{self, CNode, CAPS};
use crate::object::endpoint::{self, Endpoint, EndpointCap, Then};
use crate::object::ioport::IoPort;
use crate::object::irq::{Irq, IRQ_LINES};
use crate::object::quota::cost;
use crate::object::tcb::{self, IpcBuffer, State, Tcb, TcbCap, ANY_CPU, MAX_PRIORITY};
use crate::object::vmo::Vmo;
use crate::object::vspace::{Access, VSpace};
use crate::object::{expect_obj, reap, Capability, NewCap, Object};
use crate::sched;
use crate::uaccess::UserSlice;

/// What the entry path does after a handler returns.
enum After {
    Return,
    /// Leave the CPU until woken; the syscall's result is the waker's status.
    Block,
    Exit(u64),
    Yield,
    /// Leave the CPU until resumed (the thread suspended itself).
    Stop,
    Shutdown(u8),
}

/// The handler context for one syscall of `thread`.
struct Ctx<'a> {
    thread: &'a Arc<Tcb>,
    after: After,
}

pub fn entry(frame: &mut TrapFrame) {
    let after = {
        let Some(thread) = sched::current() else {
            crate::kerr!("syscall with no current thread");
            crate::arch::x86_64::cpu::halt_forever();
        };
        let mut ctx = Ctx {
            thread: &thread,
            after: After::Return,
        };
        let (status, results) = crate::abi::dispatch(&mut ctx, frame.rax, frame.syscall_args());
        frame.set_syscall_result(status, results);
        ctx.after
    };
    reap::drain();
    match after {
        After::Return => {}
        After::Block => {
            sched::block();
            // Woken by the partner of the IPC operation (or a stop), which set its result.
            if let Some(status) = take_result() {
                frame.set_syscall_result(status, [0; 6]);
            }
        }
        After::Yield => sched::yield_now(),
        After::Stop => sched::block(),
        After::Exit(code) => exit(code, frame),
        After::Shutdown(code) => {
            crate::kinfo!("shutdown requested with code {code}");
            crate::report_memory();
            crate::arch::x86_64::port::qemu_exit(code);
        }
    }
    sched::check_stopped();
    clear_replaced();
}

/// The status a blocked syscall ends with, unless `Tcb.set_regs` gave the thread new registers
/// while it was stopped (then the syscall writes nothing over them).
fn take_result() -> Option<u64> {
    let t = sched::current()?;
    let mut i = t.inner.lock();
    if core::mem::take(&mut i.regs_replaced) {
        return None;
    }
    Some(i.wake_status)
}

fn clear_replaced() {
    if let Some(t) = sched::current() {
        t.inner.lock().regs_replaced = false;
    }
}

/// `Tcb.exit`: reported to the fault endpoint if the thread has one (it then stays stopped
/// until its supervisor acts), else the thread ends.
fn exit(code: u64, frame: &TrapFrame) {
    let outcome = {
        let Some(t) = sched::current() else { return };
        // A clean exit is routine (a supervisor hears of it anyway); a failing one is news.
        if code == 0 {
            crate::kdebug!("thread {} ({}) exited with code 0", t.id, t.name());
        } else {
            crate::kinfo!("thread {} ({}) exited with code {code}", t.id, t.name());
        }
        let report = FaultReport {
            kind: FaultKind::EXIT,
            vector: 0,
            thread: t.id,
            addr: 0,
            rip: frame.rip,
            rsp: frame.rsp,
            error: 0,
            code,
        };
        tcb::fault(&t, report)
    };
    reap::drain();
    match outcome {
        tcb::Fault::Dead => sched::exit_current(),
        tcb::Fault::Reported | tcb::Fault::Suspended => sched::block(),
    }
}

fn user_access(flags: MapFlags) -> Result<Access, Status> {
    let write = flags.contains(MapFlags::W);
    let exec = flags.contains(MapFlags::X);
    if write && exec {
        return Err(Status::INVALID_ARGS); // W^X
    }
    Ok(Access { write, exec })
}

/// A page-aligned, non-empty user range.
fn user_pages(va: u64, len: u64) -> Result<(), Status> {
    if len == 0 || !va.is_multiple_of(PAGE) || !len.is_multiple_of(PAGE) || !anvil_kcore::uaccess::user_range(va, len) {
        return Err(Status::INVALID_ARGS);
    }
    Ok(())
}

fn cn(cap: &Capability) -> Result<Arc<CNode>, Status> {
    expect_obj!(cap, CNode)
}

fn endpoint_of(cap: &Capability) -> Result<Arc<Endpoint>, Status> {
    expect_obj!(cap, Endpoint).map(|e| e.0.clone())
}

impl Ctx<'_> {
    fn then(&mut self, t: Then) {
        if t == Then::Block {
            self.after = After::Block;
        }
    }

    fn own_cnode(&self) -> Result<Arc<CNode>, Status> {
        self.thread.cnode().ok_or(Status::INVALID_CAP)
    }
}

impl Kernel for Ctx<'_> {
    type Cap = Capability;
    type UserBytes = UserSlice;
    type NewCap = NewCap;

    fn lookup(&mut self, slot: u64, object: Option<ObjectType>, rights: Rights) -> Result<Capability, Status> {
        let cap = self.own_cnode()?.get(slot)?;
        if object.is_some_and(|t| t != cap.object.object_type()) {
            return Err(Status::WRONG_TYPE);
        }
        if !cap.rights.contains(rights) {
            return Err(Status::ACCESS_DENIED);
        }
        Ok(cap)
    }

    fn user_bytes(&mut self, ptr: u64, len: u64) -> Result<UserSlice, Status> {
        UserSlice::new(ptr, len)
    }

    fn user_struct<T: Pod>(&mut self, ptr: u64) -> Result<T, Status> {
        UserSlice::new(ptr, core::mem::size_of::<T>() as u64)?.read_pod()
    }

    fn install(&mut self, cap: NewCap) -> Result<u64, Status> {
        match self.own_cnode() {
            Ok(c) => c.install(cap),
            Err(e) => {
                reap::defer(cap.object);
                Err(e)
            }
        }
    }

    fn quota_split(&mut self, parent: Capability, bytes: u64) -> Result<NewCap, Status> {
        let q = expect_obj!(parent, Quota)?;
        Ok(NewCap::made_with(&parent, Object::Quota(q.split(bytes)?)))
    }

    fn quota_info(&mut self, quota: Capability) -> Result<(u64, u64), Status> {
        Ok(expect_obj!(quota, Quota)?.info())
    }

    fn cnode_create(&mut self, quota: Capability, slots: u32) -> Result<NewCap, Status> {
        if slots == 0 || slots > 4096 {
            return Err(Status::INVALID_ARGS);
        }
        let q = expect_obj!(quota, Quota)?;
        let charge = q.charge(cost::CNODE_BASE + cost::CNODE_SLOT * u64::from(slots))?;
        let c = CNode::new(slots as usize, Some(charge))?;
        Ok(NewCap::made_with(&quota, Object::CNode(Arc::new(c))))
    }

    fn cnode_info(&mut self, cnode: Capability) -> Result<(u32, u32), Status> {
        Ok(cn(&cnode)?.info())
    }

    fn cap_copy(&mut self, src: Capability, s: u64, dst: Capability, d: u64, rights: Rights) -> Result<(), Status> {
        let (src, dst) = (cn(&src)?, cn(&dst)?);
        let mut caps = CAPS.lock();
        let n = caps.get(src.id, s).map_err(cnode::status)?;
        if !Rights(n.rights).contains(Rights::GRANT) {
            return Err(Status::ACCESS_DENIED);
        }
        caps.derive(src.id, s, dst.id, d, rights.0, None).map_err(cnode::status)
    }

    fn cap_mint(
        &mut self,
        src: Capability,
        s: u64,
        dst: Capability,
        d: u64,
        rights: Rights,
        badge: u64,
    ) -> Result<(), Status> {
        let (src, dst) = (cn(&src)?, cn(&dst)?);
        let mut caps = CAPS.lock();
        let n = caps.get(src.id, s).map_err(cnode::status)?;
        if !Rights(n.rights).contains(Rights::GRANT) {
            return Err(Status::ACCESS_DENIED);
        }
        if badge == 0 {
            return Err(Status::INVALID_ARGS);
        }
        caps.derive(src.id, s, dst.id, d, rights.0, Some(badge))
            .map_err(cnode::status)
    }

    fn cap_transfer(&mut self, src: Capability, s: u64, dst: Capability, d: u64) -> Result<(), Status> {
        let (src, dst) = (cn(&src)?, cn(&dst)?);
        let mut caps = CAPS.lock();
        let n = caps.get(src.id, s).map_err(cnode::status)?;
        if src.id != dst.id && !Rights(n.rights).contains(Rights::GRANT) {
            return Err(Status::ACCESS_DENIED);
        }
        caps.transfer(src.id, s, dst.id, d).map_err(cnode::status)
    }

    fn cap_delete(&mut self, cnode: Capability, slot: u64) -> Result<(), Status> {
        let c = cn(&cnode)?;
        let obj = CAPS.lock().delete(c.id, slot).map_err(cnode::status)?;
        reap::defer(obj);
        Ok(())
    }

    fn cap_revoke(&mut self, cnode: Capability, slot: u64) -> Result<(), Status> {
        let c = cn(&cnode)?;
        let objs = CAPS.lock().revoke(c.id, slot).map_err(cnode::status)?;
        reap::defer_all(objs);
        Ok(())
    }

    fn cap_identify(&mut self, cnode: Capability, slot: u64) -> Result<(u32, Rights, u64), Status> {
        let cap = cn(&cnode)?.get(slot)?;
        Ok((cap.object.object_type() as u32, cap.rights, cap.badge))
    }

    fn tcb_create(&mut self, quota: Capability) -> Result<NewCap, Status> {
        let charge = expect_obj!(quota, Quota)?.charge(cost::TCB)?;
        let t = self.thread.with_name(|name| Tcb::new(name, Some(charge)))?;
        Ok(NewCap::made_with(&quota, Object::Tcb(TcbCap::new(t))))
    }

    fn tcb_configure(&mut self, t: Capability, v: Capability, c: Capability, ipc: u64, prio: u8) -> Result<(), Status> {
        let (t, v, c) = (expect_obj!(t, Tcb)?, expect_obj!(v, VSpace)?, expect_obj!(c, CNode)?);
        if prio > MAX_PRIORITY
            || (ipc != 0 && (!ipc.is_multiple_of(PAGE) || !anvil_kcore::uaccess::user_range(ipc, PAGE)))
        {
            return Err(Status::INVALID_ARGS);
        }
        // The IPC buffer is the page mapped there now; the thread keeps its memory.
        let buffer = match ipc {
            0 => None,
            va => {
                let (vmo, pa) = v.page_at(va).ok_or(Status::NOT_MAPPED)?;
                Some(IpcBuffer::new(vmo, pa))
            }
        };
        let mut i = t.inner.lock();
        if i.state != State::Inactive || i.started {
            return Err(Status::BAD_STATE);
        }
        let old = (
            i.vspace.replace(v),
            i.cnode.replace(c),
            core::mem::replace(&mut i.ipc, buffer),
        );
        i.priority = prio;
        drop(i);
        drop(old);
        Ok(())
    }

    fn tcb_set_regs(&mut self, t: Capability, regs: Regs) -> Result<(), Status> {
        let t = expect_obj!(t, Tcb)?;
        if !anvil_kcore::uaccess::user_range(regs.rip, 1)
            || !anvil_kcore::uaccess::user_range(regs.rsp.saturating_sub(8), 8)
        {
            return Err(Status::INVALID_ARGS);
        }
        let mut f = TrapFrame::new_user(regs.rip, regs.rsp);
        f.rdi = regs.arg0;
        f.rsi = regs.arg1;
        f.rdx = regs.arg2;
        // A stopped thread that ran may still be switching away on another CPU.
        let stopped = t.inner.lock().state;
        if matches!(stopped, State::Suspended | State::Faulted) {
            sched::wait_off_cpu(&t, stopped);
        }
        let mut i = t.inner.lock();
        match i.state {
            State::Inactive if !i.started => i.start = Some(f),
            State::Suspended | State::Faulted if !i.running && i.started => {
                // SAFETY: the thread is stopped and off every CPU (checked under its lock,
                // which resuming it needs), so nothing reads or writes its saved user frame,
                // which lies at the top of its mapped kernel stack.
                unsafe { t.user_frame().write(f) };
                i.regs_replaced = true;
            }
            _ => return Err(Status::BAD_STATE),
        }
        Ok(())
    }

    fn tcb_resume(&mut self, t: Capability) -> Result<(), Status> {
        tcb::resume(&expect_obj!(t, Tcb)?.0)
    }

    fn tcb_suspend(&mut self, t: Capability) -> Result<(), Status> {
        let t = expect_obj!(t, Tcb)?;
        tcb::suspend(&t.0, self.thread)?;
        if Arc::ptr_eq(&t.0, self.thread) {
            self.after = After::Stop;
        }
        Ok(())
    }

    fn tcb_set_affinity(&mut self, t: Capability, cpu: u32) -> Result<(), Status> {
        let t = expect_obj!(t, Tcb)?;
        if cpu != ANY_CPU && cpu >= crate::cpu_count() {
            return Err(Status::INVALID_ARGS);
        }
        t.inner.lock().affinity = cpu;
        Ok(())
    }

    fn tcb_exit(&mut self, code: u64) -> Result<(), Status> {
        self.after = After::Exit(code);
        Ok(())
    }

    fn tcb_set_name(&mut self, t: Capability, name: UserSlice) -> Result<(), Status> {
        let mut buf = [0u8; tcb::NAME_LEN];
        let n = name.len().min(buf.len());
        name.read_into(&mut buf[..n])?;
        let name = core::str::from_utf8(&buf[..n]).map_err(|_| Status::INVALID_ARGS)?;
        expect_obj!(t, Tcb)?.set_name(name);
        Ok(())
    }

    fn tcb_yield_now(&mut self) -> Result<(), Status> {
        self.after = After::Yield;
        Ok(())
    }

    fn tcb_current_cpu(&mut self) -> Result<u32, Status> {
        Ok(crate::arch::x86_64::gdt::this_cpu().index)
    }

    fn tcb_set_fault_endpoint(&mut self, t: Capability, ep: Capability) -> Result<(), Status> {
        let (t, e) = (expect_obj!(t, Tcb)?, endpoint_of(&ep)?);
        let old = t.inner.lock().fault_ep.replace((Arc::downgrade(&e), ep.badge));
        drop(old);
        Ok(())
    }

    fn tcb_state(&mut self, t: Capability) -> Result<ThreadState, Status> {
        Ok(expect_obj!(t, Tcb)?.user_state())
    }

    fn vspace_create(&mut self, quota: Capability) -> Result<NewCap, Status> {
        let q = expect_obj!(quota, Quota)?;
        let charge = q.charge(cost::VSPACE)?;
        let vs = VSpace::new(Some(q), Some(charge))?;
        Ok(NewCap::made_with(&quota, Object::VSpace(Arc::new(vs))))
    }

    fn vspace_map(
        &mut self,
        v: Capability,
        m: Capability,
        va: u64,
        off: u64,
        len: u64,
        f: MapFlags,
    ) -> Result<(), Status> {
        let access = user_access(f)?;
        let need = [
            (MapFlags::R, Rights::READ),
            (MapFlags::W, Rights::WRITE),
            (MapFlags::X, Rights::EXEC),
        ];
        if need
            .iter()
            .any(|&(flag, right)| f.contains(flag) && !m.rights.contains(right))
        {
            return Err(Status::ACCESS_DENIED);
        }
        user_pages(va, len)?;
        let vmo = expect_obj!(m, Vmo)?;
        if !off.is_multiple_of(PAGE) || off.checked_add(len).is_none_or(|e| e > vmo.size()) {
            return Err(Status::INVALID_ARGS);
        }
        expect_obj!(v, VSpace)?.map_vmo(&vmo, va, off, len, access)
    }

    fn vspace_unmap(&mut self, v: Capability, va: u64, len: u64) -> Result<(), Status> {
        user_pages(va, len)?;
        expect_obj!(v, VSpace)?.unmap(va, len)
    }

    fn vspace_alloc(&mut self, v: Capability, q: Capability, len: u64, f: MapFlags) -> Result<u64, Status> {
        let access = user_access(f)?;
        if len == 0 || !len.is_multiple_of(PAGE) || len > crate::object::vmo::MAX_VMO {
            return Err(Status::INVALID_ARGS);
        }
        expect_obj!(v, VSpace)?.alloc(&expect_obj!(q, Quota)?, len, access)
    }

    fn vmo_create(&mut self, quota: Capability, size: u64) -> Result<NewCap, Status> {
        if size == 0 || size > crate::object::vmo::MAX_VMO {
            return Err(Status::INVALID_ARGS);
        }
        let charge = expect_obj!(quota, Quota)?.charge(cost::VMO_BASE + cost::VMO_PAGE * size.div_ceil(PAGE))?;
        Ok(NewCap::made_with(
            &quota,
            Object::Vmo(Arc::new(Vmo::new(size, Some(charge))?)),
        ))
    }

    fn vmo_size(&mut self, vmo: Capability) -> Result<u64, Status> {
        Ok(expect_obj!(vmo, Vmo)?.size())
    }

    fn vmo_write(&mut self, vmo: Capability, off: u64, data: UserSlice) -> Result<(), Status> {
        expect_obj!(vmo, Vmo)?.write_user(off, &data)
    }

    fn vmo_committed(&mut self, vmo: Capability) -> Result<u64, Status> {
        Ok(expect_obj!(vmo, Vmo)?.committed())
    }

    fn endpoint_create(&mut self, quota: Capability) -> Result<NewCap, Status> {
        let charge = expect_obj!(quota, Quota)?.charge(cost::ENDPOINT)?;
        let ep = EndpointCap::new(Arc::new(Endpoint::new(Some(charge))?));
        Ok(NewCap::made_with(&quota, Object::Endpoint(Arc::new(ep))))
    }

    fn endpoint_call(&mut self, ep: Capability) -> Result<(), Status> {
        let e = endpoint_of(&ep)?;
        let t = endpoint::send(self.thread, &e, ep.badge, true)?;
        self.then(t);
        Ok(())
    }

    fn endpoint_send(&mut self, ep: Capability) -> Result<(), Status> {
        let e = endpoint_of(&ep)?;
        let t = endpoint::send(self.thread, &e, ep.badge, false)?;
        self.then(t);
        Ok(())
    }

    fn endpoint_recv(&mut self, ep: Capability) -> Result<(), Status> {
        let t = endpoint::recv(self.thread, &endpoint_of(&ep)?)?;
        self.then(t);
        Ok(())
    }

    fn endpoint_reply(&mut self) -> Result<(), Status> {
        endpoint::reply(self.thread)
    }

    fn endpoint_reply_recv(&mut self, ep: Capability) -> Result<(), Status> {
        let ep = endpoint_of(&ep)?;
        match endpoint::reply(self.thread) {
            Ok(()) | Err(Status::BAD_STATE) => {}
            Err(e) => return Err(e),
        }
        let t = endpoint::recv(self.thread, &ep)?;
        self.then(t);
        Ok(())
    }

    fn io_port_split(&mut self, p: Capability, base: u16, count: u16) -> Result<NewCap, Status> {
        let parent = expect_obj!(p, IoPort)?;
        let start = u32::from(base);
        let end = start + u32::from(count);
        let pstart = u32::from(parent.base);
        if count == 0 || start < pstart || end > pstart + parent.count {
            return Err(Status::INVALID_ARGS);
        }
        Ok(NewCap {
            object: Object::IoPort(Arc::new(IoPort::new(base, u32::from(count), None))),
            parent: None,
        })
    }

    fn io_port_read(&mut self, r: Capability, off: u16, w: u8) -> Result<u32, Status> {
        let port = expect_obj!(r, IoPort)?.port(off, w).ok_or(Status::INVALID_ARGS)?;
        Ok(crate::arch::x86_64::port::read(port, w))
    }

    fn io_port_write(&mut self, r: Capability, off: u16, w: u8, v: u32) -> Result<(), Status> {
        let port = expect_obj!(r, IoPort)?.port(off, w).ok_or(Status::INVALID_ARGS)?;
        crate::arch::x86_64::port::write(port, w, v);
        Ok(())
    }

    fn irq_control_get(&mut self, _c: Capability, line: u8) -> Result<NewCap, Status> {
        if line >= IRQ_LINES {
            return Err(Status::INVALID_ARGS);
        }
        Ok(NewCap {
            object: Object::Irq(Arc::new(Irq::new(line, None))),
            parent: None,
        })
    }

    fn irq_bind(&mut self, irq: Capability, ep: Capability) -> Result<(), Status> {
        let (irq, ep) = (expect_obj!(irq, Irq)?, endpoint_of(&ep)?);
        crate::kdebug!("irq line {} bound to an endpoint", irq.line);
        let old = irq.bound.lock().replace(Arc::downgrade(&ep));
        drop(old);
        Ok(())
    }

    fn irq_ack(&mut self, irq: Capability) -> Result<(), Status> {
        let irq = expect_obj!(irq, Irq)?;
        if irq.bound.lock().is_none() {
            return Err(Status::BAD_STATE);
        }
        Ok(())
    }

    fn debug_write(&mut self, _console: Capability, data: UserSlice) -> Result<(), Status> {
        let mut buf = [0u8; 4096];
        let n = data.len().min(buf.len());
        data.read_into(&mut buf[..n])?;
        crate::log::raw_bytes(&buf[..n]);
        Ok(())
    }

    fn debug_stats(&mut self, _console: Capability) -> Result<(u64, u64), Status> {
        sched::settle();
        reap::drain_all();
        crate::mm::kstack::reclaim_all();
        let (free, _) = crate::mm::frame::stats();
        Ok((free, crate::mm::heap::used() as u64))
    }

    fn debug_memory(&mut self, _console: Capability) -> Result<(u64, u64, u64, u64, u64), Status> {
        // Threads that died on other CPUs are freed once those CPUs have switched away.
        sched::settle();
        reap::drain_all();
        crate::mm::kstack::reclaim_all();
        let (free, total) = crate::mm::frame::stats();
        let kept = crate::mm::heap::frames() + crate::mm::kstack::table_frames();
        let tables = CAPS.lock().table_bytes() + sched::queue_bytes() + crate::mm::kstack::list_bytes();
        Ok((free, total, crate::mm::heap::used() as u64, kept, tables as u64))
    }

    fn debug_shutdown(&mut self, _console: Capability, code: u8) -> Result<(), Status> {
        self.after = After::Shutdown(code);
        Ok(())
    }
}
