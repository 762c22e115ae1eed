//! Endpoint: a rendezvous point for synchronous IPC. A message (label, data, capabilities) is
//! copied from the sender's IPC buffer to the receiver's when both are there: whoever arrives
//! first waits in the endpoint's queue. `call` waits for the reply; the receiver answers with
//! `reply`. Capabilities in a message are copied into free slots of the receiver's CNode (the
//! sender needs GRANT on each); the receiver sees the badge of the sender's capability.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use spin::Mutex;

use super::cnode::{self, CAPS};
use super::quota::Charge;
use super::tcb::{State, Tcb};
use crate::abi::types::{Rights, Status, MSG_DATA_BYTES, MSG_MAX_CAPS};
use crate::mm::phys_to_virt;

const CAPS_N: usize = MSG_MAX_CAPS as usize;
const DATA_N: usize = MSG_DATA_BYTES as usize;

/// A message as it lies in an IPC buffer (the layout the generated headers and bindings use).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Msg {
    pub label: u64,
    pub badge: u64,
    pub data_len: u32,
    pub cap_count: u32,
    pub caps: [u64; CAPS_N],
    pub data: [u8; DATA_N],
}

const _: () = assert!(core::mem::size_of::<Msg>() <= 4096);

/// The kernel address of `t`'s IPC buffer, if it has a mapped one (a whole message fits in the
/// page, which is page aligned).
fn buffer(t: &Tcb) -> Result<*mut Msg, Status> {
    let (vs, va) = {
        let i = t.inner.lock();
        (i.vspace.clone(), i.ipc_buffer)
    };
    let pa = vs
        .and_then(|v| if va == 0 { None } else { v.translate(va) })
        .ok_or(Status::BAD_STATE)?;
    Ok(phys_to_virt(pa) as *mut Msg)
}

/// Reads the message in `t`'s IPC buffer and checks its header.
pub fn read(t: &Tcb) -> Result<Msg, Status> {
    let p = buffer(t)?;
    // SAFETY: `p` is the direct-map address of a page mapped in `t`'s address space, which the
    // address space keeps alive while mapped; `Msg` is plain data (any bytes are valid), and a
    // racing user write only changes the values read.
    let m = unsafe { p.read_volatile() };
    if m.data_len as usize > DATA_N || m.cap_count as usize > CAPS_N {
        return Err(Status::INVALID_ARGS);
    }
    Ok(m)
}

fn write(t: &Tcb, m: &Msg) -> Result<(), Status> {
    let p = buffer(t)?;
    // SAFETY: as in `read`; the page is writable kernel-side through the direct map.
    unsafe { p.write_volatile(*m) };
    Ok(())
}

/// Copies `m` from `from` into `to`'s IPC buffer, moving its capabilities into `to`'s CNode.
pub fn deliver(from: &Tcb, to: &Tcb, mut m: Msg, badge: u64) -> Result<(), Status> {
    if m.cap_count > 0 {
        let (src, dst) = (
            from.cnode().ok_or(Status::BAD_STATE)?,
            to.cnode().ok_or(Status::BAD_STATE)?,
        );
        let mut caps = CAPS.lock();
        let mut placed = [0u64; CAPS_N];
        for i in 0..m.cap_count as usize {
            let step = (|| {
                let rights = caps.get(src.id, m.caps[i]).map_err(cnode::status)?.rights;
                if !Rights(rights).contains(Rights::GRANT) {
                    return Err(Status::ACCESS_DENIED);
                }
                let slot = caps.free_slot(dst.id).map_err(cnode::status)?;
                caps.derive(src.id, m.caps[i], dst.id, slot, rights, None)
                    .map_err(cnode::status)?;
                Ok(slot)
            })();
            match step {
                Ok(slot) => placed[i] = slot,
                Err(e) => {
                    // Take back what was already placed, so a failed delivery leaves nothing.
                    let undone: alloc::vec::Vec<_> = placed[..i]
                        .iter()
                        .filter_map(|&s| caps.delete(dst.id, s).ok())
                        .collect();
                    drop(caps);
                    cnode::release(undone);
                    return Err(e);
                }
            }
        }
        m.caps = placed;
    }
    m.badge = badge;
    write(to, &m)
}

/// Makes a blocked thread runnable with `status` as the result of its IPC syscall.
pub fn wake(t: Arc<Tcb>, status: Status) {
    {
        let mut i = t.inner.lock();
        if i.state != State::Blocked {
            return;
        }
        i.wake_status = u64::from(status.0);
        i.state = State::Runnable;
    }
    // It may still be switching away on another CPU: queue it only once it has left.
    crate::sched::wait_off_cpu(&t);
    crate::sched::enqueue(t);
}

pub struct Sender {
    pub tcb: Arc<Tcb>,
    pub msg: Msg,
    pub badge: u64,
    pub call: bool,
}

#[derive(Default)]
pub struct Queues {
    pub senders: VecDeque<Sender>,
    pub receivers: VecDeque<Arc<Tcb>>,
}

pub struct Endpoint {
    pub queues: Mutex<Queues>,
    _charge: Option<Charge>,
}

impl Endpoint {
    pub fn new(charge: Option<Charge>) -> Endpoint {
        Endpoint {
            queues: Mutex::new(Queues::default()),
            _charge: charge,
        }
    }
}
