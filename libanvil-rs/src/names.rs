//! Finding other services: the name server's client side. Every service holds a capability to
//! the name server in `BOOT_SLOT_NAMES`, badged with its identity; what it may register and
//! look up is its manifest line's `provides=` and `uses=`.

use crate::sys::name::NameService;
use crate::{types, Endpoint, Ipc, Status};

/// This process's capability to the name server.
pub fn server() -> NameService {
    NameService::from_slot(types::BOOT_SLOT_NAMES)
}

/// Registers `ep` under `name`.
pub fn register(name: &str, ep: &Endpoint) -> Result<(), Status> {
    server().register(&mut Ipc, name, ep)
}

/// The endpoint registered under `name`, waiting until it is registered.
pub fn lookup(name: &str) -> Result<Endpoint, Status> {
    server().lookup(&mut Ipc, name)
}

/// The endpoint registered under `name` now, or `NOT_FOUND`.
pub fn try_lookup(name: &str) -> Result<Endpoint, Status> {
    server().try_lookup(&mut Ipc, name)
}
