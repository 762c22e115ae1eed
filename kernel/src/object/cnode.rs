//! CNode: a table of capability slots. A process names every object through one.

use alloc::vec::Vec;

use spin::Mutex;

use super::Capability;
use crate::abi::types::Status;

pub struct CNode {
    slots: Mutex<Vec<Option<Capability>>>,
}

impl CNode {
    pub fn new(slots: usize) -> CNode {
        let mut v = Vec::new();
        v.resize_with(slots, || None);
        CNode { slots: Mutex::new(v) }
    }

    /// A copy of the capability in `slot`, or INVALID_CAP if it is empty or out of range.
    pub fn get(&self, slot: u64) -> Result<Capability, Status> {
        let slots = self.slots.lock();
        usize::try_from(slot)
            .ok()
            .and_then(|s| slots.get(s))
            .and_then(|c| c.clone())
            .ok_or(Status::INVALID_CAP)
    }

    /// Puts `cap` into the empty slot `slot`.
    pub fn set(&self, slot: u64, cap: Capability) -> Result<(), Status> {
        let mut slots = self.slots.lock();
        let s = usize::try_from(slot)
            .ok()
            .and_then(|s| slots.get_mut(s))
            .ok_or(Status::INVALID_CAP)?;
        if s.is_some() {
            return Err(Status::SLOT_OCCUPIED);
        }
        *s = Some(cap);
        Ok(())
    }

    /// Puts `cap` into the first free slot (slot 0 stays empty so that 0 is never a valid handle).
    pub fn insert(&self, cap: Capability) -> Result<u64, Status> {
        let mut slots = self.slots.lock();
        let (i, s) = slots
            .iter_mut()
            .enumerate()
            .skip(1)
            .find(|(_, s)| s.is_none())
            .ok_or(Status::NO_SLOT)?;
        *s = Some(cap);
        Ok(i as u64)
    }

    /// Empties every slot, dropping the references the capabilities held.
    pub fn clear(&self) {
        let taken: Vec<Option<Capability>> = core::mem::take(&mut *self.slots.lock());
        drop(taken);
    }
}
