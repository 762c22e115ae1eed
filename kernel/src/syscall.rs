//! Syscall handling. The entry stub saves registers and calls `entry`, which hands the number
//! and arguments to the generated `dispatch`; that decodes, looks capabilities up, checks
//! types and rights, and calls the `Kernel` methods below with typed arguments. One error
//! path: every failure is a `Status` returned in rax.

use alloc::sync::Arc;

use crate::abi::types::{MapFlags, Regs, Rights, Status};
use crate::abi::{Kernel, ObjectType, Pod};
use crate::arch::x86_64::trap::TrapFrame;
use crate::mm::PAGE;
use crate::object::cnode::{self, CNode, CAPS};
use crate::object::endpoint::{self, Endpoint};
use crate::object::ioport::IoPort;
use crate::object::irq::{Irq, IRQ_LINES};
use crate::object::quota::cost;
use crate::object::tcb::{State, Tcb, TcbCap, ANY_CPU, MAX_PRIORITY};
use crate::object::vmo::Vmo;
use crate::object::vspace::{Access, VSpace};
use crate::object::{expect_obj, Capability, Object};
use crate::sched;
use crate::uaccess::UserSlice;

/// What the entry path does after a handler returns.
enum After {
    Return,
    Block,
    Exit(u64),
    Yield,
    SuspendSelf,
    Shutdown(u8),
}

/// The handler context for one syscall of `thread`.
struct Ctx<'a> {
    thread: &'a Arc<Tcb>,
    after: After,
}

