//! Kernel objects, one file each, and the capability that names one of them with rights.

pub mod cnode;
pub mod debug;
pub mod endpoint;
pub mod ioport;
pub mod irq;
pub mod quota;
pub mod reap;
pub mod tcb;
pub mod vmo;
pub mod vspace;

use alloc::sync::Arc;

use anvil_kcore::cap::Loc;

use crate::abi::types::Rights;
use crate::abi::ObjectType;

/// A reference to a kernel object; the object lives while any capability or the kernel holds it.
/// Threads and endpoints are named through a wrapper (`TcbCap`, `EndpointCap`) that only
/// capabilities hold: when the last capability goes, the thread stops and the endpoint closes,
/// even if the kernel still refers to the object itself.
#[derive(Clone)]
pub enum Object {
    Quota(Arc<quota::Quota>),
    CNode(Arc<cnode::CNode>),
    Tcb(Arc<tcb::TcbCap>),
    VSpace(Arc<vspace::VSpace>),
    Vmo(Arc<vmo::Vmo>),
    Endpoint(Arc<endpoint::EndpointCap>),
    IoPort(Arc<ioport::IoPort>),
    IrqControl(Arc<irq::IrqControl>),
    Irq(Arc<irq::Irq>),
    Debug(Arc<debug::DebugConsole>),
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.addr() == other.addr()
    }
}

impl Object {
    pub fn object_type(&self) -> ObjectType {
        match self {
            Object::Quota(_) => ObjectType::Quota,
            Object::CNode(_) => ObjectType::CNode,
            Object::Tcb(_) => ObjectType::Tcb,
            Object::VSpace(_) => ObjectType::VSpace,
            Object::Vmo(_) => ObjectType::Vmo,
            Object::Endpoint(_) => ObjectType::Endpoint,
            Object::IoPort(_) => ObjectType::IoPort,
            Object::IrqControl(_) => ObjectType::IrqControl,
            Object::Irq(_) => ObjectType::Irq,
            Object::Debug(_) => ObjectType::Debug,
        }
    }

    pub fn addr(&self) -> usize {
        match self {
            Object::Quota(a) => Arc::as_ptr(a) as *const () as usize,
            Object::CNode(a) => Arc::as_ptr(a) as *const () as usize,
            Object::Tcb(a) => Arc::as_ptr(a) as *const () as usize,
            Object::VSpace(a) => Arc::as_ptr(a) as *const () as usize,
            Object::Vmo(a) => Arc::as_ptr(a) as *const () as usize,
            Object::Endpoint(a) => Arc::as_ptr(a) as *const () as usize,
            Object::IoPort(a) => Arc::as_ptr(a) as *const () as usize,
            Object::IrqControl(a) => Arc::as_ptr(a) as *const () as usize,
            Object::Irq(a) => Arc::as_ptr(a) as *const () as usize,
            Object::Debug(a) => Arc::as_ptr(a) as *const () as usize,
        }
    }
}

/// A capability: an object, the rights its holder has over it, and (for endpoints) a badge.
/// `origin` is the slot it was looked up from; a capability to a new object made with a quota
/// carries the quota capability's slot there, so the new one becomes its child in the
/// derivation tree (and revoking the quota capability destroys what was made with it).
#[derive(Clone)]
pub struct Capability {
    pub object: Object,
    pub rights: Rights,
    pub badge: u64,
    pub origin: Option<Loc>,
}

impl Capability {
    pub fn new(object: Object, rights: Rights) -> Self {
        Capability {
            object,
            rights,
            badge: 0,
            origin: None,
        }
    }
}

/// A capability to a new object, which the syscall's dispatch places in the caller's CNode.
/// `parent` is the quota capability the object was made with (slot and object), so the new
/// capability becomes its child in the derivation tree: revoking a quota capability destroys
/// what was made with it.
pub struct NewCap {
    pub object: Object,
    pub parent: Option<(Loc, usize)>,
}

impl NewCap {
    /// A new object made with (and charged to) the quota named by `quota`.
    pub fn made_with(quota: &Capability, object: Object) -> NewCap {
        NewCap {
            parent: quota.origin.map(|l| (l, quota.object.addr())),
            object,
        }
    }
}

/// Extracts the typed object from a capability whose type the generated dispatch checked.
macro_rules! expect_obj {
    ($cap:expr, $variant:ident) => {
        match &$cap.object {
            $crate::object::Object::$variant(o) => Ok(o.clone()),
            _ => Err($crate::abi::types::Status::WRONG_TYPE),
        }
    };
}
pub(crate) use expect_obj;
