//! Endpoint: a rendezvous point for synchronous IPC, and the IPC operations on it.
//!
//! A message (label, data, capabilities) goes from the sender's IPC buffer straight to the
//! receiver's when both are there; whoever arrives first waits in the endpoint's queue, a
//! sender with its message still in its own buffer. Only the header, the used data and the
//! capabilities are copied. `call` waits for the reply; the receiver answers with `reply`.
//! Capabilities in a message are copied into free slots of the receiver's CNode (the sender
//! needs GRANT on each), and the receiver learns each one's object type and rights from the
//! header; the receiver also sees the badge of the sender's capability.
//!
//! A thread with a bound notification (`notification`) also ends its receive when that is
//! signalled; `recv` and `notify_receiver` are where the two meet.
//!
//! Cancellation: a thread leaves the queue it waits in when it is stopped (`tcb::halt`), and
//! when the endpoint's last capability goes, every thread waiting on it wakes with
//! `PEER_CLOSED` (`EndpointCap`'s drop).
//!
//! Locks: an endpoint's queue lock is taken before any thread's lock. A thread waits in a queue
//! exactly when its `wait` names this endpoint and it is in the queue; both change together
//! under both locks, except that the pairing code keeps `wait` while it copies a message with
//! the partner out of the queue, so that a concurrent stop waits for the queue lock.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use spin::Mutex;

use super::cnode::{self, CNode, CAPS};
use super::quota::Charge;
use super::reap;
use super::tcb::{self, State, Tcb, Wait};
use crate::abi::kernel::{FaultReport, FAULT_LABEL, NOTIFY_LABEL};
use crate::abi::types::{Rights, Status, MSG_DATA_BYTES, MSG_MAX_CAPS};
use crate::mm::phys_to_virt;

const CAPS_N: usize = MSG_MAX_CAPS as usize;
const DATA_N: usize = MSG_DATA_BYTES as usize;

/// The message header as it lies at the start of an IPC buffer (the layout the generated C
/// headers and Rust bindings use); the data follows it.
mod at {
    pub const LABEL: u64 = 0;
    pub const BADGE: u64 = 8;
    pub const DATA_LEN: u64 = 16;
    pub const CAP_COUNT: u64 = 20;
    pub const CAPS: u64 = 24;
    pub const CAP_TYPES: u64 = CAPS + 8 * super::CAPS_N as u64;
    pub const CAP_RIGHTS: u64 = CAP_TYPES + 4 * super::CAPS_N as u64;
    pub const DATA: u64 = CAP_RIGHTS + 4 * super::CAPS_N as u64;
}

const _: () = assert!(at::DATA as usize + DATA_N <= 4096);

pub struct Endpoint {
    queues: Mutex<Queues>,
    _charge: Option<Charge>,
}

#[derive(Default)]
struct Queues {
    senders: VecDeque<Arc<Tcb>>,
    receivers: VecDeque<Arc<Tcb>>,
    closed: bool,
}

/// What capabilities to an endpoint refer to; when the last one goes, the endpoint closes.
pub struct EndpointCap(pub Arc<Endpoint>, pub super::CapCount);

impl EndpointCap {
    pub fn new(ep: Arc<Endpoint>) -> EndpointCap {
        EndpointCap(ep, super::CapCount::default())
    }

    pub fn count(&self) -> &super::CapCount {
        &self.1
    }
}

impl Drop for EndpointCap {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Endpoint {
    pub fn new(charge: Option<Charge>) -> Result<Endpoint, Status> {
        let mut q = Queues::default();
        q.senders.try_reserve_exact(QUEUE_ROOM).map_err(|_| Status::NO_MEMORY)?;
        q.receivers
            .try_reserve_exact(QUEUE_ROOM)
            .map_err(|_| Status::NO_MEMORY)?;
        Ok(Endpoint {
            queues: Mutex::new(q),
            _charge: charge,
        })
    }

