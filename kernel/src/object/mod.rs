//! Kernel objects, one file each, and the capability that names one of them with rights.

pub mod cap;
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

/// The kernel's type for each kind of object the IDL declares: what a capability holds.
/// Threads and endpoints are named through a wrapper (`TcbCap`, `EndpointCap`) that only
/// capabilities hold: when the last capability goes, the thread stops and the endpoint closes,
/// even if the kernel still refers to the object itself. No capability names a `Cap` object.
pub struct Kinds;

impl crate::abi::Types for Kinds {
    type Quota = Arc<quota::Quota>;
    type CNode = Arc<cnode::CNode>;
    type Cap = NoObject;
    type Tcb = Arc<tcb::TcbCap>;
    type VSpace = Arc<vspace::VSpace>;
    type Vmo = Arc<vmo::Vmo>;
    type Endpoint = Arc<endpoint::EndpointCap>;
    type IoPort = Arc<ioport::IoPort>;
    type IrqControl = Arc<irq::IrqControl>;
    type Irq = Arc<irq::Irq>;
    type Debug = Arc<debug::DebugConsole>;
    type Notification = Arc<notification::NotificationCap>;
    type Reply = Arc<reply::Reply>;
}

/// The kind of object that has none (the `Cap` methods work on CNodes).
#[derive(Clone)]
pub enum NoObject {}

/// A reference to a kernel object; the object lives while any capability or the kernel holds it.
pub type Object = crate::abi::Object<Kinds>;

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

impl crate::abi::Object<Kinds> {
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

impl PartialEq for crate::abi::Object<Kinds> {
    fn eq(&self, other: &Object) -> bool {
        self.addr() == other.addr()
    }
}

impl crate::abi::Object<Kinds> {
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
            Object::Cap(n) => match *n {},
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

impl crate::abi::CapRef<Kinds> for Capability {
    fn object(&self) -> &Object {
        &self.object
    }
    fn rights(&self) -> Rights {
        self.rights
    }
    fn badge(&self) -> u64 {
        self.badge
    }
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
