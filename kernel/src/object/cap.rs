//! Cap: the syscalls on capability slots. No capability names a `Cap` object; the methods take
//! the CNodes they work on, so moving a capability between CNodes needs authority over both.
//! The slots and the derivation tree are in `cnode::CAPS` (`anvil_kcore::cap`).

use alloc::sync::Arc;

use super::cnode::{self, CNode, CAPS};
use super::{reap, Object};
use crate::abi::types::{Rights, Status};
use crate::abi::CapSyscalls;
use crate::syscall::{Ctx, C};

/// Checks that the capability in `slot` of `src` may be passed on (it has GRANT).
fn grantable(caps: &anvil_kcore::cap::CapSpace<super::Object>, src: &CNode, slot: u64) -> Result<(), Status> {
    let n = caps.get(src.id, slot).map_err(cnode::status)?;
    if !Rights(n.rights).contains(Rights::GRANT) {
        return Err(Status::ACCESS_DENIED);
    }
    Ok(())
}

impl CapSyscalls for Ctx<'_> {
    fn cap_copy(
        &mut self,
        src: C<'_, Arc<CNode>>,
        s: u64,
        dst: C<'_, Arc<CNode>>,
        d: u64,
        rights: Rights,
    ) -> Result<(), Status> {
        // Needs GRANT on the source, checked in the same walk as the rest (as `grantable`
        // would, in the same order: the source slot, then the right, then the destination).
        CAPS.lock()
            .derive(src.id, s, dst.id, d, rights.0, None, Rights::GRANT.0)
            .map_err(cnode::status)
    }

    fn cap_mint(
        &mut self,
        src: C<'_, Arc<CNode>>,
        s: u64,
        dst: C<'_, Arc<CNode>>,
        d: u64,
        rights: Rights,
        badge: u64,
    ) -> Result<(), Status> {
        let mut caps = CAPS.lock();
        grantable(&caps, &src, s)?;
        if badge == 0 {
            return Err(Status::INVALID_ARGS);
        }
        caps.derive(src.id, s, dst.id, d, rights.0, Some(badge), 0)
            .map_err(cnode::status)
    }

    fn cap_transfer(&mut self, src: C<'_, Arc<CNode>>, s: u64, dst: C<'_, Arc<CNode>>, d: u64) -> Result<(), Status> {
        let mut caps = CAPS.lock();
        if src.id != dst.id {
            grantable(&caps, &src, s)?;
        }
        caps.transfer(src.id, s, dst.id, d).map_err(cnode::status)
    }

    fn cap_delete(&mut self, cnode: C<'_, Arc<CNode>>, slot: u64) -> Result<(), Status> {
        let obj = CAPS.lock().delete(cnode.id, slot).map_err(cnode::status)?;
        // The lock is released: the object goes now rather than through the reaper's list
        // at the end of this syscall (the same drop, about 110 instructions cheaper).
        reap::drop_now(obj);
        Ok(())
    }

    fn cap_revoke(&mut self, cnode: C<'_, Arc<CNode>>, slot: u64) -> Result<(), Status> {
        let objs = CAPS.lock().revoke(cnode.id, slot).map_err(cnode::status)?;
        reap::defer_all(objs);
        Ok(())
    }

    fn cap_identify(&mut self, cnode: C<'_, Arc<CNode>>, slot: u64) -> Result<(u32, Rights, u64), Status> {
        let caps = CAPS.lock();
        let n = caps.get(cnode.id, slot).map_err(cnode::status)?;
        Ok((n.obj.object_type() as u32, Rights(n.rights), n.badge))
    }

    fn cap_thread_stats(
        &mut self,
        cnode: C<'_, Arc<CNode>>,
        slot: u64,
    ) -> Result<(crate::abi::kernel::ThreadState, u32, u64), Status> {
        let t = match &super::cnode::lookup(cnode.id, slot)?.object {
            Object::Tcb(t) => t.clone(),
            _ => return Err(Status::WRONG_TYPE),
        };
        Ok(t.stats())
    }
}
