//! The capability space: every CNode's slots and the derivation tree that links each
//! capability to the one it came from. Generic over the object reference `O`, so the same code
//! runs in the kernel (with `Arc`s to kernel objects) and in host tests.
//!
//! Derivation tracking (seL4 keeps the same tree in its mapping database): each capability
//! records its parent, its first child and its siblings, as slot locations, so the tree needs
//! no memory beyond the slots themselves. Two kinds of child exist:
//! - a *copy* (`derive`: copy, mint, IPC transfer) names the same object with rights
//!   `parent & mask`, so rights only shrink along any chain of copies;
//! - a *creation* (`insert` with a parent): the capability to an object made with a quota is a
//!   child of the quota capability used. Revoking a quota capability therefore deletes every
//!   capability to every object made from it, as revoking an untyped does in seL4.
//!
//! `transfer` moves a capability and keeps its place in the tree. `delete` removes one
//! capability and hands its children to its parent, so deleting a copy never takes away what
//! was derived through it. `revoke` removes every descendant and keeps the capability itself.
//!
//! Nothing here drops an object reference: operations that remove capabilities, or that fail
//! to place one, hand the references back, so the caller drops them after releasing its lock
//! (dropping a kernel object may take this lock again, or wait for another CPU).
//!
//! Memory: a CNode's slots are allocated when it is created, in chunks of `CHUNK` slots, and
//! allocation failure is reported (`NoMemory`) instead of aborting; placing, moving and
//! deleting capabilities allocates nothing.

use alloc::vec::Vec;

pub type CNodeId = usize;

/// What the capability space stores: an object reference that learns when a capability to
/// its object is placed or removed, so an object can tell "no capability left" from "no
/// reference left" (the kernel stops a thread when its last capability goes, even while a
/// syscall on another CPU still holds a reference to it).
pub trait Slotted: Clone {
    fn placed(&self) {}
    fn removed(&self) {}
}

impl Slotted for u32 {}

/// Slots per allocation chunk of a CNode (a chunk is a few KiB, so big CNodes need no large
/// contiguous allocation).
pub const CHUNK: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapError {
    /// The slot index is outside the CNode, or the CNode does not exist.
    InvalidSlot,
    /// The slot is empty.
    Empty,
    /// The destination slot is occupied.
    Occupied,
    /// The CNode has no free slot.
    Full,
    /// A badge was requested for a capability that already has one.
    AlreadyBadged,
    /// The capability lacks a right the operation needs (`derive`).
    Denied,
    /// Memory for the CNode's slots could not be allocated.
    NoMemory,
}

/// Where a capability lives: a CNode and a slot in it, packed in a word (`NIL` for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc(u64);

const NIL: Loc = Loc(u64::MAX);

impl Loc {
    pub fn new(cnode: CNodeId, slot: u64) -> Loc {
        Loc(((cnode as u64) << 32) | (slot & 0xFFFF_FFFF))
    }
    pub fn cnode(self) -> CNodeId {
        (self.0 >> 32) as CNodeId
    }
    pub fn slot(self) -> u64 {
        self.0 & 0xFFFF_FFFF
    }
    fn get(self) -> Option<Loc> {
        (self != NIL).then_some(self)
    }
}

#[derive(Clone, Debug)]
pub struct Node<O> {
    pub obj: O,
    pub rights: u32,
    pub badge: u64,
    parent: Loc,
    first_child: Loc,
    next: Loc,
    prev: Loc,
}

struct Table<O> {
    chunks: Vec<Vec<Option<Node<O>>>>,
    slots: usize,
    used: usize,
    /// No slot below this index (other than 0) is free.
    hint: usize,
}

pub struct CapSpace<O> {
    cnodes: Vec<Option<Table<O>>>,
    free_cnodes: Vec<CNodeId>,
    count: usize,
}

impl<O: Slotted> Default for CapSpace<O> {
    fn default() -> Self {
        Self::new()
    }
}

/// The largest CNode: slot numbers must fit the 32 bits a `Loc` keeps.
pub const MAX_SLOTS: usize = 1 << 20;

impl<O: Slotted> CapSpace<O> {
    pub const fn new() -> Self {
        CapSpace {
            cnodes: Vec::new(),
            free_cnodes: Vec::new(),
            count: 0,
        }
    }

