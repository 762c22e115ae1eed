//! Kernel objects, one file each, and the capability that names one of them with rights.

pub mod cnode;
pub mod debug;
pub mod endpoint;
pub mod ioport;
pub mod irq;
pub mod notification;
pub mod quota;
pub mod reap;
pub mod reply;
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
    Notification(Arc<notification::NotificationCap>),
    Reply(Arc<reply::Reply>),
}

impl anvil_kcore::cap::Slotted for Object {
    fn placed(&self) {
        match self {
            Object::Tcb(t) => t.count().placed(),
            Object::Endpoint(e) => e.count().placed(),
            Object::Notification(n) => n.count().placed(),
            _ => {}
        }
    }

    fn removed(&self) {
        match self {
            Object::Tcb(t) => t.count().removed(),
            Object::Endpoint(e) => e.count().removed(),
            Object::Notification(n) => n.count().removed(),
            _ => {}
        }
    }
}

/// How many capabilities name an object (changed under the capability-space lock).
#[derive(Default)]
pub struct CapCount(core::sync::atomic::AtomicUsize);

impl CapCount {
    fn placed(&self) {
        self.0.fetch_add(1, core::sync::atomic::Ordering::AcqRel);
    }
    fn removed(&self) {
        self.0.fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
    }
    /// True once the last capability is gone (it cannot come back: a capability is only ever
    /// made from another one, or for a new object).
    pub fn none(&self) -> bool {
        self.0.load(core::sync::atomic::Ordering::Acquire) == 0
    }
}

impl Object {
    /// Called by the reaper for each object whose capability went: stops a thread and closes
    /// an endpoint whose last capability that was, here and now, rather than when the last
    /// reference goes (a syscall on another CPU may hold one for a while).
    pub fn capability_removed(&self) {
        match self {
            Object::Tcb(t) if t.count().none() => tcb::kill(&t.0),
            Object::Endpoint(e) if e.count().none() => e.0.close(),
            Object::Notification(n) if n.count().none() => n.close_now(),
            _ => {}
        }
    }
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
            Object::Notification(_) => ObjectType::Notification,
            Object::Reply(_) => ObjectType::Reply,
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
            Object::Notification(a) => Arc::as_ptr(a) as *const () as usize,
            Object::Reply(a) => Arc::as_ptr(a) as *const () as usize,
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