    /// Wakes every waiting thread with PEER_CLOSED; no thread can wait here again.
    pub fn close(&self) {
        let (senders, receivers) = {
            let mut q = self.queues.lock();
            q.closed = true;
            (core::mem::take(&mut q.senders), core::mem::take(&mut q.receivers))
        };
        for t in senders.into_iter().chain(receivers) {
            let mut i = t.inner.lock();
            let here = match &i.wait {
                Wait::Send { ep, fault, .. } if core::ptr::eq(Arc::as_ptr(ep), self) => Some(*fault),
                Wait::Recv { ep } if core::ptr::eq(Arc::as_ptr(ep), self) => Some(false),
                _ => None,
            };
            match here {
                // A fault report with nobody left to read it: the thread stays stopped.
                Some(true) => {
                    i.wait = Wait::None;
                    i.state = State::Faulted;
                }
                Some(false) => tcb::wake(&t, i, Status::PEER_CLOSED),
                None => {}
            }
        }
    }
}

/// Room each queue keeps (paid for with the endpoint), so that a few waiters need no
/// allocation.
pub const QUEUE_ROOM: usize = 4;

/// Gives a queue's spare room back once it has mostly emptied, so that a queue that was long
/// once does not keep memory no thread is charged for, and an endpoint's memory does not
/// depend on how many waited at once before.
fn trim(q: &mut VecDeque<Arc<Tcb>>) {
    if q.capacity() > QUEUE_ROOM && q.len() * 2 <= QUEUE_ROOM {
        q.shrink_to(QUEUE_ROOM);
    }
}

/// Takes `t` out of `ep`'s queues if it waits there (a thread being stopped).
pub fn unqueue(ep: &Arc<Endpoint>, t: &Arc<Tcb>) {
    let removed = {
        let mut q = ep.queues.lock();
        let mut i = t.inner.lock();
        let which = match &i.wait {
            Wait::Send { ep: e, .. } if Arc::ptr_eq(e, ep) => Some(true),
            Wait::Recv { ep: e } if Arc::ptr_eq(e, ep) => Some(false),
            _ => None,
        };
        let Some(sender) = which else { return };
        i.wait = Wait::None;
        drop(i);
        let list = if sender { &mut q.senders } else { &mut q.receivers };
        let r = list.iter().position(|x| Arc::ptr_eq(x, t)).and_then(|p| list.remove(p));
        trim(list);
        r
    };
    drop(removed);
}

/// Wakes `caller` with PEER_CLOSED if it still waits for the reply `token` names (the thread
/// that owed the reply was stopped).
pub fn abandon_reply(caller: &Arc<Tcb>, token: u64) {
    let i = caller.inner.lock();
    if i.awaits_reply(token) {
        tcb::wake(caller, i, Status::PEER_CLOSED);
    }
}

/// One side of a transfer: the physical address of its IPC buffer and, if the message carries
/// capabilities, its CNode (held, so that it cannot go away while capabilities move into it).
struct End {
    pa: u64,
    cnode: Option<Arc<CNode>>,
}

/// `t`'s side of a transfer; with `caps`, with its CNode. The buffer's address needs no lock:
/// it is set before the thread first runs and stays until the `Tcb` is freed.
fn end(t: &Tcb, caps: bool) -> Result<End, Status> {
    let pa = t.ipc_pa.load(Ordering::Relaxed);
    if pa == 0 {
        return Err(Status::BAD_STATE);
    }
    Ok(End {
        pa,
        cnode: if caps { t.inner.lock().cnode.clone() } else { None },
    })
}

/// Whether the message in the buffer at `pa` carries capabilities (read again, once, by
/// `transfer`: a sender that changes its buffer meanwhile gets `BAD_STATE`).
fn has_caps(pa: u64) -> bool {
    pa != 0 && rd32(pa, at::CAP_COUNT) != 0
}

/// Writes a message header into the IPC buffer at `pa`: label, badge, data length and the
/// count of capabilities (their fields are the caller's to fill).
#[inline]
fn write_header(pa: u64, label: u64, badge: u64, data_len: usize, cap_count: usize) {
    wr64(pa, at::LABEL, label);
    wr64(pa, at::BADGE, badge);
    wr32(pa, at::DATA_LEN, data_len as u32);
    wr32(pa, at::CAP_COUNT, cap_count as u32);
}

/// Clears the capability fields (slots, types, rights) of the IPC buffer at `pa`, for a
/// message that carries none.
#[inline]
fn clear_cap_fields(pa: u64) {
    // SAFETY: the capability fields of a live IPC buffer page (`rd64`), which lie between
    // `CAPS` and `DATA`.
    unsafe {
        core::ptr::write_bytes(
            (phys_to_virt(pa) + at::CAPS) as *mut u8,
            0,
            (at::DATA - at::CAPS) as usize,
        )
    };
}

fn rd64(pa: u64, off: u64) -> u64 {
    // SAFETY: `pa` is an IPC buffer page kept alive by its thread's `IpcBuffer` for as long as
    // the thread (which the caller holds) has it, reached through the direct map; `off` lies
    // in the header. User space may write the page meanwhile: the value is read once and
    // checked before use.
    unsafe { ((phys_to_virt(pa) + off) as *const u64).read_volatile() }
}

fn rd32(pa: u64, off: u64) -> u32 {
    // SAFETY: as in `rd64`.
    unsafe { ((phys_to_virt(pa) + off) as *const u32).read_volatile() }
}

fn wr64(pa: u64, off: u64, v: u64) {
    // SAFETY: as in `rd64`; the kernel writes the page through the direct map.
    unsafe { ((phys_to_virt(pa) + off) as *mut u64).write_volatile(v) }
}

fn wr32(pa: u64, off: u64, v: u32) {
    // SAFETY: as in `wr64`.
    unsafe { ((phys_to_virt(pa) + off) as *mut u32).write_volatile(v) }
}

/// What a message carries: the sender's IPC buffer, or a fault report the kernel composes.
enum Body {
    Buffer(End),
    Fault(FaultReport),
}

/// Copies a message into `to`'s IPC buffer, moving its capabilities into `to`'s CNode. On
/// failure nothing is left behind in the receiver.
#[inline]
fn transfer(body: &Body, to: &End, badge: u64) -> Result<(), Status> {
    if let Body::Buffer(from) = body {
        if rd32(from.pa, at::CAP_COUNT) == 0 {
            return transfer_data(from.pa, to.pa, badge);
        }
    }
    transfer_with_caps(body, to, badge)
}

/// `transfer` of a message without capabilities (the common case): header, cleared
/// capability fields and data, with none of the capability bookkeeping.
#[inline(never)]
fn transfer_data(from: u64, to: u64, badge: u64) -> Result<(), Status> {
    let label = rd64(from, at::LABEL);
    let data_len = rd32(from, at::DATA_LEN) as usize;
    // Read once: user space may change its buffer meanwhile, and a count that became
    // non-zero after the check above is taken as zero (no capability is moved).
    if data_len > DATA_N {
        return Err(Status::INVALID_ARGS);
    }
    write_header(to, label, badge, data_len, 0);
    clear_cap_fields(to);
    copy_data(from, to, data_len);
    Ok(())
}

/// Copies `len` bytes (checked to be at most `MSG_DATA_BYTES`) of message data from the IPC
/// buffer at `from` to the one at `to`.
fn copy_data(from: u64, to: u64, len: usize) {
    debug_assert!(len <= DATA_N);
    // SAFETY: both are data areas of live IPC buffer pages (`rd64`) with room for `len` bytes,
    // and they do not overlap: two threads' buffers are distinct pages, or the same page only
    // if one thread sends to itself, which cannot pair up.
    unsafe {
        crate::arch::x86_64::string::copy(
            (phys_to_virt(to) + at::DATA) as *mut u8,
            (phys_to_virt(from) + at::DATA) as *const u8,
            len,
        )
    };
}

/// `transfer` of a fault report or of a message that carries capabilities.
#[inline(never)]
fn transfer_with_caps(body: &Body, to: &End, badge: u64) -> Result<(), Status> {
    let mut types = [0u32; CAPS_N];
    let mut rights = [0u32; CAPS_N];
    let mut slots = [0u64; CAPS_N];
    let (label, data_len, cap_count) = match body {
        Body::Fault(_) => (FAULT_LABEL, core::mem::size_of::<FaultReport>(), 0),
        Body::Buffer(from) => {
            let label = rd64(from.pa, at::LABEL);
            let data_len = rd32(from.pa, at::DATA_LEN) as usize;
            let cap_count = rd32(from.pa, at::CAP_COUNT) as usize;
            if data_len > DATA_N || cap_count > CAPS_N {
                return Err(Status::INVALID_ARGS);
            }
            for (i, s) in slots.iter_mut().enumerate().take(cap_count) {
                *s = rd64(from.pa, at::CAPS + 8 * i as u64);
            }
            if cap_count > 0 {
                let (Some(src), Some(dst)) = (&from.cnode, &to.cnode) else {
                    return Err(Status::BAD_STATE);
                };
                move_caps(src, dst, &mut slots[..cap_count], &mut types, &mut rights)?;
            }
            (label, data_len, cap_count)
        }
    };
    write_header(to.pa, label, badge, data_len, cap_count);
    for i in 0..CAPS_N {
        wr64(to.pa, at::CAPS + 8 * i as u64, slots[i]);
        wr32(to.pa, at::CAP_TYPES + 4 * i as u64, types[i]);
        wr32(to.pa, at::CAP_RIGHTS + 4 * i as u64, rights[i]);
    }
    match body {
        Body::Fault(r) => {
            let src = (r as *const FaultReport).cast::<u8>();
            let dst = (phys_to_virt(to.pa) + at::DATA) as *mut u8;
            // SAFETY: `FaultReport` is a padding-free `repr(C)` struct of integers, so its
            // bytes are initialised; the destination is the data area of a live IPC buffer.
            unsafe { core::ptr::copy_nonoverlapping(src, dst, data_len) };
        }
        Body::Buffer(from) => copy_data(from.pa, to.pa, data_len),
    }
    Ok(())
}

/// Copies the capabilities in `slots` of `src` into free slots of `dst` (each needs GRANT) and
/// replaces each slot number with the receiver's, recording type and rights.
fn move_caps(
    src: &CNode,
    dst: &CNode,
    slots: &mut [u64],
    types: &mut [u32; CAPS_N],
    rights: &mut [u32; CAPS_N],
) -> Result<(), Status> {
    let mut caps = CAPS.lock();
    for i in 0..slots.len() {
        let step = (|| {
            let n = caps.get(src.id, slots[i]).map_err(cnode::status)?;
            let (r, ty) = (n.rights, n.obj.object_type() as u32);
            if !Rights(r).contains(Rights::GRANT) {
                return Err(Status::ACCESS_DENIED);
            }
            let slot = caps.free_slot(dst.id).map_err(cnode::status)?;
            caps.derive(src.id, slots[i], dst.id, slot, r, None, 0)
                .map_err(cnode::status)?;
            Ok((slot, ty, r))
        })();
        match step {
            Ok((slot, ty, r)) => {
                slots[i] = slot;
                types[i] = ty;
                rights[i] = r;
            }
            Err(e) => {
                // Take back what was already placed, so a failed delivery leaves nothing.
                let mut undone: [Option<super::Object>; CAPS_N] = Default::default();
                for (j, u) in undone.iter_mut().enumerate().take(i) {
                    *u = caps.delete(dst.id, slots[j]).ok();
                }
                drop(caps);
                reap::defer_all(undone.into_iter().flatten());
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Whether the calling thread must leave the CPU when its syscall ends.
pub enum Then {
    Return,
    Block,
    /// Block, and run this partner next, straight away: it was handed a message, may run on
    /// this CPU now, and was marked running so no other CPU takes it.
    SwitchTo(Arc<Tcb>),
}

/// Blocks the current thread `me` in `ep`'s queue, unless it was stopped meanwhile.
fn wait_in(q: &mut Queues, me: &Arc<Tcb>, wait: Wait) -> Result<Then, Status> {
    let sender = matches!(wait, Wait::Send { .. });
    let mut i = me.inner.lock();
    if i.state != State::Runnable {
        return Err(Status::CANCELLED);
    }
    let list = if sender { &mut q.senders } else { &mut q.receivers };
    list.try_reserve(1).map_err(|_| Status::NO_MEMORY)?;
    i.state = State::Blocked;
    i.start_waiting(wait);
    list.push_back(me.clone());
    Ok(Then::Block)
}

/// `Endpoint.send` and `Endpoint.call` by the current thread `me`, with the badge of its
/// capability.
pub fn send(me: &Arc<Tcb>, ep: &Arc<Endpoint>, badge: u64, call: bool) -> Result<Then, Status> {
    let caps = has_caps(me.ipc_pa.load(Ordering::Relaxed));
    let from = end(me, caps)?;
    let body = Body::Buffer(from);
    let mut q = ep.queues.lock();
    if q.closed {
        return Err(Status::PEER_CLOSED);
    }
    let Some(r) = q.receivers.pop_front() else {
        return wait_in(
            &mut q,
            me,
            Wait::Send {
                ep: ep.clone(),
                badge,
                call,
                fault: false,
            },
        );
    };
    trim(&mut q.receivers);
    // The receiver stays `Recv` while the message is copied: a concurrent stop of it waits
    // for this queue lock.
    let delivered = end(&r, caps).and_then(|to| transfer(&body, &to, badge));
    if let Err(e) = delivered {
        q.receivers.push_front(r);
        return Err(e);
    }
    let mut then = Then::Return;
    let mut result = Ok(());
    let reply = if call {
        let mut mi = me.inner.lock();
        mi.reply_token = mi.reply_token.wrapping_add(1);
        if mi.state == State::Runnable {
            mi.state = State::Blocked;
            mi.start_waiting(Wait::Reply);
            then = Then::Block;
        } else {
            // Stopped while sending: the message went, the reply will find nobody waiting.
            result = Err(Status::CANCELLED);
        }
        Some((me.clone(), mi.reply_token))
    } else {
        None
    };
    let mut ri = r.inner.lock();
    ri.reply_to = reply;
    drop(q);
    if matches!(then, Then::Block) && may_switch_to(&ri, me.prio.load(Ordering::Relaxed)) {
        claim(&r, &mut ri);
        drop(ri);
        return Ok(Then::SwitchTo(r));
    }
    tcb::wake(&r, ri, Status::OK);
    result.map(|()| then)
}

/// Makes a thread that was handed its message runnable and running, for the current thread
/// to switch to it directly (see `Then::SwitchTo`).
#[inline]
fn claim(t: &Tcb, i: &mut super::tcb::TcbInner) {
    i.wait = Wait::None;
    i.state = State::Runnable;
    t.wake_status.store(u64::from(Status::OK.0), Ordering::Release);
    i.running = true;
}

/// Gives a claimed thread to the run queues after all (its claimer did not switch to it).
pub fn unclaim(t: Arc<Tcb>) {
    let push = {
        let mut i = t.inner.lock();
        i.running = false;
        if i.state == State::Runnable && !i.queued {
            i.queued = true;
            true
        } else {
            false
        }
    };
    if push {
        crate::sched::push(t);
    }
}

/// A caller owed a reply, with the token of its call.
type Owed = (Arc<Tcb>, u64);
type Bound = Option<Arc<super::notification::Notification>>;

/// The reply the current thread `me` owes (taken: it is answered or abandoned next) and its
/// bound notification, in one hold of its lock.
fn owed_and_bound(me: &Tcb) -> (Option<Owed>, Bound) {
    let mut i = me.inner.lock();
    (i.reply_to.take(), i.bound.clone())
}

/// `Endpoint.recv` by the current thread `me`.
pub fn recv(me: &Arc<Tcb>, ep: &Arc<Endpoint>) -> Result<Then, Status> {
    let (owed, bound) = owed_and_bound(me);
    // A caller this thread still owes a reply would otherwise wait forever.
    if let Some((c, token)) = owed {
        abandon_reply(&c, token);
    }
    recv_bound(me, ep, bound)
}

/// `recv` once the reply owed is dealt with; `bound` is `me`'s bound notification.
fn recv_bound(me: &Arc<Tcb>, ep: &Arc<Endpoint>, bound: Bound) -> Result<Then, Status> {
    let mut to = end(me, false)?;
    let mut q = ep.queues.lock();
    if q.closed {
        return Err(Status::PEER_CLOSED);
    }
    // A bound notification's bits come first (as in seL4), so that a stream of requests
    // cannot hold back an interrupt.
    if let Some(n) = &bound {
        let bits = n.word().take();
        if bits != 0 {
            drop(q);
            write_notify(to.pa, bits);
            return Ok(Then::Return);
        }
    }
    loop {
        let Some(s) = q.senders.pop_front() else {
            let Some(n) = &bound else {
                return wait_in(&mut q, me, Wait::Recv { ep: ep.clone() });
            };
            // Checked again and queued under the notification's lock: a signal either comes
            // before (and is taken here) or finds this thread in the queue.
            let mut word = n.word();
            let bits = word.take();
            if bits != 0 {
                drop(word);
                drop(q);
                write_notify(to.pa, bits);
                return Ok(Then::Return);
            }
            return wait_in(&mut q, me, Wait::Recv { ep: ep.clone() });
        };
        trim(&mut q.senders);
        let (badge, call, report) = {
            let i = s.inner.lock();
            match &i.wait {
                Wait::Send { badge, call, fault, .. } => (*badge, *call, if *fault { i.fault } else { None }),
                // Not reachable: a thread in the queue waits to send here (see the header).
                _ => continue,
            }
        };
        let body = match report {
            Some(r) => Ok(Body::Fault(r)),
            None => {
                let caps = has_caps(s.ipc_pa.load(Ordering::Relaxed));
                if caps && to.cnode.is_none() {
                    to.cnode = me.inner.lock().cnode.clone();
                }
                end(&s, caps).map(Body::Buffer)
            }
        };
        let delivered = body.and_then(|b| transfer(&b, &to, badge).map(|()| b));
        let mut si = s.inner.lock();
        match delivered {
            // The sender's message could not be delivered: it gets the error, and this
            // receiver takes the next one.
            Err(e) => {
                tcb::wake(&s, si, e);
                continue;
            }
            Ok(Body::Fault(_)) => {
                si.wait = Wait::None;
                si.state = State::Faulted;
            }
            Ok(Body::Buffer(_)) if call => {
                si.reply_token = si.reply_token.wrapping_add(1);
                si.wait = Wait::Reply;
                let token = si.reply_token;
                drop(si);
                me.inner.lock().reply_to = Some((s, token));
            }
            Ok(Body::Buffer(_)) => tcb::wake(&s, si, Status::OK),
        }
        return Ok(Then::Return);
    }
}

/// `Endpoint.reply` by the current thread `me`: delivers its message to the caller it owes a
/// reply, if that caller still waits for it (a caller that was stopped meanwhile does not).
/// With `claim`, a caller that may run on this CPU now is claimed and returned, for the current
/// thread to switch to (or to `unclaim`).
pub fn reply(me: &Arc<Tcb>, claim_it: bool) -> Result<Option<Arc<Tcb>>, Status> {
    let (caller, token) = me.inner.lock().reply_to.take().ok_or(Status::BAD_STATE)?;
    Ok(match answer(me, caller, token, claim_it)? {
        Answered::Claimed(c) => Some(c),
        Answered::Woken | Answered::No => None,
    })
}

/// What became of a reply.
pub enum Answered {
    /// The caller got it and is claimed for a direct switch (`claim_it`).
    Claimed(Arc<Tcb>),
    /// The caller got it (or the status of a failed transfer) and was woken.
    Woken,
    /// The caller no longer waits for it: nothing was sent.
    No,
}

/// Delivers `me`'s message as the reply to the call of `caller` that `token` names, if the
/// caller still waits for it (`reply`, and `Reply.send` for a reply saved to answer later).
/// With `claim_it`, as `reply`.
pub fn answer(me: &Arc<Tcb>, caller: Arc<Tcb>, token: u64, claim_it: bool) -> Result<Answered, Status> {
    let caps = has_caps(me.ipc_pa.load(Ordering::Relaxed));
    let from = match end(me, caps) {
        Ok(f) => f,
        Err(e) => {
            // The reply cannot be sent: the caller must not wait for it for ever.
            abandon_reply(&caller, token);
            return Err(e);
        }
    };
    let mut ci = caller.inner.lock();
    if !ci.awaits_reply(token) {
        return Ok(Answered::No);
    }
    let to = End {
        pa: caller.ipc_pa.load(Ordering::Relaxed),
        cnode: if caps { ci.cnode.clone() } else { None },
    };
    let status = if to.pa == 0 {
        Err(Status::BAD_STATE)
    } else {
        transfer(&Body::Buffer(from), &to, 0)
    };
    if claim_it && status.is_ok() && may_switch_to(&ci, me.prio.load(Ordering::Relaxed)) {
        claim(&caller, &mut ci);
        drop(ci);
        return Ok(Answered::Claimed(caller));
    }
    tcb::wake(&caller, ci, status.err().unwrap_or(Status::OK));
    Ok(Answered::Woken)
}

/// Writes the message a bound notification's signal ends a receive with: label
/// `NOTIFY_LABEL`, the bits as the badge, no data, no capabilities.
fn write_notify(pa: u64, bits: u64) {
    write_header(pa, NOTIFY_LABEL, bits, 0, 0);
    clear_cap_fields(pa);
}

/// `t`'s bound notification `n` was signalled while `t` waited in a receive on `ep`: if it
/// still waits there and the bits are still set, the receive ends with them.
pub fn notify_receiver(ep: &Arc<Endpoint>, t: &Arc<Tcb>, n: &super::notification::Notification) {
    let mut q = ep.queues.lock();
    let mut word = n.word();
    let i = t.inner.lock();
    let here = matches!(&i.wait, Wait::Recv { ep: e } if Arc::ptr_eq(e, ep));
    let Some(pa) = i.ipc.as_ref().map(|b| b.pa).filter(|_| here) else {
        return;
    };
    let bits = word.take();
    if bits == 0 {
        return;
    }
    drop(word);
    write_notify(pa, bits);
    let removed = q
        .receivers
        .iter()
        .position(|x| Arc::ptr_eq(x, t))
        .and_then(|p| q.receivers.remove(p));
    trim(&mut q.receivers);
    drop(q);
    tcb::wake(t, i, Status::OK);
    drop(removed);
}

/// Copies `data` (at most `MSG_DATA_BYTES`) into the data area of `t`'s IPC buffer and sets
/// the message's data length (`Debug.read_log`).
pub fn write_data(t: &Tcb, data: &[u8]) -> Result<(), Status> {
    let pa = t.inner.lock().ipc.as_ref().map(|b| b.pa).ok_or(Status::BAD_STATE)?;
    let n = data.len().min(DATA_N);
    let dst = (phys_to_virt(pa) + at::DATA) as *mut u8;
    // SAFETY: the data area of a live IPC buffer page (`rd64`), `n` bytes fit in it.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, n) };
    wr32(pa, at::DATA_LEN, n as u32);
    Ok(())
}

/// Sends the fault report of the current thread `t` (already `Blocked` sending it). False if
/// the endpoint has closed: nobody will ever read the report.
pub fn send_fault(ep: &Arc<Endpoint>, t: &Arc<Tcb>) -> bool {
    let mut q = ep.queues.lock();
    if q.closed {
        return false;
    }
    // Read under the queue's lock: a stop of the thread that came first has taken it out of
    // this wait (and must not find it queued afterwards); one that comes later waits for the
    // lock and then finds it in the queue.
    let (badge, report) = {
        let i = t.inner.lock();
        match (&i.wait, i.fault) {
            (Wait::Send { badge, .. }, Some(r)) => (*badge, r),
            _ => return true,
        }
    };
    if let Some(r) = q.receivers.pop_front() {
        trim(&mut q.receivers);
        if end(&r, false)
            .and_then(|to| transfer(&Body::Fault(report), &to, badge))
            .is_ok()
        {
            let mut ti = t.inner.lock();
            ti.wait = Wait::None;
            ti.state = State::Faulted;
            drop(ti);
            let ri = r.inner.lock();
            drop(q);
            tcb::wake(&r, ri, Status::OK);
            return true;
        }
        q.receivers.push_front(r);
    }
    if q.senders.try_reserve(1).is_err() {
        return false;
    }
    q.senders.push_back(t.clone());
    true
}

// ---- the fast path --------------------------------------------------------------------------
//
// `call` to a server waiting in `recv`, and `reply_recv` to a caller waiting for its reply,
// hand the message over and switch straight to the partner, without the run queues, when:
// - the message has no capability and at most `FASTPATH_DATA_BYTES` of data;
// - the partner has left every CPU, may run on this one (its affinity), and its priority is at
//   least the current thread's and at least any waiting in this CPU's queue;
// - for `reply_recv`, no sender waits on the endpoint (the general path would take it at once)
//   and the thread has no bound notification (the general path checks it before waiting).
// Every failed condition leaves everything untouched and the general path runs. The partner
// is marked running under its lock before anything commits, so no other CPU can pick it up.

use crate::abi::types::FASTPATH_DATA_BYTES;

/// How often each fast path was taken (for the log at the end of a run and the tests that
/// check the fast path is used).
pub static FAST_CALLS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
pub static FAST_REPLIES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Whether the fast path is built in (the `nofastpath` feature builds a kernel without it, to
/// run the IPC tests on the general path alone).
const FASTPATH: bool = !cfg!(feature = "nofastpath");

/// The caller's message, if it may take the fast path: (data_len).
#[inline]
fn fast_message(pa: u64) -> Option<usize> {
    if pa == 0 || rd32(pa, at::CAP_COUNT) != 0 {
        return None;
    }
    let len = rd32(pa, at::DATA_LEN) as usize;
    (len <= FASTPATH_DATA_BYTES as usize).then_some(len)
}

/// Copies a capability-free message of `len` data bytes from buffer `from` to buffer `to`.
fn copy_small(from: u64, to: u64, len: usize, badge: u64) {
    write_header(to, rd64(from, at::LABEL), badge, len, 0);
    if len == 0 {
        return;
    }
    copy_data(from, to, len);
}

/// May `t` (locked as `i`) be switched to on this CPU by a thread of priority `prio`?
#[inline(always)]
fn may_switch_to(i: &super::tcb::TcbInner, prio: u8) -> bool {
    let cpu = crate::sched::this_cpu() as u32;
    !i.running
        && (i.affinity == super::tcb::ANY_CPU || i.affinity == cpu)
        && i.priority >= prio
        && crate::sched::may_run_now(i.priority)
}

/// `call`'s fast path: returns the receiver to switch to, the message delivered and the caller
/// waiting for the reply; `None` leaves everything to the general path. The endpoint's lock is
/// held throughout, so a concurrent stop of the receiver (which needs it) sees all or nothing.
/// The message is looked at here, inline, so that a message too big for the fast path costs
/// its caller a few loads, not a call.
#[inline]
pub fn fast_call(me: &Arc<Tcb>, ep: &Arc<Endpoint>, badge: u64) -> Option<Arc<Tcb>> {
    if !FASTPATH {
        return None;
    }
    let from = me.ipc_pa.load(Ordering::Relaxed);
    let len = fast_message(from)?;
    fast_call_to(me, ep, badge, from, len)
}

#[inline(never)]
fn fast_call_to(me: &Arc<Tcb>, ep: &Arc<Endpoint>, badge: u64, from: u64, len: usize) -> Option<Arc<Tcb>> {
    let prio = me.prio.load(Ordering::Relaxed);
    let mut q = ep.queues.lock();
    if q.closed {
        return None;
    }
    let r = q.receivers.front()?;
    let to = r.ipc_pa.load(Ordering::Relaxed);
    {
        let mut ri = r.inner.lock();
        if to == 0 || !may_switch_to(&ri, prio) {
            return None;
        }
        // Claimed: no other CPU may run it.
        ri.running = true;
    }
    let token = {
        let mut mi = me.inner.lock();
        if mi.state != State::Runnable {
            drop(mi);
            r.inner.lock().running = false;
            return None;
        }
        mi.reply_token = mi.reply_token.wrapping_add(1);
        mi.state = State::Blocked;
        mi.start_waiting(Wait::Reply);
        mi.reply_token
    };
    copy_small(from, to, len, badge);
    let r = q.receivers.pop_front()?;
    {
        let mut ri = r.inner.lock();
        ri.reply_to = Some((me.clone(), token));
        // Already marked running above; `claim` completes the hand-over.
        claim(&r, &mut ri);
    }
    drop(q);
    FAST_CALLS.fetch_add(1, Ordering::Relaxed);
    Some(r)
}

/// `reply_recv`'s fast path: returns the caller to switch to, the reply delivered and the
/// current thread waiting in `ep`; `None` leaves everything to the general path. The caller is
/// checked and committed in one hold of its lock, since a stop of a thread waiting for a reply
/// does not take the endpoint's.
#[inline]
pub fn fast_reply_recv(me: &Arc<Tcb>, ep: &Arc<Endpoint>) -> Option<Arc<Tcb>> {
    if !FASTPATH {
        return None;
    }
    let from = me.ipc_pa.load(Ordering::Relaxed);
    let len = fast_message(from)?;
    fast_reply_recv_to(me, ep, from, len)
}

#[inline(never)]
fn fast_reply_recv_to(me: &Arc<Tcb>, ep: &Arc<Endpoint>, from: u64, len: usize) -> Option<Arc<Tcb>> {
    let prio = me.prio.load(Ordering::Relaxed);
    let mut q = ep.queues.lock();
    if q.closed || !q.senders.is_empty() || q.receivers.try_reserve(1).is_err() {
        return None;
    }
    // This thread first: it waits in the endpoint from now on (nothing can reach it there
    // while the endpoint's lock is held), still owing the reply.
    let (caller, token) = {
        let mut mi = me.inner.lock();
        // A thread with a bound notification takes the general path, which checks the
        // notification before it waits.
        if mi.state != State::Runnable || mi.bound.is_some() {
            return None;
        }
        let owed = mi.reply_to.take()?;
        mi.state = State::Blocked;
        mi.start_waiting(Wait::Recv { ep: ep.clone() });
        owed
    };
    q.receivers.push_back(me.clone());
    let to = caller.ipc_pa.load(Ordering::Relaxed);
    let ok = {
        let mut ci = caller.inner.lock();
        if to != 0 && ci.awaits_reply(token) && may_switch_to(&ci, prio) {
            copy_small(from, to, len, 0);
            claim(&caller, &mut ci);
            true
        } else {
            false
        }
    };
    if !ok {
        // Undo: out of the queue, runnable, still owing the reply.
        drop(q.receivers.pop_back());
        let mut mi = me.inner.lock();
        mi.state = State::Runnable;
        mi.wait = Wait::None;
        mi.reply_to = Some((caller, token));
        return None;
    }
    drop(q);
    FAST_REPLIES.fetch_add(1, Ordering::Relaxed);
    Some(caller)
}

// ---- syscalls ------------------------------------------------------------------------------

use super::quota::{cost, Quota};
use super::{NewCap, Object};
use crate::abi::EndpointSyscalls;
use crate::syscall::{Ctx, C};

impl EndpointSyscalls for Ctx<'_> {
    fn endpoint_call_fast(&mut self, ep: C<'_, Arc<EndpointCap>>) -> Option<Result<(), Status>> {
        let r = fast_call(self.thread, &ep.0, ep.badge)?;
        self.after = crate::syscall::After::SwitchTo(r);
        Some(Ok(()))
    }

    fn endpoint_reply_recv_fast(&mut self, ep: C<'_, Arc<EndpointCap>>) -> Option<Result<(), Status>> {
        let c = fast_reply_recv(self.thread, &ep.0)?;
        self.after = crate::syscall::After::SwitchTo(c);
        Some(Ok(()))
    }

    fn endpoint_create(&mut self, quota: C<'_, Arc<Quota>>) -> Result<NewCap, Status> {
        let charge = quota.charge(cost::ENDPOINT)?;
        let ep = EndpointCap::new(Arc::new(Endpoint::new(Some(charge))?));
        Ok(NewCap::made_with(quota.cap, Object::Endpoint(Arc::new(ep))))
    }

    fn endpoint_call(&mut self, ep: C<'_, Arc<EndpointCap>>) -> Result<(), Status> {
        let t = send(self.thread, &ep.0, ep.badge, true)?;
        self.then(t);
        Ok(())
    }

    fn endpoint_send(&mut self, ep: C<'_, Arc<EndpointCap>>) -> Result<(), Status> {
        let t = send(self.thread, &ep.0, ep.badge, false)?;
        self.then(t);
        Ok(())
    }

    fn endpoint_recv(&mut self, ep: C<'_, Arc<EndpointCap>>) -> Result<(), Status> {
        let t = recv(self.thread, &ep.0)?;
        self.then(t);
        Ok(())
    }

    fn endpoint_save_reply(&mut self, quota: C<'_, Arc<Quota>>) -> Result<NewCap, Status> {
        let charge = quota.charge(cost::REPLY)?;
        let r = super::reply::save(self.thread, charge)?;
        Ok(NewCap::made_with(quota.cap, Object::Reply(Arc::new(r))))
    }

    fn endpoint_reply(&mut self) -> Result<(), Status> {
        reply(self.thread, false).map(drop)
    }

    fn endpoint_reply_recv(&mut self, ep: C<'_, Arc<EndpointCap>>) -> Result<(), Status> {
        // The reply owed (none: only receive) and the bound notification, in one hold of the
        // thread's lock.
        let (owed, bound) = owed_and_bound(self.thread);
        let caller = match owed {
            Some((c, token)) => match answer(self.thread, c, token, true)? {
                Answered::Claimed(c) => Some(c),
                Answered::Woken | Answered::No => None,
            },
            None => None,
        };
        match (recv_bound(self.thread, &ep.0, bound), caller) {
            // Waiting now: run the caller that was answered, straight away.
            (Ok(Then::Block), Some(c)) => self.then(Then::SwitchTo(c)),
            (r, c) => {
                if let Some(c) = c {
                    unclaim(c);
                }
                self.then(r?);
            }
        }
        Ok(())
    }
}
