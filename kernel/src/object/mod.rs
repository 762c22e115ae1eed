//! Kernel objects, one file each, and the capability that names one of them with rights.

pub mod cnode;
pub mod debug;
pub mod tcb;
pub mod vspace;

use alloc::sync::Arc;

use crate::abi::types::Rights;
use crate::abi::ObjectType;

/// A reference to a kernel object; the object lives while any capability or the kernel holds it.
#[derive(Clone)]
#[allow(
    dead_code,
    reason = "the object syscalls that read these come with the capabilities work"
)]
pub enum Object {
    CNode(Arc<cnode::CNode>),
    Tcb(Arc<tcb::Tcb>),
    VSpace(Arc<vspace::VSpace>),
    Debug(Arc<debug::DebugConsole>),
}

impl Object {
    pub fn object_type(&self) -> ObjectType {
        match self {
            Object::CNode(_) => ObjectType::CNode,
            Object::Tcb(_) => ObjectType::Tcb,
            Object::VSpace(_) => ObjectType::VSpace,
            Object::Debug(_) => ObjectType::Debug,
        }
    }
}

/// A capability: an object, the rights its holder has over it, and (for endpoints) a badge.
#[derive(Clone)]
pub struct Capability {
    pub object: Object,
    pub rights: Rights,
    pub badge: u64,
}

impl Capability {
    pub fn new(object: Object, rights: Rights) -> Self {
        Capability {
            object,
            rights,
            badge: 0,
        }
    }
}