    /// Creates a CNode of `slots` empty slots.
    pub fn create_cnode(&mut self, slots: usize) -> Result<CNodeId, CapError> {
        if slots == 0 || slots > MAX_SLOTS {
            return Err(CapError::InvalidSlot);
        }
        let n = slots.div_ceil(CHUNK);
        let mut chunks: Vec<Vec<Option<Node<O>>>> = Vec::new();
        chunks.try_reserve_exact(n).map_err(|_| CapError::NoMemory)?;
        for i in 0..n {
            let len = CHUNK.min(slots - i * CHUNK);
            let mut c = Vec::new();
            c.try_reserve_exact(len).map_err(|_| CapError::NoMemory)?;
            c.resize_with(len, || None);
            chunks.push(c);
        }
        let table = Table {
            chunks,
            slots,
            used: 0,
            hint: 1,
        };
        match self.free_cnodes.pop() {
            Some(id) => {
                self.cnodes[id] = Some(table);
                Ok(id)
            }
            None => {
                self.cnodes.try_reserve(1).map_err(|_| CapError::NoMemory)?;
                // Keep the free list able to take this id back without allocating.
                self.free_cnodes
                    .try_reserve(self.cnodes.len() + 1 - self.free_cnodes.len())
                    .map_err(|_| CapError::NoMemory)?;
                self.cnodes.push(Some(table));
                Ok(self.cnodes.len() - 1)
            }
        }
    }

    /// Removes a CNode and every capability in it; returns the objects they referred to.
    pub fn destroy_cnode(&mut self, cn: CNodeId) -> Vec<O> {
        let mut out = Vec::new();
        let Some(slots) = self.table(cn).map(|t| t.slots) else {
            return out;
        };
        for s in 1..slots {
            let at = Loc::new(cn, s as u64);
            if self.node(at).is_some() {
                out.push(self.remove(at));
            }
        }
        self.cnodes[cn] = None;
        self.free_cnodes.push(cn);
        out
    }

    #[inline]
    fn table(&self, cn: CNodeId) -> Option<&Table<O>> {
        self.cnodes.get(cn).and_then(|t| t.as_ref())
    }

    /// The location of `slot` in `cn`, if the slot exists. Slot 0 never holds a capability,
    /// so 0 is never a valid capability argument.
    #[inline]
    fn loc(&self, cn: CNodeId, slot: u64) -> Result<Loc, CapError> {
        let t = self.table(cn).ok_or(CapError::InvalidSlot)?;
        if slot == 0 || slot >= t.slots as u64 {
            return Err(CapError::InvalidSlot);
        }
        Ok(Loc::new(cn, slot))
    }

    #[inline]
    fn cell(&self, at: Loc) -> &Option<Node<O>> {
        let s = at.slot() as usize;
        &self.cnodes[at.cnode()].as_ref().unwrap_or_else(|| broken()).chunks[s / CHUNK][s % CHUNK]
    }

    #[inline]
    fn cell_mut(&mut self, at: Loc) -> &mut Option<Node<O>> {
        let s = at.slot() as usize;
        &mut self.cnodes[at.cnode()].as_mut().unwrap_or_else(|| broken()).chunks[s / CHUNK][s % CHUNK]
    }

    #[inline]
    fn node(&self, at: Loc) -> Option<&Node<O>> {
        self.cell(at).as_ref()
    }

    #[inline]
    fn node_mut(&mut self, at: Loc) -> &mut Node<O> {
        self.cell_mut(at).as_mut().unwrap_or_else(|| broken())
    }

    /// The location of `slot` in `cn` and its cell, if the slot exists: `loc` and `cell` with
    /// one walk to the CNode's table (each walk is a dozen instructions, and the capability
    /// operations are a handful of them).
    #[inline]
    fn checked(&self, cn: CNodeId, slot: u64) -> Result<(Loc, &Option<Node<O>>), CapError> {
        let t = self.table(cn).ok_or(CapError::InvalidSlot)?;
        if slot == 0 || slot >= t.slots as u64 {
            return Err(CapError::InvalidSlot);
        }
        let s = slot as usize;
        Ok((Loc::new(cn, slot), &t.chunks[s / CHUNK][s % CHUNK]))
    }

