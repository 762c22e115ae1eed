//! Syscall handling. The entry stub saves registers and calls `entry`, which hands the number
//! and arguments to the generated `dispatch`; that decodes, looks capabilities up, checks
//! types and rights, and calls the `Kernel` methods below with typed arguments. One error
//! path: every failure is a `Status` returned in rax.

use alloc::sync::Arc;

use crate::abi::types::{Rights, Status};
use crate::abi::{Kernel, ObjectType, Pod};
use crate::arch::x86_64::trap::TrapFrame;
use crate::object::tcb::Tcb;
use crate::object::{Capability, Object};
use crate::sched;
use crate::uaccess::UserSlice;

/// What the entry path does after a handler returns.
enum After {
    Return,
    Exit(u64),
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
    match ctx.after {
        After::Return => {}
        After::Exit(code) => {
            crate::kinfo!("thread {} ({}) exited with code {code}", thread.id, thread.name);
            drop(thread);
            sched::exit_current();
        }
        After::Shutdown(code) => {
            crate::kinfo!("shutdown requested by {} with code {code}", thread.name);
            crate::arch::x86_64::port::qemu_exit(code);
        }
    }
}

fn unsupported<T>() -> Result<T, Status> {
    Err(Status::NOT_SUPPORTED)
}

impl Kernel for Ctx<'_> {
    type Cap = Capability;
    type UserBytes = UserSlice;
    type NewCap = Capability;

    fn lookup(&mut self, slot: u64, object: Option<ObjectType>, rights: Rights) -> Result<Capability, Status> {
        let cnode = self.thread.cnode().ok_or(Status::INVALID_CAP)?;
        let cap = cnode.get(slot)?;
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
        self.thread.cnode().ok_or(Status::INVALID_CAP)?.insert(cap)
    }

    fn quota_split(&mut self, _parent: Capability, _bytes: u64) -> Result<Capability, Status> {
        unsupported()
    }
    fn quota_info(&mut self, _quota: Capability) -> Result<(u64, u64), Status> {
        unsupported()
    }
    fn cnode_create(&mut self, _quota: Capability, _slots: u32) -> Result<Capability, Status> {
        unsupported()
    }
    fn cap_copy(&mut self, _src: Capability, _s: u64, _dst: Capability, _d: u64, _r: Rights) -> Result<(), Status> {
        unsupported()
    }
    fn cap_mint(
        &mut self,
        _src: Capability,
        _s: u64,
        _dst: Capability,
        _d: u64,
        _r: Rights,
        _b: u64,
    ) -> Result<(), Status> {
        unsupported()
    }
    fn cap_transfer(&mut self, _src: Capability, _s: u64, _dst: Capability, _d: u64) -> Result<(), Status> {
        unsupported()
    }
    fn cap_delete(&mut self, _cnode: Capability, _slot: u64) -> Result<(), Status> {
        unsupported()
    }
    fn cap_revoke(&mut self, _cnode: Capability, _slot: u64) -> Result<(), Status> {
        unsupported()
    }
    fn cap_identify(&mut self, cnode: Capability, slot: u64) -> Result<(u32, Rights, u64), Status> {
        let Object::CNode(cn) = cnode.object else {
            return Err(Status::WRONG_TYPE);
        };
        let cap = cn.get(slot)?;
        Ok((cap.object.object_type() as u32, cap.rights, cap.badge))
    }
    fn tcb_create(&mut self, _quota: Capability) -> Result<Capability, Status> {
        unsupported()
    }
    fn tcb_configure(
        &mut self,
        _t: Capability,
        _v: Capability,
        _c: Capability,
        _ipc: u64,
        _prio: u8,
    ) -> Result<(), Status> {
        unsupported()
    }
    fn tcb_set_regs(&mut self, _t: Capability, _regs: crate::abi::types::Regs) -> Result<(), Status> {
        unsupported()
    }
    fn tcb_resume(&mut self, _t: Capability) -> Result<(), Status> {
        unsupported()
    }
    fn tcb_suspend(&mut self, _t: Capability) -> Result<(), Status> {
        unsupported()
    }
    fn tcb_set_affinity(&mut self, _t: Capability, _cpu: u32) -> Result<(), Status> {
        unsupported()
    }
    fn tcb_exit(&mut self, code: u64) -> Result<(), Status> {
        self.after = After::Exit(code);
        Ok(())
    }
    fn tcb_yield_now(&mut self) -> Result<(), Status> {
        Ok(())
    }
    fn tcb_current_cpu(&mut self) -> Result<u32, Status> {
        Ok(crate::arch::x86_64::gdt::this_cpu().index)
    }
    fn vspace_create(&mut self, _quota: Capability) -> Result<Capability, Status> {
        unsupported()
    }
    fn vspace_map(
        &mut self,
        _v: Capability,
        _m: Capability,
        _va: u64,
        _off: u64,
        _len: u64,
        _f: crate::abi::types::MapFlags,
    ) -> Result<(), Status> {
        unsupported()
    }
    fn vspace_unmap(&mut self, _v: Capability, _va: u64, _len: u64) -> Result<(), Status> {
        unsupported()
    }
    fn vspace_alloc(
        &mut self,
        _v: Capability,
        _q: Capability,
        _len: u64,
        _f: crate::abi::types::MapFlags,
    ) -> Result<u64, Status> {
        unsupported()
    }
    fn vmo_create(&mut self, _quota: Capability, _size: u64) -> Result<Capability, Status> {
        unsupported()
    }
    fn vmo_size(&mut self, _vmo: Capability) -> Result<u64, Status> {
        unsupported()
    }
    fn vmo_write(&mut self, _vmo: Capability, _off: u64, _data: UserSlice) -> Result<(), Status> {
        unsupported()
    }
    fn vmo_committed(&mut self, _vmo: Capability) -> Result<u64, Status> {
        unsupported()
    }
    fn endpoint_create(&mut self, _quota: Capability) -> Result<Capability, Status> {
        unsupported()
    }
    fn endpoint_call(&mut self, _ep: Capability) -> Result<(), Status> {
        unsupported()
    }
    fn endpoint_send(&mut self, _ep: Capability) -> Result<(), Status> {
        unsupported()
    }
    fn endpoint_recv(&mut self, _ep: Capability) -> Result<(), Status> {
        unsupported()
    }
    fn endpoint_reply(&mut self) -> Result<(), Status> {
        unsupported()
    }
    fn endpoint_reply_recv(&mut self, _ep: Capability) -> Result<(), Status> {
        unsupported()
    }
    fn io_port_split(&mut self, _p: Capability, _base: u16, _count: u16) -> Result<Capability, Status> {
        unsupported()
    }
    fn io_port_read(&mut self, _r: Capability, _off: u16, _w: u8) -> Result<u32, Status> {
        unsupported()
    }
    fn io_port_write(&mut self, _r: Capability, _off: u16, _w: u8, _v: u32) -> Result<(), Status> {
        unsupported()
    }
    fn irq_control_get(&mut self, _c: Capability, _line: u8) -> Result<Capability, Status> {
        unsupported()
    }
    fn irq_bind(&mut self, _irq: Capability, _ep: Capability) -> Result<(), Status> {
        unsupported()
    }
    fn irq_ack(&mut self, _irq: Capability) -> Result<(), Status> {
        unsupported()
    }

    fn debug_write(&mut self, _console: Capability, text: UserSlice) -> Result<(), Status> {
        let bytes = text.read_to_vec()?;
        let s = core::str::from_utf8(&bytes).map_err(|_| Status::INVALID_ARGS)?;
        crate::log::raw(format_args!("{s}"));
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
