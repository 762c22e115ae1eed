//! Starting a program from an ELF image as a process of its own: an address space, a CNode and
//! a thread, all made with a quota split for it, so that revoking that quota capability
//! destroys the process and everything it made. Init starts services this way; a test can
//! start copies of itself as isolated workers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::sys::kernel::Cap;
use crate::{boot, types, CNode, Endpoint, MapFlags, Quota, Regs, Rights, Status, Tcb, VSpace, Vmo};

const PAGE: u64 = types::PAGE_SIZE;

/// A process being set up, or started. Its capabilities are in the caller's CNode.
pub struct Process {
    /// The quota everything of the process was made with.
    pub quota: Quota,
    pub vspace: VSpace,
    pub cnode: CNode,
    pub tcb: Tcb,
    entry: u64,
    /// Other slots of the caller's CNode made for the process, deleted by `release`.
    scratch: Vec<u64>,
}

fn st(what: &'static str) -> impl Fn(Status) -> String {
    move |e| format!("{what}: {e:?}")
}

impl Process {
    /// Makes the process for `image` with a quota of `bytes` split from `parent`: its program
    /// segments (each in a VMO of its own, mapped with the segment's permissions), a stack with
    /// an unmapped guard page below it, an IPC buffer, a CNode of `slots` slots, and a thread
    /// configured to start at the entry point. Errors complete a sentence about the program
    /// ("is not a valid program: ...", "could not be loaded: ..."); on error, everything made
    /// so far is gone.
    pub fn load(parent: &Quota, bytes: u64, image: &[u8], slots: u32) -> Result<Process, String> {
        let plan = anvil_kcore::elf::plan(image).map_err(|e| format!("is not a valid program: {e}"))?;
        Self::build(parent, bytes, image, slots, &plan).map_err(|e| format!("could not be loaded: {e}"))
    }

    fn build(parent: &Quota, bytes: u64, image: &[u8], slots: u32, plan: &anvil_kcore::elf::Plan) -> Result<Process, String> {
        let quota = parent.split(bytes).map_err(st("quota"))?;
        let mut p = Process {
            quota,
            vspace: VSpace(0),
            cnode: CNode(0),
            tcb: Tcb(0),
            entry: plan.entry,
            scratch: Vec::new(),
        };
        // From here on, dropping `p` on an error destroys what was made.
        p.vspace = VSpace::create(&p.quota).map_err(st("VSpace.create"))?;
        p.cnode = CNode::create(&p.quota, slots).map_err(st("CNode.create"))?;
        p.tcb = Tcb::create(&p.quota).map_err(st("Tcb.create"))?;
        for seg in &plan.segments {
            let start = seg.vaddr & !(PAGE - 1);
            let end = (seg.vaddr + seg.memsz).div_ceil(PAGE) * PAGE;
            let vmo = p.scratch(Vmo::create(&p.quota, end - start).map(|v| v.0), "segment VMO")?;
            let vmo = Vmo::from_slot(vmo);
            let bytes = &image[seg.file_offset as usize..(seg.file_offset + seg.filesz) as usize];
            for (i, chunk) in bytes.chunks(PAGE as usize).enumerate() {
                vmo.write(seg.vaddr - start + i as u64 * PAGE, chunk)
                    .map_err(st("segment write"))?;
            }
            let mut flags = MapFlags::R;
            if seg.write {
                flags = flags | MapFlags::W;
            }
            if seg.exec {
                flags = flags | MapFlags::X;
            }
            p.vspace
                .map(&vmo, start, 0, end - start, flags)
                .map_err(st("segment map"))?;
        }
        let stack = p.scratch(Vmo::create(&p.quota, types::START_STACK_SIZE).map(|v| v.0), "stack")?;
        let rw = MapFlags::R | MapFlags::W;
        p.vspace
            .map(
                &Vmo::from_slot(stack),
                types::START_STACK_TOP - types::START_STACK_SIZE,
                0,
                types::START_STACK_SIZE,
                rw,
            )
            .map_err(st("stack map"))?;
        let ipc = p.scratch(Vmo::create(&p.quota, PAGE).map(|v| v.0), "IPC buffer")?;
        p.vspace
            .map(&Vmo::from_slot(ipc), types::START_IPC_BUFFER, 0, PAGE, rw)
            .map_err(st("IPC buffer map"))?;
        p.tcb
            .configure(&p.vspace, &p.cnode, types::START_IPC_BUFFER, 0)
            .map_err(st("Tcb.configure"))?;
        Ok(p)
    }

    fn scratch(&mut self, r: Result<u64, Status>, what: &'static str) -> Result<u64, String> {
        let slot = r.map_err(st(what))?;
        self.scratch.push(slot);
        Ok(slot)
    }

    /// Copies the capability in `from` (of the caller's CNode) into the process's slot `to`,
    /// with `rights`.
    pub fn grant(&self, from: u64, to: u64, rights: Rights) -> Result<(), String> {
        Cap::copy(&boot::cnode(), from, &self.cnode, to, rights).map_err(st("Cap.copy"))
    }

