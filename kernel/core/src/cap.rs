//! The capability space: every CNode's slots and the derivation tree that links each
//! capability to the one it was copied from. Generic over the object reference `O`, so the
//! same code runs in the kernel (with `Arc`s to kernel objects) and in host tests.
//!
//! Derivation tracking: each capability records its parent and its children (seL4 keeps the
//! same tree in its mapping database). A capability made for a new object is a root. `derive`
//! (copy, mint) adds a child with rights `parent & mask`, so rights only shrink along any path.
//! `transfer` moves a capability to another slot and keeps its place in the tree. `delete`
//! removes one capability and hands its children to its parent, so deleting a copy never
//! takes away capabilities derived through it. `revoke` removes every descendant and keeps the
//! capability itself.
//!
//! Operations that remove capabilities return the removed object references, so the caller can
//! drop them after releasing its lock (dropping an object may itself delete capabilities).

use alloc::vec;
use alloc::vec::Vec;

pub type CNodeId = usize;
pub type NodeId = usize;

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
}

#[derive(Clone, Debug)]
pub struct Node<O> {
    pub obj: O,
    pub rights: u32,
    pub badge: u64,
    parent: Option<NodeId>,
    children: Vec<NodeId>,
    cnode: CNodeId,
    slot: usize,
}

pub struct CapSpace<O> {
    nodes: Vec<Option<Node<O>>>,
    free_nodes: Vec<NodeId>,
    cnodes: Vec<Option<Vec<Option<NodeId>>>>,
    free_cnodes: Vec<CNodeId>,
}

impl<O: Clone> Default for CapSpace<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: Clone> CapSpace<O> {
    pub const fn new() -> Self {
        CapSpace {
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            cnodes: Vec::new(),
            free_cnodes: Vec::new(),
        }
    }

    pub fn create_cnode(&mut self, slots: usize) -> CNodeId {
        let table = vec![None; slots];
        match self.free_cnodes.pop() {
            Some(id) => {
                self.cnodes[id] = Some(table);
                id
            }
            None => {
                self.cnodes.push(Some(table));
                self.cnodes.len() - 1
            }
        }
    }

    /// Removes a CNode and every capability in it; returns the objects they referred to.
    pub fn destroy_cnode(&mut self, cn: CNodeId) -> Vec<O> {
        let Some(Some(table)) = self.cnodes.get(cn).cloned() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for id in table.into_iter().flatten() {
            out.push(self.remove_node(id));
        }
        self.cnodes[cn] = None;
        self.free_cnodes.push(cn);
        out
    }

    fn slot_ref(&self, cn: CNodeId, slot: u64) -> Result<Option<NodeId>, CapError> {
        let table = self
            .cnodes
            .get(cn)
            .and_then(|t| t.as_ref())
            .ok_or(CapError::InvalidSlot)?;
        let s = usize::try_from(slot).map_err(|_| CapError::InvalidSlot)?;
        table.get(s).copied().ok_or(CapError::InvalidSlot)
    }

    fn node_at(&self, cn: CNodeId, slot: u64) -> Result<NodeId, CapError> {
        self.slot_ref(cn, slot)?.ok_or(CapError::Empty)
    }

    /// The capability in a slot.
    pub fn get(&self, cn: CNodeId, slot: u64) -> Result<&Node<O>, CapError> {
        let id = self.node_at(cn, slot)?;
        self.nodes[id].as_ref().ok_or(CapError::Empty)
    }

    fn alloc_node(&mut self, n: Node<O>) -> NodeId {
        match self.free_nodes.pop() {
            Some(id) => {
                self.nodes[id] = Some(n);
                id
            }
            None => {
                self.nodes.push(Some(n));
                self.nodes.len() - 1
            }
        }
    }

    fn place(
        &mut self,
        cn: CNodeId,
        slot: u64,
        obj: O,
        rights: u32,
        badge: u64,
        parent: Option<NodeId>,
    ) -> Result<NodeId, CapError> {
        if self.slot_ref(cn, slot)?.is_some() {
            return Err(CapError::Occupied);
        }
        let s = slot as usize;
        let id = self.alloc_node(Node {
            obj,
            rights,
            badge,
            parent,
            children: Vec::new(),
            cnode: cn,
            slot: s,
        });
        if let Some(p) = parent {
            if let Some(pn) = self.nodes[p].as_mut() {
                pn.children.push(id);
            }
        }
        if let Some(Some(t)) = self.cnodes.get_mut(cn) {
            t[s] = Some(id);
        }
        Ok(id)
    }

    /// Puts a root capability (for a new object) into an empty slot.
    pub fn insert(&mut self, cn: CNodeId, slot: u64, obj: O, rights: u32) -> Result<(), CapError> {
        self.place(cn, slot, obj, rights, 0, None).map(|_| ())
    }