pub fn entry(frame: &mut TrapFrame) {
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
    let after = core::mem::replace(&mut ctx.after, After::Return);
    // Another CPU may have suspended this thread while it was in the kernel.
    sched::check_stopped();
    let name = thread.name();
    let id = thread.id;
    drop(thread);
    match after {
        After::Return => {}
        After::Block => {
            sched::suspend_current();
            // Woken by the partner of the IPC operation, which set its result.
            let status = sched::current().map_or(0, |t| t.inner.lock().wake_status);
            frame.set_syscall_result(status, [0; 6]);
        }
        After::Yield => sched::yield_now(),
        After::SuspendSelf => sched::suspend_current(),
        After::Exit(code) => {
            crate::kinfo!("thread {id} ({name}) exited with code {code}");
            sched::exit_current();
        }
        After::Shutdown(code) => {
            crate::kinfo!("shutdown requested by {name} with code {code}");
            crate::report_memory();
            crate::arch::x86_64::port::qemu_exit(code);
        }
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

impl Ctx<'_> {
    /// Marks the caller blocked in an IPC operation; it leaves the CPU when the syscall ends,
    /// and its result is the status its waker sets.
    fn block(&mut self) {
        self.thread.inner.lock().state = State::Blocked;
        self.after = After::Block;
    }

    fn send(&mut self, ep_cap: Capability, call: bool) -> Result<(), Status> {
        let ep = expect_obj!(ep_cap, Endpoint)?;
        let msg = endpoint::read(self.thread)?;
        let badge = ep_cap.badge;
        loop {
            let mut q = ep.queues.lock();
            let Some(r) = q.receivers.pop_front() else {
                q.senders.push_back(endpoint::Sender {
                    tcb: self.thread.clone(),
                    msg,
                    badge,
                    call,
                });
                self.block();
                return Ok(());
            };
            drop(q);
            if r.inner.lock().state != State::Blocked {
                continue; // a receiver that was stopped meanwhile
            }
            if let Err(e) = endpoint::deliver(self.thread, &r, msg, badge) {
                ep.queues.lock().receivers.push_front(r);
                return Err(e);
            }
            if call {
                r.inner.lock().reply_to = Some(self.thread.clone());
                // Blocked before the receiver can run, so its reply always finds us waiting.
                self.block();
            }
            endpoint::wake(r, Status::OK);
            return Ok(());
        }
    }

    fn receive(&mut self, ep: &Arc<Endpoint>) -> Result<(), Status> {
        loop {
            let mut q = ep.queues.lock();
            let Some(s) = q.senders.pop_front() else {
                q.receivers.push_back(self.thread.clone());
                self.block();
                return Ok(());
            };
            drop(q);
            if s.tcb.inner.lock().state != State::Blocked {
                continue;
            }
            match endpoint::deliver(&s.tcb, self.thread, s.msg, s.badge) {
                Ok(()) if s.call => {
                    self.thread.inner.lock().reply_to = Some(s.tcb);
                    return Ok(());
                }
                Ok(()) => {
                    endpoint::wake(s.tcb, Status::OK);
                    return Ok(());
                }
                // The sender's message could not be delivered: it gets the error, and this
                // receiver takes the next one.
                Err(e) => endpoint::wake(s.tcb, e),
            }
        }
    }

    fn reply(&mut self) -> Result<(), Status> {
        let caller = self.thread.inner.lock().reply_to.take().ok_or(Status::BAD_STATE)?;
        let status = endpoint::read(self.thread).and_then(|m| endpoint::deliver(self.thread, &caller, m, 0));
        endpoint::wake(caller, status.err().unwrap_or(Status::OK));
        Ok(())
    }

    fn own_cnode(&self) -> Result<Arc<CNode>, Status> {
        self.thread.cnode().ok_or(Status::INVALID_CAP)
    }

    fn new_cap(&self, object: Object) -> Capability {
        Capability::new(object, Rights::ALL)
    }
}

impl Kernel for Ctx<'_> {
    type Cap = Capability;
    type UserBytes = UserSlice;
    type NewCap = Capability;

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

    fn install(&mut self, cap: Capability) -> Result<u64, Status> {
        self.own_cnode()?.insert(cap)
    }

    fn quota_split(&mut self, parent: Capability, bytes: u64) -> Result<Capability, Status> {
        let q = expect_obj!(parent, Quota)?;
        Ok(self.new_cap(Object::Quota(q.split(bytes)?)))
    }

    fn quota_info(&mut self, quota: Capability) -> Result<(u64, u64), Status> {
        Ok(expect_obj!(quota, Quota)?.info())
    }

    fn cnode_create(&mut self, quota: Capability, slots: u32) -> Result<Capability, Status> {
        if slots == 0 || slots > 4096 {
            return Err(Status::INVALID_ARGS);
        }
        let q = expect_obj!(quota, Quota)?;
        let charge = q.charge(cost::CNODE_BASE + cost::CNODE_SLOT * u64::from(slots))?;
        Ok(self.new_cap(Object::CNode(Arc::new(CNode::new(slots as usize, Some(charge))))))
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
        drop(obj);
        Ok(())
    }

    fn cap_revoke(&mut self, cnode: Capability, slot: u64) -> Result<(), Status> {
        let c = cn(&cnode)?;
        let objs = CAPS.lock().revoke(c.id, slot).map_err(cnode::status)?;
        cnode::release(objs);
        Ok(())
    }

    fn cap_identify(&mut self, cnode: Capability, slot: u64) -> Result<(u32, Rights, u64), Status> {
        let cap = cn(&cnode)?.get(slot)?;
        Ok((cap.object.object_type() as u32, cap.rights, cap.badge))
    }

    fn tcb_create(&mut self, quota: Capability) -> Result<Capability, Status> {
        let charge = expect_obj!(quota, Quota)?.charge(cost::TCB)?;
        let name = self.thread.name();
        Ok(self.new_cap(Object::Tcb(TcbCap::new(Tcb::new(&name, Some(charge))?))))
    }

    fn tcb_configure(&mut self, t: Capability, v: Capability, c: Capability, ipc: u64, prio: u8) -> Result<(), Status> {
        let (t, v, c) = (expect_obj!(t, Tcb)?, expect_obj!(v, VSpace)?, expect_obj!(c, CNode)?);
        if prio > MAX_PRIORITY
            || (ipc != 0 && (!ipc.is_multiple_of(PAGE) || !anvil_kcore::uaccess::user_range(ipc, PAGE)))
        {
            return Err(Status::INVALID_ARGS);
        }
        let mut i = t.inner.lock();
        if i.state != State::Inactive {
            return Err(Status::BAD_STATE);
        }
        i.vspace = Some(v);
        i.cnode = Some(c);
        i.ipc_buffer = ipc;
        i.priority = prio;
        Ok(())
    }

    fn tcb_set_regs(&mut self, t: Capability, regs: Regs) -> Result<(), Status> {
        let t = expect_obj!(t, Tcb)?;
        if !anvil_kcore::uaccess::user_range(regs.rip, 1)
            || !anvil_kcore::uaccess::user_range(regs.rsp.saturating_sub(8), 8)
        {
            return Err(Status::INVALID_ARGS);
        }
        let mut i = t.inner.lock();
        if i.started {
            return Err(Status::BAD_STATE);
        }
        let mut f = TrapFrame::new_user(regs.rip, regs.rsp);
        f.rdi = regs.arg0;
        f.rsi = regs.arg1;
        f.rdx = regs.arg2;
        i.start = Some(f);
        Ok(())
    }

    fn tcb_resume(&mut self, t: Capability) -> Result<(), Status> {
        let t = expect_obj!(t, Tcb)?;
        {
            let i = t.inner.lock();
            match i.state {
                State::Runnable => return Ok(()),
                State::Dead => return Err(Status::BAD_STATE),
                _ => {}
            }
            if i.vspace.is_none() || i.cnode.is_none() || (!i.started && i.start.is_none()) {
                return Err(Status::BAD_STATE);
            }
        }
        // A thread suspended while running elsewhere must have left that CPU before it is queued.
        sched::wait_off_cpu(&t);
        sched::enqueue(t.0.clone());
        Ok(())
    }

    fn tcb_suspend(&mut self, t: Capability) -> Result<(), Status> {
        let t = expect_obj!(t, Tcb)?;
        let mut i = t.inner.lock();
        match i.state {
            State::Dead => return Err(Status::BAD_STATE),
            State::Runnable => {}
            _ => return Ok(()),
        }
        i.state = State::Suspended;
        drop(i);
        if Arc::ptr_eq(&t.0, self.thread) {
            self.after = After::SuspendSelf;
        } else if !sched::dequeue(&t.0) {
            // Running on another CPU: it stops before this call returns.
            sched::wait_off_cpu(&t.0);
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
        let bytes = name.read_to_vec()?;
        let name = core::str::from_utf8(&bytes).map_err(|_| Status::INVALID_ARGS)?;
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

    fn vspace_create(&mut self, quota: Capability) -> Result<Capability, Status> {
        let q = expect_obj!(quota, Quota)?;
        let charge = q.charge(cost::VSPACE)?;
        Ok(self.new_cap(Object::VSpace(Arc::new(VSpace::new(Some(q), Some(charge))?))))
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

    fn vmo_create(&mut self, quota: Capability, size: u64) -> Result<Capability, Status> {
        if size == 0 || size > crate::object::vmo::MAX_VMO {
            return Err(Status::INVALID_ARGS);
        }
        let charge = expect_obj!(quota, Quota)?.charge(cost::VMO_BASE + cost::VMO_PAGE * size.div_ceil(PAGE))?;
        Ok(self.new_cap(Object::Vmo(Arc::new(Vmo::new(size, Some(charge))?))))
    }

    fn vmo_size(&mut self, vmo: Capability) -> Result<u64, Status> {
        Ok(expect_obj!(vmo, Vmo)?.size())
    }

    fn vmo_write(&mut self, vmo: Capability, off: u64, data: UserSlice) -> Result<(), Status> {
        let v = expect_obj!(vmo, Vmo)?;
        v.write(off, &data.read_to_vec()?)
    }

    fn vmo_committed(&mut self, vmo: Capability) -> Result<u64, Status> {
        Ok(expect_obj!(vmo, Vmo)?.committed())
    }

    fn endpoint_create(&mut self, quota: Capability) -> Result<Capability, Status> {
        let charge = expect_obj!(quota, Quota)?.charge(cost::ENDPOINT)?;
        Ok(self.new_cap(Object::Endpoint(Arc::new(Endpoint::new(Some(charge))))))
    }

    fn endpoint_call(&mut self, ep: Capability) -> Result<(), Status> {
        self.send(ep, true)
    }

    fn endpoint_send(&mut self, ep: Capability) -> Result<(), Status> {
        self.send(ep, false)
    }

    fn endpoint_recv(&mut self, ep: Capability) -> Result<(), Status> {
        self.receive(&expect_obj!(ep, Endpoint)?)
    }

    fn endpoint_reply(&mut self) -> Result<(), Status> {
        self.reply()
    }

    fn endpoint_reply_recv(&mut self, ep: Capability) -> Result<(), Status> {
        let ep = expect_obj!(ep, Endpoint)?;
        match self.reply() {
            Ok(()) | Err(Status::BAD_STATE) => {}
            Err(e) => return Err(e),
        }
        self.receive(&ep)
    }

    fn io_port_split(&mut self, p: Capability, base: u16, count: u16) -> Result<Capability, Status> {
        let parent = expect_obj!(p, IoPort)?;
        let start = u32::from(base);
        let end = start + u32::from(count);
        let pstart = u32::from(parent.base);
        if count == 0 || start < pstart || end > pstart + parent.count {
            return Err(Status::INVALID_ARGS);
        }
        Ok(self.new_cap(Object::IoPort(Arc::new(IoPort::new(base, u32::from(count), None)))))
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

    fn irq_control_get(&mut self, _c: Capability, line: u8) -> Result<Capability, Status> {
        if line >= IRQ_LINES {
            return Err(Status::INVALID_ARGS);
        }
        Ok(self.new_cap(Object::Irq(Arc::new(Irq::new(line, None)))))
    }

    fn irq_bind(&mut self, irq: Capability, ep: Capability) -> Result<(), Status> {
        let (irq, ep) = (expect_obj!(irq, Irq)?, expect_obj!(ep, Endpoint)?);
        crate::kdebug!("irq line {} bound to an endpoint", irq.line);
        *irq.bound.lock() = Some(ep);
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
        crate::log::raw_bytes(&data.read_to_vec()?);
        Ok(())
    }

    fn debug_stats(&mut self, _console: Capability) -> Result<(u64, u64), Status> {
        let (free, _) = crate::mm::frame::stats();
        Ok((free, crate::mm::heap::used() as u64))
    }

    fn debug_shutdown(&mut self, _console: Capability, code: u8) -> Result<(), Status> {
        self.after = After::Shutdown(code);
        Ok(())
    }
}
