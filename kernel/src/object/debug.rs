//! The Debug object: the kernel's serial console, offered to early services as a capability.

/// There is one debug console; the capability's rights decide what its holder may do
/// (WRITE: print, READ: statistics, MANAGE: shut the machine down in test runs).
pub struct DebugConsole;