    /// The first empty slot of `cn` other than slot 0 (which stays empty so 0 is never valid).
    pub fn free_slot(&self, cn: CNodeId) -> Result<u64, CapError> {
        let table = self
            .cnodes
            .get(cn)
            .and_then(|t| t.as_ref())
            .ok_or(CapError::InvalidSlot)?;
        table
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, s)| s.is_none())
            .map(|(i, _)| i as u64)
            .ok_or(CapError::Full)
    }

    /// Puts a root capability into the first free slot and returns the slot.
    pub fn insert_free(&mut self, cn: CNodeId, obj: O, rights: u32) -> Result<u64, CapError> {
        let slot = self.free_slot(cn)?;
        self.insert(cn, slot, obj, rights)?;
        Ok(slot)
    }

    /// Derives a child of the capability in (`src`, `src_slot`) into the empty (`dst`,
    /// `dst_slot`), with rights `parent & mask` and, for a mint, a badge.
    pub fn derive(
        &mut self,
        src: CNodeId,
        src_slot: u64,
        dst: CNodeId,
        dst_slot: u64,
        mask: u32,
        badge: Option<u64>,
    ) -> Result<(), CapError> {
        let pid = self.node_at(src, src_slot)?;
        let p = self.nodes[pid].as_ref().ok_or(CapError::Empty)?;
        let new_badge = match badge {
            Some(b) if p.badge != 0 && b != p.badge => return Err(CapError::AlreadyBadged),
            Some(b) => b,
            None => p.badge,
        };
        let (obj, rights) = (p.obj.clone(), p.rights & mask);
        self.place(dst, dst_slot, obj, rights, new_badge, Some(pid)).map(|_| ())
    }

    /// Moves a capability to an empty slot; it keeps its parent and children.
    pub fn transfer(&mut self, src: CNodeId, src_slot: u64, dst: CNodeId, dst_slot: u64) -> Result<(), CapError> {
        let id = self.node_at(src, src_slot)?;
        if self.slot_ref(dst, dst_slot)?.is_some() {
            return Err(CapError::Occupied);
        }
        if let Some(Some(t)) = self.cnodes.get_mut(src) {
            t[src_slot as usize] = None;
        }
        if let Some(Some(t)) = self.cnodes.get_mut(dst) {
            t[dst_slot as usize] = Some(id);
        }
        if let Some(n) = self.nodes[id].as_mut() {
            n.cnode = dst;
            n.slot = dst_slot as usize;
        }
        Ok(())
    }

    /// Unlinks and frees a node; its children move to its parent.
    fn remove_node(&mut self, id: NodeId) -> O {
        let n = self.nodes[id].take().unwrap_or_else(|| unreachable_node());
        if let Some(p) = n.parent {
            if let Some(pn) = self.nodes[p].as_mut() {
                pn.children.retain(|&c| c != id);
                pn.children.extend(n.children.iter().copied());
            }
        }
        for &c in &n.children {
            if let Some(cn) = self.nodes[c].as_mut() {
                cn.parent = n.parent;
            }
        }
        if let Some(Some(t)) = self.cnodes.get_mut(n.cnode) {
            t[n.slot] = None;
        }
        self.free_nodes.push(id);
        n.obj
    }

    /// Empties a slot; returns the object reference it held.
    pub fn delete(&mut self, cn: CNodeId, slot: u64) -> Result<O, CapError> {
        let id = self.node_at(cn, slot)?;
        Ok(self.remove_node(id))
    }

    /// Removes every capability derived from the one in the slot; keeps that one.
    pub fn revoke(&mut self, cn: CNodeId, slot: u64) -> Result<Vec<O>, CapError> {
        let id = self.node_at(cn, slot)?;
        let mut out = Vec::new();
        // Iterative: derivation chains can be long.
        loop {
            let next = self.nodes[id].as_ref().and_then(|n| n.children.last().copied());
            let Some(mut leaf) = next else { break };
            while let Some(c) = self.nodes[leaf].as_ref().and_then(|n| n.children.last().copied()) {
                leaf = c;
            }
            out.push(self.remove_node(leaf));
        }
        Ok(out)
    }

    /// The parent of the capability in a slot, as (cnode, slot).
    pub fn parent_of(&self, cn: CNodeId, slot: u64) -> Result<Option<(CNodeId, u64)>, CapError> {
        let id = self.node_at(cn, slot)?;
        Ok(self.nodes[id]
            .as_ref()
            .and_then(|n| n.parent)
            .and_then(|p| self.nodes[p].as_ref())
            .map(|p| (p.cnode, p.slot as u64)))
    }

    /// Number of capabilities in all CNodes.
    pub fn count(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_some()).count()
    }

    /// Calls `f` for every capability: (cnode, slot, node).
    pub fn for_each(&self, mut f: impl FnMut(CNodeId, u64, &Node<O>)) {
        for n in self.nodes.iter().flatten() {
            f(n.cnode, n.slot as u64, n);
        }
    }
}

