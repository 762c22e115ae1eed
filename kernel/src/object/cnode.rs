//! CNode: a table of capability slots. The slots and the derivation tree of all CNodes live
//! in one capability space (`anvil_kcore::cap`), behind one lock; see docs/smp.md for why and
//! what would split it.

use alloc::vec::Vec;

use anvil_kcore::cap::{CNodeId, CapError, CapSpace};
use spin::Mutex;

use super::quota::Charge;
use super::{Capability, Object};
use crate::abi::types::{Rights, Status};

pub static CAPS: Mutex<CapSpace<Object>> = Mutex::new(CapSpace::new());

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
    }
}

/// Drops object references outside the capability-space lock (dropping one may free a CNode,
/// which takes the lock again).
pub fn release(objs: Vec<Object>) {
    drop(objs);
}

impl CNode {
    pub fn new(slots: usize, charge: Option<Charge>) -> CNode {
        let id = CAPS.lock().create_cnode(slots);
        CNode { id, _charge: charge }
    }

    /// A copy of the capability in `slot`.
    pub fn get(&self, slot: u64) -> Result<Capability, Status> {
        let caps = CAPS.lock();
        let n = caps.get(self.id, slot).map_err(status)?;
        Ok(Capability {
            object: n.obj.clone(),
            rights: Rights(n.rights),
            badge: n.badge,
        })
    }

    /// Puts a capability to a new object into the empty `slot`.
    pub fn set(&self, slot: u64, cap: Capability) -> Result<(), Status> {
        CAPS.lock()
            .insert(self.id, slot, cap.object, cap.rights.0)
            .map_err(status)
    }

    /// Puts a capability to a new object into the first free slot.
    pub fn insert(&self, cap: Capability) -> Result<u64, Status> {
        CAPS.lock()
            .insert_free(self.id, cap.object, cap.rights.0)
            .map_err(status)
    }
}

impl Drop for CNode {
    fn drop(&mut self) {
        let objs = CAPS.lock().destroy_cnode(self.id);
        release(objs);
    }
}
