//! Starting the first user program: find it in the CPIO initrd, check its ELF, build its
//! address space, stack and IPC buffer, and give it the boot capabilities.

use alloc::string::String;
use alloc::sync::Arc;

use anvil_kcore::elf::{self, Plan};

use crate::abi::types::{self, Rights};
use crate::arch::x86_64::trap::TrapFrame;
use crate::mm::{phys_to_virt, PAGE};
use crate::object::cnode::CNode;
use crate::object::debug::DebugConsole;
use crate::object::ioport::IoPort;
use crate::object::irq::IrqControl;
use crate::object::quota::Quota;
use crate::object::tcb::{IpcBuffer, Tcb, TcbCap};
use crate::object::vmo::Vmo;
use crate::object::vspace::{Access, VSpace};
use crate::object::{Capability, Object};

use types::{START_IPC_BUFFER as IPC_BUFFER, START_STACK_SIZE as USER_STACK_SIZE, START_STACK_TOP as USER_STACK_TOP};

/// Finds `name` in the CPIO archive.
pub fn find<'a>(initrd: &'a [u8], name: &str) -> Option<&'a [u8]> {
    cpio_reader::iter_files(initrd)
        .find(|e| e.name() == name)
        .map(|e| e.file())
}

/// Builds the thread for program `name` from `image`. Errors are messages for the log.
pub fn load(name: &str, image: &[u8], initrd: (u64, u64)) -> Result<Arc<Tcb>, String> {
    let plan = elf::plan(image).map_err(|e| alloc::format!("`{name}` is not a valid program: {e}"))?;
    let vs = Arc::new(VSpace::new(None, None).map_err(|e| alloc::format!("{e:?}"))?);
    map_segments(&vs, &plan, image).map_err(|e| alloc::format!("loading `{name}`: {e:?}"))?;
    let rw = Access {
        write: true,
        exec: false,
    };
    let mut va = USER_STACK_TOP - USER_STACK_SIZE;
    while va < USER_STACK_TOP {
        vs.map_new_page(va, rw)
            .map_err(|e| alloc::format!("stack of `{name}`: {e:?}"))?;
        va += PAGE;
    }
    vs.map_new_page(IPC_BUFFER, rw)
        .map_err(|e| alloc::format!("IPC buffer of `{name}`: {e:?}"))?;
    let ipc = vs.page_at(IPC_BUFFER).map(|(vmo, pa)| IpcBuffer::new(vmo, pa));

    let t = Tcb::new(name, None).map_err(|e| alloc::format!("thread of `{name}`: {e:?}"))?;
    let cnode = Arc::new(
        CNode::new(types::BOOT_CNODE_SLOTS as usize, None).map_err(|e| alloc::format!("init's CNode: {e:?}"))?,
    );
    let (free, _) = crate::mm::frame::stats();
    // User space may account for what is free now, less a reserve for the kernel's own
    // allocations that no quota pays for (per-CPU state, transient buffers, heap fragmentation).
    // Every charge is at least what its object takes, so the charges under the root quota can
    // never exhaust the frames (docs/capabilities.md).
    let quota = Quota::root((free.saturating_sub(free / 16)) * PAGE);
    let all = Rights::ALL;
    let caps = [
        (types::BOOT_SLOT_CNODE, Object::CNode(cnode.clone())),
        (types::BOOT_SLOT_VSPACE, Object::VSpace(vs.clone())),
        (types::BOOT_SLOT_TCB, Object::Tcb(TcbCap::new(t.clone()))),
        (types::BOOT_SLOT_DEBUG, Object::Debug(Arc::new(DebugConsole))),
        (types::BOOT_SLOT_QUOTA, Object::Quota(quota)),
        (
            types::BOOT_SLOT_IOPORT,
            Object::IoPort(Arc::new(IoPort::new(0, 0x10000, None))),
        ),
        (types::BOOT_SLOT_IRQ_CONTROL, Object::IrqControl(Arc::new(IrqControl))),
    ];
    for (slot, obj) in caps {
        cnode
            .set(slot, Capability::new(obj, all))
            .map_err(|e| alloc::format!("boot capability: {e:?}"))?;
    }
    // The boot archive, read-only: init loads the other programs from it.
    let rd = Object::Vmo(Arc::new(Vmo::from_phys(initrd.0, initrd.1)));
    cnode
        .set(
            types::BOOT_SLOT_INITRD,
            Capability::new(rd, Rights::READ | Rights::MAP | Rights::GRANT),
        )
        .map_err(|e| alloc::format!("boot capability: {e:?}"))?;
    {
        let mut i = t.inner.lock();
        t.set_vspace(&mut i, vs);
        t.cnode_id.store(cnode.id, core::sync::atomic::Ordering::Release);
        i.cnode = Some(cnode);
        t.ipc_pa
            .store(ipc.as_ref().map_or(0, |b| b.pa), core::sync::atomic::Ordering::Relaxed);
        i.ipc = ipc;
        // rsp as after a call: the entry function sees the alignment the ABI promises.
        let mut f = TrapFrame::new_user(plan.entry, USER_STACK_TOP - 8);
        f.rdi = IPC_BUFFER;
        i.start = Some(f);
    }
    Ok(t)
}

fn map_segments(vs: &VSpace, plan: &Plan, image: &[u8]) -> Result<(), types::Status> {
    for s in &plan.segments {
        let start = s.vaddr & !(PAGE - 1);
        let end = (s.vaddr + s.memsz + PAGE - 1) & !(PAGE - 1);
        let access = Access {
            write: s.write,
            exec: s.exec,
        };
        let mut va = start;
        while va < end {
            let pa = vs.map_new_page(va, access)?;
            // Copy the part of the file that falls into this page; the rest stays zero (bss).
            let file_lo = s.vaddr.max(va);
            let file_hi = (s.vaddr + s.filesz).min(va + PAGE);
            if file_lo < file_hi {
                let src = (s.file_offset + (file_lo - s.vaddr)) as usize;
                let n = (file_hi - file_lo) as usize;
                let dst = phys_to_virt(pa) + (file_lo - va);
                // SAFETY: `dst..dst+n` lies in the new frame (reached by the direct map) and
                // `src..src+n` in the image; `elf::plan` checked the file range.
                unsafe { core::ptr::copy_nonoverlapping(image[src..src + n].as_ptr(), dst as *mut u8, n) };
            }
            va += PAGE;
        }
    }
    Ok(())
}