#[cold]
fn unreachable_node() -> ! {
    // Every NodeId reachable from a slot or a parent/child link refers to a live node; the
    // functions above keep that invariant, so this is a bug in this file.
    panic!("capability space: dangling node")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn copy_reduces_rights_and_revoke_removes_descendants() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(8);
        let b = s.create_cnode(8);
        s.insert(a, 1, 7, 0b111).unwrap();
        s.derive(a, 1, b, 1, 0b011, None).unwrap();
        s.derive(b, 1, b, 2, 0b110, None).unwrap();
        assert_eq!(s.get(b, 1).unwrap().rights, 0b011);
        assert_eq!(s.get(b, 2).unwrap().rights, 0b010);
        assert_eq!(s.derive(a, 1, b, 1, 1, None), Err(CapError::Occupied));
        assert_eq!(s.derive(a, 9, b, 3, 1, None), Err(CapError::InvalidSlot));
        assert_eq!(s.derive(a, 2, b, 3, 1, None), Err(CapError::Empty));
        // Deleting the middle copy keeps the grandchild, now a child of the root.
        s.delete(b, 1).unwrap();
        assert_eq!(s.parent_of(b, 2).unwrap(), Some((a, 1)));
        let gone = s.revoke(a, 1).unwrap();
        assert_eq!(gone, vec![7]);
        assert!(s.get(a, 1).is_ok());
        assert_eq!(s.get(b, 2).err(), Some(CapError::Empty));
    }

    #[test]
    fn mint_sets_a_badge_once() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(4);
        s.insert(a, 1, 1, 0xff).unwrap();
        s.derive(a, 1, a, 2, 0xff, Some(42)).unwrap();
        assert_eq!(s.get(a, 2).unwrap().badge, 42);
        assert_eq!(s.derive(a, 2, a, 3, 0xff, Some(7)), Err(CapError::AlreadyBadged));
        s.derive(a, 2, a, 3, 0xff, None).unwrap();
        assert_eq!(s.get(a, 3).unwrap().badge, 42);
    }

    #[test]
    fn destroying_a_cnode_returns_its_objects() {
        let mut s: CapSpace<u32> = CapSpace::new();
        let a = s.create_cnode(4);
        let b = s.create_cnode(4);
        s.insert(a, 1, 5, 1).unwrap();
        s.derive(a, 1, b, 1, 1, None).unwrap();
        assert_eq!(s.destroy_cnode(a), vec![5]);
        assert_eq!(s.parent_of(b, 1).unwrap(), None);
        assert_eq!(s.count(), 1);
        assert_eq!(s.get(a, 1).err(), Some(CapError::InvalidSlot));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Derive(usize, u64, usize, u64, u32, Option<u64>),
        Transfer(usize, u64, usize, u64),
        Delete(usize, u64),
        Revoke(usize, u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let c = 0usize..3;
        let s = 0u64..6;
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
            (c.clone(), s.clone(), c.clone(), s.clone()).prop_map(|(a, b, c, d)| Op::Transfer(a, b, c, d)),
            (c.clone(), s.clone()).prop_map(|(a, b)| Op::Delete(a, b)),
            (c, s).prop_map(|(a, b)| Op::Revoke(a, b)),
        ]
    }

    /// Ancestors of a node by walking parent links.
    fn ancestors(s: &CapSpace<u32>, cn: usize, slot: u64) -> Vec<(usize, u64)> {
        let mut v = Vec::new();
        let mut cur = (cn, slot);
        while let Ok(Some(p)) = s.parent_of(cur.0, cur.1) {
            v.push(p);
            cur = p;
        }
        v
    }

    proptest! {
        #[test]
        fn rights_never_grow_and_revoke_is_exact(ops in proptest::collection::vec(op(), 1..60)) {
            let mut s: CapSpace<u32> = CapSpace::new();
            let cns: Vec<usize> = (0..3).map(|_| s.create_cnode(6)).collect();
            s.insert(cns[0], 1, 1, 0xFFFF).unwrap();
            s.insert(cns[1], 1, 2, 0x0F0F).unwrap();
            for o in ops {
                match o {
                    Op::Derive(a, b, c, d, m, g) => { let _ = s.derive(cns[a], b, cns[c], d, m, g); }
                    Op::Transfer(a, b, c, d) => { let _ = s.transfer(cns[a], b, cns[c], d); }
                    Op::Delete(a, b) => { let _ = s.delete(cns[a], b); }
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
                // Invariant: every capability's rights are a subset of its parent's.
                let mut bad = None;
                s.for_each(|cn, slot, n| {
                    if let Ok(Some((pc, ps))) = s.parent_of(cn, slot) {
                        let p = s.get(pc, ps).map(|p| p.rights).unwrap_or(0);
                        if n.rights & !p != 0 { bad = Some((cn, slot)); }
                        if s.get(pc, ps).map(|p| p.obj) != Ok(n.obj) { bad = Some((cn, slot)); }
                    }
                });
                prop_assert!(bad.is_none(), "rights grew at {:?}", bad);
            }
        }
    }
}
