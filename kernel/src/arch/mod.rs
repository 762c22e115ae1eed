//! Architecture support, a floor below the rest of the kernel. Anvil runs on x86-64 only; the
//! module keeps the boundary visible. Arch code calls upward only through three entries:
//! - `crate::interrupts::trap(&mut TrapFrame)`: every exception and interrupt;
//! - `crate::syscall::entry(&mut TrapFrame)`: every `syscall`;
//! - `anvil_sched_finish` (by symbol): the first thing a new thread runs, to finish the switch
//!   that started it.
//!
//! Everything else it needs (stacks for the interrupt stack table, where the trampoline page
//! is mapped) the kernel passes down as arguments, so nothing in here imports the scheduler,
//! the memory manager or the objects.

pub mod x86_64;
