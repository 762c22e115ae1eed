//! Reply: the right to answer one call later. A server thread that received a call owes its
//! caller a reply (`TcbInner::reply_to`); `Endpoint.save_reply` moves that debt into a `Reply`
//! object in the server's CNode, so the thread can serve other callers (a console `read` that
//! waits for a key, a name `lookup` that waits for the name) and answer with `Reply.send` when
//! it can. This is seL4's reply capability (its `SaveCaller`, later reply objects).
//!
//! A `Reply` dropped before it was sent (deleted, or freed with its server's CNode when the
//! server dies) wakes the caller with `PEER_CLOSED`, as a server that dies holding a call does.
//!
//! A `Reply` holds its caller weakly: a server that keeps replies of clients that were killed
//! must not keep their threads (kernel stacks, quota charges) alive; `Reply.waiting` lets it
//! find and delete such replies.

use alloc::sync::{Arc, Weak};

use spin::Mutex;

use super::endpoint;
use super::quota::Charge;
use super::tcb::Tcb;
use crate::abi::types::Status;

pub struct Reply {
    /// The caller and the token of its call; `None` once sent.
    caller: Mutex<Option<(Weak<Tcb>, u64)>>,
    _charge: Option<Charge>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some((c, token)) = self.caller.get_mut().take() {
            if let Some(c) = c.upgrade() {
                endpoint::abandon_reply(&c, token);
            }
        }
    }
}

/// `Endpoint.save_reply` by `me`: its reply debt as a new `Reply` (charged with `charge`).
/// BAD_STATE if it owes none.
pub fn save(me: &Tcb, charge: Charge) -> Result<Reply, Status> {
    let (caller, token) = me.inner.lock().reply_to.take().ok_or(Status::BAD_STATE)?;
    Ok(Reply {
        caller: Mutex::new(Some((Arc::downgrade(&caller), token))),
        _charge: Some(charge),
    })
}

/// `Reply.send` by `me`: its message goes to the saved caller; PEER_CLOSED if that no longer
/// waits for it.
pub fn send(me: &Arc<Tcb>, r: &Reply) -> Result<(), Status> {
    let (caller, token) = r.caller.lock().take().ok_or(Status::BAD_STATE)?;
    let caller = caller.upgrade().ok_or(Status::PEER_CLOSED)?;
    match endpoint::answer(me, caller, token, false)? {
        endpoint::Answered::No => Err(Status::PEER_CLOSED),
        _ => Ok(()),
    }
}

/// `Endpoint.save_reply` could not place `r` (the server's CNode is full): the reply debt goes
/// back to `me`, which took it, so that dropping `r` does not end the call.
pub fn give_back(me: &Tcb, r: &Reply) {
    let Some((caller, token)) = r.caller.lock().take() else {
        return;
    };
    let Some(caller) = caller.upgrade() else { return };
    let mut i = me.inner.lock();
    if i.reply_to.is_none() {
        i.reply_to = Some((caller, token));
        return;
    }
    drop(i);
    endpoint::abandon_reply(&caller, token);
}

/// `Reply.waiting`: the caller is alive and waits for this reply.
pub fn waiting(r: &Reply) -> bool {
    // The weak reference is upgraded and dropped outside the reply's lock (dropping the last
    // reference to a thread frees memory).
    let Some((caller, token)) = r.caller.lock().clone() else {
        return false;
    };
    let Some(caller) = caller.upgrade() else { return false };
    let waits = caller.inner.lock().awaits_reply(token);
    waits
}

// ---- syscalls ------------------------------------------------------------------------------

use crate::abi::ReplySyscalls;
use crate::syscall::{Ctx, C};

impl ReplySyscalls for Ctx<'_> {
    fn reply_send(&mut self, reply: C<'_, Arc<Reply>>) -> Result<(), Status> {
        send(self.thread, &reply)
    }

    fn reply_waiting(&mut self, reply: C<'_, Arc<Reply>>) -> Result<bool, Status> {
        Ok(waiting(&reply))
    }
}