    #[inline]
    fn occupied(&self, cn: CNodeId, slot: u64) -> Result<Loc, CapError> {
        let (at, c) = self.checked(cn, slot)?;
        c.as_ref().map(|_| at).ok_or(CapError::Empty)
    }

    /// The capability in a slot.
    pub fn get(&self, cn: CNodeId, slot: u64) -> Result<&Node<O>, CapError> {
        // The lookup every syscall makes: one pass of bounds checks, no helper calls.
        let t = self
            .cnodes
            .get(cn)
            .and_then(Option::as_ref)
            .ok_or(CapError::InvalidSlot)?;
        let s = usize::try_from(slot).map_err(|_| CapError::InvalidSlot)?;
        if s == 0 || s >= t.slots {
            return Err(CapError::InvalidSlot);
        }
        t.chunks[s / CHUNK][s % CHUNK].as_ref().ok_or(CapError::Empty)
    }

    /// Links a new node into an empty slot, as first child of `parent`.
    fn place(&mut self, at: Loc, obj: O, rights: u32, badge: u64, parent: Option<Loc>) {
        let parent = parent.unwrap_or(NIL);
        let next = match parent.get() {
            Some(p) => core::mem::replace(&mut self.node_mut(p).first_child, at),
            None => NIL,
        };
        if let Some(n) = next.get() {
            self.node_mut(n).prev = at;
        }
        obj.placed();
        let s = at.slot() as usize;
        let t = self.cnodes[at.cnode()].as_mut().unwrap_or_else(|| broken());
        t.chunks[s / CHUNK][s % CHUNK] = Some(Node {
            obj,
            rights,
            badge,
            parent,
            first_child: NIL,
            next,
            prev: NIL,
        });
        t.used += 1;
        if t.hint == s {
            t.hint = s + 1;
        }
        self.count += 1;
    }

    /// Puts a capability to an object into the empty `slot`, as a root, or as a child of the
    /// capability at `parent` (the quota capability the object was made with). On failure the
    /// object reference comes back, to be dropped outside the caller's lock.
    pub fn insert(
        &mut self,
        cn: CNodeId,
        slot: u64,
        obj: O,
        rights: u32,
        parent: Option<Loc>,
    ) -> Result<(), (CapError, O)> {
        let at = match self.loc(cn, slot) {
            Ok(at) => at,
            Err(e) => return Err((e, obj)),
        };
        if self.node(at).is_some() {
            return Err((CapError::Occupied, obj));
        }
        if parent.is_some_and(|p| self.valid(p).is_none()) {
            return Err((CapError::Empty, obj));
        }
        self.place(at, obj, rights, 0, parent);
        Ok(())
    }

    /// The location, if it names an occupied slot.
    pub fn valid(&self, at: Loc) -> Option<&Node<O>> {
        let t = self.table(at.cnode())?;
        let s = at.slot() as usize;
        if s == 0 || s >= t.slots {
            return None;
        }
        self.node(at)
    }

    /// The first empty slot of `cn` other than slot 0.
    pub fn free_slot(&mut self, cn: CNodeId) -> Result<u64, CapError> {
        let t = self
            .cnodes
            .get_mut(cn)
            .and_then(|t| t.as_mut())
            .ok_or(CapError::InvalidSlot)?;
        if t.used + 1 >= t.slots {
            return Err(CapError::Full);
        }
        let mut s = t.hint.max(1);
        while s < t.slots {
            if t.chunks[s / CHUNK][s % CHUNK].is_none() {
                t.hint = s;
                return Ok(s as u64);
            }
            s += 1;
        }
        Err(CapError::Full)
    }

    /// Puts a capability into the first free slot and returns the slot (see `insert`).
    pub fn insert_free(&mut self, cn: CNodeId, obj: O, rights: u32, parent: Option<Loc>) -> Result<u64, (CapError, O)> {
        let slot = match self.free_slot(cn) {
            Ok(s) => s,
            Err(e) => return Err((e, obj)),
        };
        self.insert(cn, slot, obj, rights, parent).map(|_| slot)
    }