    /// Like `grant`, with a badge (for an endpoint the process calls).
    pub fn grant_badged(&self, from: u64, to: u64, rights: Rights, badge: u64) -> Result<(), String> {
        Cap::mint(&boot::cnode(), from, &self.cnode, to, rights, badge).map_err(st("Cap.mint"))
    }

    /// The process's own objects in the slots the kernel gives init (`BOOT_SLOT_*`): its
    /// CNode, address space, thread and quota, with the rights a service needs (MANAGE on its
    /// CNode and address space lets it start threads of its own in them).
    pub fn grant_own(&self) -> Result<(), String> {
        let own = Rights::READ | Rights::WRITE | Rights::GRANT | Rights::MANAGE;
        self.grant(self.cnode.0, types::BOOT_SLOT_CNODE, own)?;
        self.grant(self.vspace.0, types::BOOT_SLOT_VSPACE, Rights::WRITE | Rights::MANAGE)?;
        self.grant(self.tcb.0, types::BOOT_SLOT_TCB, Rights::READ | Rights::MANAGE)?;
        self.grant(
            self.quota.0,
            types::BOOT_SLOT_QUOTA,
            Rights::READ | Rights::WRITE | Rights::MANAGE,
        )
    }

    /// Reports the thread's faults and exit to `faults` (a slot of the caller's CNode), with
    /// `badge`.
    pub fn report_to(&self, faults: Endpoint, badge: u64) -> Result<(), String> {
        let own = boot::cnode();
        let slot = free_slot(&own).ok_or_else(|| String::from("no free slot"))?;
        Cap::mint(&own, faults.0, &own, slot, Rights::WRITE, badge).map_err(st("Cap.mint"))?;
        let r = self.tcb.set_fault_endpoint(&Endpoint::from_slot(slot));
        let _ = Cap::delete(&own, slot);
        r.map_err(st("Tcb.set_fault_endpoint"))
    }

    /// Sets the thread's scheduling priority (0 to 31; `load` gives 0), before `start`.
    pub fn set_priority(&self, priority: u8) -> Result<(), String> {
        self.tcb
            .configure(&self.vspace, &self.cnode, types::START_IPC_BUFFER, priority)
            .map_err(st("Tcb.configure"))
    }

    /// Names the thread and starts it at the program's entry, with the IPC buffer in `rdi`
    /// and `arg` in `rsi`.
    pub fn start(&self, name: &str, arg: u64) -> Result<(), String> {
        self.tcb.set_name(name).map_err(st("Tcb.set_name"))?;
        let regs = Regs {
            rip: self.entry,
            rsp: types::START_STACK_TOP - 8,
            arg0: types::START_IPC_BUFFER,
            arg1: arg,
            arg2: 0,
        };
        self.tcb.set_regs(&regs).map_err(st("Tcb.set_regs"))?;
        self.tcb.resume().map_err(st("Tcb.resume"))
    }

    /// Like `release`, but keeps the caller's capabilities to the process's CNode and thread
    /// too (a supervisor looks at them): returns the slots of the quota, CNode and thread.
    /// Revoking the quota capability removes the other two as well.
    pub fn release_keeping(mut self) -> (u64, u64, u64) {
        let own = boot::cnode();
        for slot in core::mem::take(&mut self.scratch).into_iter().chain([self.vspace.0]) {
            let _ = Cap::delete(&own, slot);
        }
        let kept = (self.quota.0, self.cnode.0, self.tcb.0);
        core::mem::forget(self);
        kept
    }

    /// Drops the caller's capabilities to the process but the quota's: the process holds what
    /// it needs, the kernel keeps its objects alive while it runs, and revoking the quota
    /// capability (`destroy_quota`) destroys them. Returns the quota's slot.
    pub fn release(mut self) -> u64 {
        let own = boot::cnode();
        for slot in core::mem::take(&mut self.scratch)
            .into_iter()
            .chain([self.vspace.0, self.cnode.0, self.tcb.0])
        {
            let _ = Cap::delete(&own, slot);
        }
        let q = self.quota.0;
        core::mem::forget(self);
        q
    }
}

impl Drop for Process {
    /// A process dropped before `release` (a failed start) is destroyed.
    fn drop(&mut self) {
        for slot in self.scratch.iter().copied().chain([self.vspace.0, self.cnode.0, self.tcb.0]) {
            if slot != 0 {
                let _ = Cap::delete(&boot::cnode(), slot);
            }
        }
        destroy_quota(self.quota.0);
    }
}

/// Destroys everything made with the quota in `slot` of the caller's CNode (and every copy of
/// it, wherever it went), then the quota.
pub fn destroy_quota(slot: u64) {
    let own = boot::cnode();
    let _ = Cap::revoke(&own, slot);
    let _ = Cap::delete(&own, slot);
}

/// A free slot of `cnode`.
pub fn free_slot(cnode: &CNode) -> Option<u64> {
    let (slots, _) = cnode.info().ok()?;
    (1..u64::from(slots)).find(|&s| Cap::identify(cnode, s) == Err(Status::INVALID_CAP))
}
