//! CNode: a table of capability slots. The slots and the derivation tree of all CNodes live
//! in one capability space (`anvil_kcore::cap`), behind one lock; docs/smp.md gives its
//! measured contention and what would split it. Objects leaving the space are never dropped
//! under the lock: they go to the reaper (`reap`), which drops them at a safe point, or (one
//! `Cap.delete`) are dropped by the handler once the lock is released (`reap::drop_now`).

use anvil_kcore::cap::{CNodeId, CapError, CapSpace, Loc};

use super::quota::Charge;
use super::{reap, Capability, NewCap, Object};
use crate::abi::types::{Rights, Status};
use crate::sync::CountedMutex;

pub static CAPS: CountedMutex<CapSpace<Object>> = CountedMutex::new(CapSpace::new());

pub struct CNode {
    pub id: CNodeId,
    _charge: Option<Charge>,
}

pub fn status(e: CapError) -> Status {
    match e {
        CapError::InvalidSlot | CapError::Empty => Status::INVALID_CAP,
        CapError::Occupied => Status::SLOT_OCCUPIED,
        CapError::Full => Status::NO_SLOT,
        CapError::AlreadyBadged => Status::INVALID_ARGS,
        CapError::NoMemory => Status::NO_MEMORY,
        CapError::Denied => Status::ACCESS_DENIED,
    }
}

/// Status of a failed placement; the object that could not be placed goes to the reaper.
fn refused((e, obj): (CapError, Object)) -> Status {
    reap::defer(obj);
    status(e)
}

/// A copy of the capability in `slot` of CNode `id`, remembering where it came from.
pub fn lookup(id: CNodeId, slot: u64) -> Result<Capability, Status> {
    let caps = CAPS.lock();
    let n = caps.get(id, slot).map_err(status)?;
    Ok(Capability {
        object: n.obj.clone(),
        rights: Rights(n.rights),
        badge: n.badge,
        origin: Some(Loc::new(id, slot)),
    })
}

/// Puts a capability to a new object into the first free slot of CNode `id`, as a child of
/// the quota capability it was made with. If that capability went away meanwhile, the object
/// is dropped and the call fails as if it had been missing from the start.
/// A capability the CNode has no room for comes back with the status (the caller may undo
/// what making it did), after the capability-space lock is released.
pub fn install(id: CNodeId, new: NewCap) -> Result<u64, (Status, Option<Object>)> {
    let r = {
        let mut caps = CAPS.lock();
        let parent = match new.parent {
            Some((at, addr)) => match caps.valid(at) {
                Some(n) if n.obj.addr() == addr => Some(at),
                _ => {
                    drop(caps);
                    reap::defer(new.object);
                    return Err((Status::INVALID_CAP, None));
                }
            },
            None => None,
        };
        caps.insert_free(id, new.object, Rights::ALL.0, parent)
    };
    r.map_err(|(e, obj)| (status(e), Some(obj)))
}

impl CNode {
    pub fn new(slots: usize, charge: Option<Charge>) -> Result<CNode, Status> {
        let id = CAPS.lock().create_cnode(slots).map_err(status)?;
        Ok(CNode { id, _charge: charge })
    }

    /// Puts a capability to an object into the empty `slot`, as a root.
    pub fn set(&self, slot: u64, cap: Capability) -> Result<(), Status> {
        let r = CAPS.lock().insert(self.id, slot, cap.object, cap.rights.0, None);
        r.map_err(refused)
    }

    /// (slots, occupied slots).
    pub fn info(&self) -> (u32, u32) {
        let caps = CAPS.lock();
        (
            caps.slots(self.id).unwrap_or(0) as u32,
            caps.used(self.id).unwrap_or(0) as u32,
        )
    }
}

impl Drop for CNode {
    fn drop(&mut self) {
        let objs = CAPS.lock().destroy_cnode(self.id);
        reap::defer_all(objs);
    }
}

// ---- syscalls ------------------------------------------------------------------------------

use alloc::sync::Arc;

use super::quota::{cost, Quota};
use crate::abi::CNodeSyscalls;
use crate::syscall::{Ctx, C};

/// The largest CNode a syscall may create.
const MAX_SLOTS: u32 = 4096;

impl CNodeSyscalls for Ctx<'_> {
    fn cnode_create(&mut self, quota: C<'_, Arc<Quota>>, slots: u32) -> Result<NewCap, Status> {
        if slots == 0 || slots > MAX_SLOTS {
            return Err(Status::INVALID_ARGS);
        }
        let charge = quota.charge(cost::CNODE_BASE + cost::CNODE_SLOT * u64::from(slots))?;
        let c = CNode::new(slots as usize, Some(charge))?;
        Ok(NewCap::made_with(quota.cap, Object::CNode(Arc::new(c))))
    }

    fn cnode_info(&mut self, cnode: C<'_, Arc<CNode>>) -> Result<(u32, u32), Status> {
        Ok(cnode.info())
    }
}