    /// Derives a copy of the capability in (`src`, `src_slot`) into the empty (`dst`,
    /// `dst_slot`), with rights `parent & mask` and, for a mint, a badge — if the source has
    /// every right in `need` (`Denied` if not; checked after the source slot and before the
    /// destination, so that a caller's own rights check and this one fail alike).
    #[allow(clippy::too_many_arguments)]
    pub fn derive(
        &mut self,
        src: CNodeId,
        src_slot: u64,
        dst: CNodeId,
        dst_slot: u64,
        mask: u32,
        badge: Option<u64>,
        need: u32,
    ) -> Result<(), CapError> {
        let (from, p) = self.checked(src, src_slot)?;
        let p = p.as_ref().ok_or(CapError::Empty)?;
        if p.rights & need != need {
            return Err(CapError::Denied);
        }
        let (to, t) = self.checked(dst, dst_slot)?;
        if t.is_some() {
            return Err(CapError::Occupied);
        }
        let new_badge = match badge {
            Some(b) if p.badge != 0 && b != p.badge => return Err(CapError::AlreadyBadged),
            Some(b) => b,
            None => p.badge,
        };
        let (obj, rights) = (p.obj.clone(), p.rights & mask);
        self.place(to, obj, rights, new_badge, Some(from));
        Ok(())
    }

    /// Points every link to `old` at `new`: the parent's first-child link, the siblings and
    /// the children's parent links.
    fn relink(&mut self, old: Loc, new: Loc) {
        let (parent, first, next, prev) = {
            let n = self.node(new).unwrap_or_else(|| broken());
            (n.parent, n.first_child, n.next, n.prev)
        };
        match prev.get() {
            Some(p) => self.node_mut(p).next = new,
            None => {
                if let Some(p) = parent.get() {
                    if self.node(p).is_some_and(|pn| pn.first_child == old) {
                        self.node_mut(p).first_child = new;
                    }
                }
            }
        }
        if let Some(n) = next.get() {
            self.node_mut(n).prev = new;
        }
        let mut c = first;
        while let Some(ch) = c.get() {
            let cn = self.node_mut(ch);
            cn.parent = new;
            c = cn.next;
        }
    }

    /// Moves a capability to an empty slot; it keeps its parent and children.
    pub fn transfer(&mut self, src: CNodeId, src_slot: u64, dst: CNodeId, dst_slot: u64) -> Result<(), CapError> {
        let from = self.occupied(src, src_slot)?;
        let to = self.loc(dst, dst_slot)?;
        if from == to {
            return Ok(());
        }
        if self.node(to).is_some() {
            return Err(CapError::Occupied);
        }
        let n = self.cell_mut(from).take();
        *self.cell_mut(to) = n;
        self.relink(from, to);
        if let Some(t) = self.cnodes[src].as_mut() {
            t.used -= 1;
            t.hint = t.hint.min(src_slot as usize);
        }
        if let Some(t) = self.cnodes[dst].as_mut() {
            t.used += 1;
        }
        Ok(())
    }

    /// Unlinks and empties a slot; its children move to its parent (or become roots).
    fn remove(&mut self, at: Loc) -> O {
        let s = at.slot() as usize;
        let n = {
            let t = self.cnodes[at.cnode()].as_mut().unwrap_or_else(|| broken());
            t.used -= 1;
            t.hint = t.hint.min(s);
            t.chunks[s / CHUNK][s % CHUNK].take().unwrap_or_else(|| broken())
        };
        // Take `at` out of its sibling list.
        match n.prev.get() {
            Some(p) => self.node_mut(p).next = n.next,
            None => {
                if let Some(p) = n.parent.get() {
                    self.node_mut(p).first_child = n.next;
                }
            }
        }
        if let Some(x) = n.next.get() {
            self.node_mut(x).prev = n.prev;
        }
        // Hand the children to the parent: each goes to the front of the parent's list.
        let mut c = n.first_child;
        while let Some(ch) = c.get() {
            let next = self.node(ch).map_or(NIL, |x| x.next);
            match n.parent.get() {
                Some(p) => {
                    let head = self.node(p).map_or(NIL, |x| x.first_child);
                    {
                        let cn = self.node_mut(ch);
                        cn.parent = p;
                        cn.prev = NIL;
                        cn.next = head;
                    }
                    if let Some(h) = head.get() {
                        self.node_mut(h).prev = ch;
                    }
                    self.node_mut(p).first_child = ch;
                }
                None => {
                    let cn = self.node_mut(ch);
                    cn.parent = NIL;
                    cn.prev = NIL;
                    cn.next = NIL;
                }
            }
            c = next;
        }
        self.count -= 1;
        n.obj.removed();
        n.obj
    }

    /// Empties a slot; returns the object reference it held.
    pub fn delete(&mut self, cn: CNodeId, slot: u64) -> Result<O, CapError> {
        let at = self.occupied(cn, slot)?;
        Ok(self.remove(at))
    }

    /// Removes every capability derived from (or created with) the one in the slot, in every
    /// CNode; keeps that one. Iterative: derivation chains can be long.
    pub fn revoke(&mut self, cn: CNodeId, slot: u64) -> Result<Vec<O>, CapError> {
        let root = self.occupied(cn, slot)?;
        let mut out = Vec::new();
        while let Some(mut leaf) = self.node(root).and_then(|n| n.first_child.get()) {
            while let Some(c) = self.node(leaf).and_then(|n| n.first_child.get()) {
                leaf = c;
            }
            out.push(self.remove(leaf));
        }
        Ok(out)
    }

    /// The parent of the capability in a slot, as (cnode, slot).
    pub fn parent_of(&self, cn: CNodeId, slot: u64) -> Result<Option<(CNodeId, u64)>, CapError> {
        let at = self.occupied(cn, slot)?;
        Ok(self
            .node(at)
            .and_then(|n| n.parent.get())
            .map(|p| (p.cnode(), p.slot())))
    }

    /// Heap bytes of the table of CNodes (it keeps the room of the most CNodes that ever
    /// existed at once).
    pub fn table_bytes(&self) -> usize {
        self.cnodes.capacity() * core::mem::size_of::<Option<Table<O>>>()
            + self.free_cnodes.capacity() * core::mem::size_of::<CNodeId>()
    }

    /// Number of capabilities in all CNodes.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Number of slots of one CNode.
    pub fn slots(&self, cn: CNodeId) -> Option<usize> {
        self.table(cn).map(|t| t.slots)
    }

    /// Number of occupied slots of one CNode.
    pub fn used(&self, cn: CNodeId) -> Option<usize> {
        self.table(cn).map(|t| t.used)
    }

    /// Calls `f` for every capability: (cnode, slot, node).
    pub fn for_each(&self, mut f: impl FnMut(CNodeId, u64, &Node<O>)) {
        for (cn, t) in self.cnodes.iter().enumerate() {
            let Some(t) = t else { continue };
            for (ci, chunk) in t.chunks.iter().enumerate() {
                for (i, n) in chunk.iter().enumerate() {
                    if let Some(n) = n {
                        f(cn, (ci * CHUNK + i) as u64, n);
                    }
                }
            }
        }
    }
}

#[cold]
fn broken() -> ! {
    // Every link and slot index used above was checked or is maintained by this file's
    // operations, so reaching this is a bug in this file.
    panic!("capability space: broken link")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ins(s: &mut CapSpace<u32>, cn: CNodeId, slot: u64, obj: u32, rights: u32) {
        s.insert(cn, slot, obj, rights, None).unwrap();
    }

    #[test]
    fn copy_reduces_rights_and_revoke_removes_descendants() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(8).unwrap();
        let b = s.create_cnode(8).unwrap();
        ins(&mut s, a, 1, 7, 0b111);
        s.derive(a, 1, b, 1, 0b011, None, 0).unwrap();
        s.derive(b, 1, b, 2, 0b110, None, 0).unwrap();
        assert_eq!(s.get(b, 1).unwrap().rights, 0b011);
        assert_eq!(s.get(b, 2).unwrap().rights, 0b010);
        assert_eq!(s.derive(a, 1, b, 1, 1, None, 0), Err(CapError::Occupied));
        assert_eq!(s.derive(a, 9, b, 3, 1, None, 0), Err(CapError::InvalidSlot));
        assert_eq!(s.derive(a, 2, b, 3, 1, None, 0), Err(CapError::Empty));
        assert_eq!(s.derive(a, 0, b, 3, 1, None, 0), Err(CapError::InvalidSlot));
        // Deleting the middle copy keeps the grandchild, now a child of the root.
        s.delete(b, 1).unwrap();
        assert_eq!(s.parent_of(b, 2).unwrap(), Some((a, 1)));
        let gone = s.revoke(a, 1).unwrap();
        assert_eq!(gone, vec![7]);
        assert!(s.get(a, 1).is_ok());
        assert_eq!(s.get(b, 2).err(), Some(CapError::Empty));
        assert_eq!(s.count(), 1);
    }

    #[test]
    fn derive_checks_source_then_right_then_destination() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(8).unwrap();
        ins(&mut s, a, 1, 7, 0b011);
        ins(&mut s, a, 2, 8, 0b111);
        // Source errors first, even with a bad destination.
        assert_eq!(s.derive(a, 9, a, 9, 1, None, 0b100), Err(CapError::InvalidSlot));
        assert_eq!(s.derive(a, 3, a, 9, 1, None, 0b100), Err(CapError::Empty));
        // Then the right, even with a bad destination.
        assert_eq!(s.derive(a, 1, a, 9, 1, None, 0b100), Err(CapError::Denied));
        assert_eq!(s.derive(a, 1, a, 2, 1, None, 0b100), Err(CapError::Denied));
        // Then the destination.
        assert_eq!(s.derive(a, 2, a, 9, 1, None, 0b100), Err(CapError::InvalidSlot));
        assert_eq!(s.derive(a, 2, a, 1, 1, None, 0b100), Err(CapError::Occupied));
        assert_eq!(s.count(), 2, "nothing placed by a refused derive");
        s.derive(a, 2, a, 3, 0b001, None, 0b100).unwrap();
        assert_eq!(s.get(a, 3).unwrap().rights, 0b001);
        assert_eq!(s.parent_of(a, 3).unwrap(), Some((a, 2)));
        assert_eq!(s.used(a), Some(3));
    }

    #[test]
    fn mint_sets_a_badge_once() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(4).unwrap();
        ins(&mut s, a, 1, 1, 0xff);
        s.derive(a, 1, a, 2, 0xff, Some(42), 0).unwrap();
        assert_eq!(s.get(a, 2).unwrap().badge, 42);
        assert_eq!(s.derive(a, 2, a, 3, 0xff, Some(7), 0), Err(CapError::AlreadyBadged));
        s.derive(a, 2, a, 3, 0xff, None, 0).unwrap();
        assert_eq!(s.get(a, 3).unwrap().badge, 42);
    }

    #[test]
    fn destroying_a_cnode_returns_its_objects() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(4).unwrap();
        let b = s.create_cnode(4).unwrap();
        ins(&mut s, a, 1, 5, 1);
        s.derive(a, 1, b, 1, 1, None, 0).unwrap();
        assert_eq!(s.destroy_cnode(a), vec![5]);
        assert_eq!(s.parent_of(b, 1).unwrap(), None);
        assert_eq!(s.count(), 1);
        assert_eq!(s.get(a, 1).err(), Some(CapError::InvalidSlot));
        // The id is reused.
        assert_eq!(s.create_cnode(2).unwrap(), a);
    }

    #[test]
    fn a_failed_insert_hands_the_object_back() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(3).unwrap();
        assert_eq!(s.insert_free(a, 10, 1, None), Ok(1));
        assert_eq!(s.insert_free(a, 11, 1, None), Ok(2));
        assert_eq!(s.insert_free(a, 12, 1, None), Err((CapError::Full, 12)));
        assert_eq!(s.insert(a, 1, 13, 1, None), Err((CapError::Occupied, 13)));
        assert_eq!(s.insert(a, 7, 14, 1, None), Err((CapError::InvalidSlot, 14)));
        assert_eq!(s.insert(a, 0, 15, 1, None), Err((CapError::InvalidSlot, 15)));
        s.delete(a, 1).unwrap();
        assert_eq!(s.insert(a, 1, 16, 1, Some(Loc::new(a, 1))), Err((CapError::Empty, 16)));
        assert_eq!(s.used(a), Some(1));
    }

    #[test]
    fn revoking_a_quota_removes_what_was_made_with_it_and_copies_of_that() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let init = s.create_cnode(16).unwrap();
        let svc = s.create_cnode(16).unwrap();
        ins(&mut s, init, 1, 100, 0xff); // the service's quota
        s.derive(init, 1, svc, 1, 0xff, None, 0).unwrap(); // the service's copy of it
                                                           // Objects made with either capability are children of it.
        s.insert(svc, 2, 200, 0xff, Some(Loc::new(svc, 1))).unwrap();
        s.insert(init, 2, 300, 0xff, Some(Loc::new(init, 1))).unwrap();
        s.derive(svc, 2, init, 3, 0x1, None, 0).unwrap(); // a copy handed elsewhere
        ins(&mut s, svc, 3, 400, 0xff); // made with another quota
                                        // Deleting the service's copy moves its children up to init's capability.
        s.delete(svc, 1).unwrap();
        assert_eq!(s.parent_of(svc, 2).unwrap(), Some((init, 1)));
        let mut gone = s.revoke(init, 1).unwrap();
        gone.sort();
        assert_eq!(gone, vec![200, 200, 300]);
        assert_eq!(s.get(svc, 3).unwrap().obj, 400);
        assert_eq!(s.used(svc), Some(1));
        assert_eq!(s.used(init), Some(1));
    }

    #[test]
    fn big_cnodes_are_chunked_and_long_chains_revoke_without_recursion() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(5000).unwrap();
        ins(&mut s, a, 1, 9, 1);
        for i in 1..4999 {
            s.derive(a, i, a, i + 1, 1, None, 0).unwrap();
        }
        assert_eq!(s.free_slot(a), Err(CapError::Full));
        assert_eq!(s.revoke(a, 1).unwrap().len(), 4998);
        assert_eq!(s.free_slot(a), Ok(2));
        assert_eq!(s.create_cnode(0), Err(CapError::InvalidSlot));
    }

    #[test]
    fn transfer_keeps_the_place_in_the_tree() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(8).unwrap();
        let b = s.create_cnode(8).unwrap();
        ins(&mut s, a, 1, 1, 3);
        s.derive(a, 1, a, 2, 3, None, 0).unwrap();
        s.derive(a, 2, a, 3, 3, None, 0).unwrap();
        s.derive(a, 1, a, 4, 3, None, 0).unwrap();
        s.transfer(a, 2, b, 5).unwrap();
        assert_eq!(s.parent_of(b, 5).unwrap(), Some((a, 1)));
        assert_eq!(s.parent_of(a, 3).unwrap(), Some((b, 5)));
        s.transfer(a, 1, b, 1).unwrap();
        assert_eq!(s.parent_of(a, 4).unwrap(), Some((b, 1)));
        assert_eq!(s.revoke(b, 1).unwrap().len(), 3);
        assert_eq!(s.count(), 1);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Derive(usize, u64, usize, u64, u32, Option<u64>),
        Create(usize, u64, usize, u64),
        Transfer(usize, u64, usize, u64),
        Delete(usize, u64),
        Revoke(usize, u64),
        Destroy(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let c = 0usize..3;
        let s = 0u64..7;
        prop_oneof![
            (
                c.clone(),
                s.clone(),
                c.clone(),
                s.clone(),
                any::<u32>(),
                proptest::option::of(1u64..4)
            )
                .prop_map(|(a, b, c, d, m, g)| Op::Derive(a, b, c, d, m, g)),
            (c.clone(), s.clone(), c.clone(), s.clone()).prop_map(|(a, b, c, d)| Op::Create(a, b, c, d)),
            (c.clone(), s.clone(), c.clone(), s.clone()).prop_map(|(a, b, c, d)| Op::Transfer(a, b, c, d)),
            (c.clone(), s.clone()).prop_map(|(a, b)| Op::Delete(a, b)),
            (c.clone(), s.clone()).prop_map(|(a, b)| Op::Revoke(a, b)),
            c.prop_map(Op::Destroy),
        ]
    }

    /// Ancestors of a node by walking parent links.
    fn ancestors(s: &CapSpace<u32>, cn: usize, slot: u64) -> Vec<(usize, u64)> {
        let mut v = Vec::new();
        let mut cur = (cn, slot);
        while let Ok(Some(p)) = s.parent_of(cur.0, cur.1) {
            v.push(p);
            cur = p;
            assert!(v.len() < 1000, "cycle in the derivation tree");
        }
        v
    }

    /// Every link is consistent: each child's parent lists it, sibling links are mutual, the
    /// counters match the slots.
    fn check_links(s: &CapSpace<u32>) -> Result<(), String> {
        let mut total = 0;
        let mut bad = None;
        s.for_each(|cn, slot, n| {
            total += 1;
            let at = Loc::new(cn, slot);
            if let Some(nx) = n.next.get() {
                if s.valid(nx).map(|x| x.prev) != Some(at) {
                    bad = Some(format!("{at:?}: next's prev is not me"));
                }
            }
            match n.prev.get() {
                Some(p) => {
                    if s.valid(p).map(|x| x.next) != Some(at) {
                        bad = Some(format!("{at:?}: prev's next is not me"));
                    }
                }
                None => {
                    if let Some(p) = n.parent.get() {
                        if s.valid(p).map(|x| x.first_child) != Some(at) {
                            bad = Some(format!("{at:?}: first sibling but not parent's first child"));
                        }
                    }
                }
            }
            let mut c = n.first_child;
            while let Some(ch) = c.get() {
                match s.valid(ch) {
                    Some(x) if x.parent == at => c = x.next,
                    _ => {
                        bad = Some(format!("{at:?}: child {ch:?} does not name me"));
                        break;
                    }
                }
            }
        });
        if let Some(b) = bad {
            return Err(b);
        }
        if total != s.count() {
            return Err(format!("count {} but {total} capabilities", s.count()));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn rights_never_grow_and_revoke_is_exact(ops in proptest::collection::vec(op(), 1..80)) {
            let mut s: CapSpace<u32> = CapSpace::new();
            let mut cns: Vec<usize> = (0..3).map(|_| s.create_cnode(7).unwrap()).collect();
            s.insert(cns[0], 1, 1, 0xFFFF, None).unwrap();
            s.insert(cns[1], 1, 2, 0x0F0F, None).unwrap();
            let mut next_obj = 10;
            for o in ops {
                match o {
                    Op::Derive(a, b, c, d, m, g) => { let _ = s.derive(cns[a], b, cns[c], d, m, g, 0); }
                    Op::Create(a, b, c, d) => {
                        next_obj += 1;
                        let parent = s.get(cns[a], b).ok().map(|_| Loc::new(cns[a], b));
                        let _ = s.insert(cns[c], d, next_obj, 0xFF, parent);
                    }
                    Op::Transfer(a, b, c, d) => { let _ = s.transfer(cns[a], b, cns[c], d); }
                    Op::Delete(a, b) => { let _ = s.delete(cns[a], b); }
                    Op::Destroy(a) => {
                        let before = s.count();
                        let gone = s.destroy_cnode(cns[a]).len();
                        prop_assert_eq!(s.count(), before - gone);
                        cns[a] = s.create_cnode(7).unwrap();
                    }
                    Op::Revoke(a, b) => {
                        // Everything with (a, b) as an ancestor goes; nothing else does.
                        let mut before = Vec::new();
                        s.for_each(|cn, slot, _| before.push((cn, slot)));
                        let target = (cns[a], b);
                        let expect_gone: Vec<(usize, u64)> = before.iter().copied()
                            .filter(|&(cn, slot)| ancestors(&s, cn, slot).contains(&target)).collect();
                        if s.revoke(cns[a], b).is_ok() {
                            for &(cn, slot) in &before {
                                let present = s.get(cn, slot).is_ok();
                                prop_assert_eq!(present, !expect_gone.contains(&(cn, slot)));
                            }
                        }
                    }
                }
                prop_assert_eq!(check_links(&s), Ok(()));
                // Invariant: a copy's rights are a subset of its parent's (a capability to a
                // different object is a creation, with rights of its own).
                let mut bad = None;
                s.for_each(|cn, slot, n| {
                    if let Ok(Some((pc, ps))) = s.parent_of(cn, slot) {
                        let p = s.get(pc, ps).unwrap();
                        if p.obj == n.obj && n.rights & !p.rights != 0 { bad = Some((cn, slot)); }
                    }
                });
                prop_assert!(bad.is_none(), "rights grew at {:?}", bad);
            }
        }
    }
}
