//! Notification: a word of bits that is signalled asynchronously and waited on, as seL4's
//! notifications are. `signal` ORs bits into the word and never blocks or waits for anyone,
//! which is what makes it the way interrupts (`irq`), the kernel's console (`log`) and other
//! events reach user space. A thread waits with `wait` (the word is returned and cleared), or,
//! when the notification is bound to it (`Tcb.bind_notification`), in `Endpoint.recv`: a
//! signal then ends the receive with a message of label `NOTIFY_LABEL` whose badge is the word,
//! so one server thread waits for requests and interrupts at once.
//!
//! Locks: an endpoint's queue lock, then a notification's lock, then a thread's lock. The
//! bound thread's receive checks the word and queues itself on the endpoint under the
//! notification's lock, and `signal` sets the word and looks at the bound thread under it too,
//! so a signal is never lost between the check and the wait.

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use core::sync::atomic::Ordering;

use spin::{Mutex, MutexGuard};

use super::endpoint;
use super::quota::Charge;
use super::tcb::{self, State, Tcb, Wait};
use crate::abi::types::Status;

pub struct Notification {
    inner: Mutex<Inner>,
    _charge: Option<Charge>,
}

struct Inner {
    word: u64,
    /// Threads in `wait`, first come first woken.
    waiters: VecDeque<Arc<Tcb>>,
    /// The thread this notification is bound to. Weak: a binding does not keep a thread alive.
    bound: Option<Weak<Tcb>>,
    /// The last capability went: nobody can wait any more.
    closed: bool,
}

/// What capabilities to a notification refer to; when the last one goes, waiting threads
/// wake with `PEER_CLOSED`.
pub struct NotificationCap(pub Arc<Notification>, pub super::CapCount);

impl NotificationCap {
    pub fn new(n: Arc<Notification>) -> NotificationCap {
        NotificationCap(n, super::CapCount::default())
    }

    pub fn count(&self) -> &super::CapCount {
        &self.1
    }

    /// The last capability went (the reaper calls this): waiters wake now.
    pub fn close_now(&self) {
        self.0.close();
    }
}

impl Drop for NotificationCap {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Room the waiter queue keeps, paid for with the notification (a waiter's entry beyond it is
/// part of its thread's charge, `cost::QUEUE_ENTRY`).
pub const QUEUE_ROOM: usize = 2;

/// The word under the notification's lock, for `endpoint`'s receive.
pub struct Word<'a>(MutexGuard<'a, Inner>);

impl Word<'_> {
    /// The bits, cleared; 0 if none was set.
    pub fn take(&mut self) -> u64 {
        core::mem::take(&mut self.0.word)
    }
}

impl Notification {
    pub fn new(charge: Option<Charge>) -> Result<Notification, Status> {
        let mut waiters = VecDeque::new();
        waiters.try_reserve_exact(QUEUE_ROOM).map_err(|_| Status::NO_MEMORY)?;
        Ok(Notification {
            inner: Mutex::new(Inner {
                word: 0,
                waiters,
                bound: None,
                closed: false,
            }),
            _charge: charge,
        })
    }

    /// Locks the word (see `Word`).
    pub fn word(&self) -> Word<'_> {
        Word(self.inner.lock())
    }

    /// The thread this notification is bound to, if it lives.
    pub fn bound_thread(&self) -> Option<Arc<Tcb>> {
        let w = self.inner.lock().bound.clone();
        w.and_then(|w| w.upgrade())
    }

    /// Wakes every waiter with PEER_CLOSED; nobody can wait here again.
    fn close(&self) {
        let waiters = {
            let mut g = self.inner.lock();
            g.closed = true;
            core::mem::take(&mut g.waiters)
        };
        for t in waiters {
            let i = t.inner.lock();
            if waits_on(&i.wait, self) {
                tcb::wake(&t, i, Status::PEER_CLOSED);
            }
        }
    }
}

fn waits_on(w: &Wait, n: &Notification) -> bool {
    matches!(w, Wait::Notification { ntfn } if core::ptr::eq(Arc::as_ptr(ntfn), n))
}

fn trim(q: &mut VecDeque<Arc<Tcb>>) {
    if q.capacity() > QUEUE_ROOM && q.len() * 2 <= QUEUE_ROOM {
        q.shrink_to(QUEUE_ROOM);
    }
}

/// `Notification.signal` (and an interrupt, and the kernel console): ORs `bits` into the word
/// and hands the word to the first waiter, or to the bound thread if it waits in a receive.
/// Never blocks; callable from an interrupt handler (which holds no lock).
pub fn signal(n: &Arc<Notification>, bits: u64) {
    let mut g = n.inner.lock();
    if g.closed {
        return;
    }
    g.word |= bits;
    if g.word == 0 {
        return;
    }
    while let Some(t) = g.waiters.pop_front() {
        let i = t.inner.lock();
        if !waits_on(&i.wait, n) {
            // Not reachable: a thread leaves the queue when it stops waiting (`unqueue`).
            continue;
        }
        t.wake_value.store(core::mem::take(&mut g.word), Ordering::Release);
        trim(&mut g.waiters);
        drop(g);
        tcb::wake(&t, i, Status::OK);
        return;
    }
    let Some(t) = g.bound.as_ref().and_then(Weak::upgrade) else {
        return;
    };
    let ep = match &t.inner.lock().wait {
        Wait::Recv { ep } => ep.clone(),
        _ => return,
    };
    drop(g);
    // Looked at again under the endpoint's lock: the thread may have taken a message meanwhile
    // (then the bits wait for its next receive).
    endpoint::notify_receiver(&ep, &t, n);
}

/// `Notification.wait` by the current thread `me`: the word if it is not zero, else the
/// thread blocks until a signal (its syscall then returns the word, `wake_value`).
pub fn wait(me: &Arc<Tcb>, n: &Arc<Notification>) -> Result<Option<u64>, Status> {
    let mut g = n.inner.lock();
    if g.closed {
        return Err(Status::PEER_CLOSED);
    }
    if g.word != 0 {
        return Ok(Some(core::mem::take(&mut g.word)));
    }
    let mut i = me.inner.lock();
    if i.state != State::Runnable {
        return Err(Status::CANCELLED);
    }
    g.waiters.try_reserve(1).map_err(|_| Status::NO_MEMORY)?;
    i.state = State::Blocked;
    i.wait = Wait::Notification { ntfn: n.clone() };
    me.wake_value.store(0, Ordering::Release);
    g.waiters.push_back(me.clone());
    Ok(None)
}

/// `Notification.poll`: the word, cleared.
pub fn poll(n: &Notification) -> u64 {
    core::mem::take(&mut n.inner.lock().word)
}

/// Takes `t` out of `n`'s waiters if it waits there (a thread being stopped).
pub fn unqueue(n: &Arc<Notification>, t: &Arc<Tcb>) {
    let removed = {
        let mut g = n.inner.lock();
        let mut i = t.inner.lock();
        if !waits_on(&i.wait, n) {
            return;
        }
        i.wait = Wait::None;
        drop(i);
        let r = g
            .waiters
            .iter()
            .position(|x| Arc::ptr_eq(x, t))
            .and_then(|p| g.waiters.remove(p));
        trim(&mut g.waiters);
        r
    };
    drop(removed);
}

/// `Tcb.bind_notification`: binds `n` to `t`, replacing what `t` had bound. IN_USE if `n` is
/// bound to another thread that still lives.
pub fn bind(t: &Arc<Tcb>, n: &Arc<Notification>) -> Result<(), Status> {
    let old = {
        let mut g = n.inner.lock();
        if let Some(other) = g.bound.as_ref().and_then(Weak::upgrade) {
            if !Arc::ptr_eq(&other, t) {
                return Err(Status::IN_USE);
            }
        }
        let mut i = t.inner.lock();
        if i.state == State::Dead {
            return Err(Status::BAD_STATE);
        }
        g.bound = Some(Arc::downgrade(t));
        i.bound.replace(n.clone())
    };
    if let Some(old) = old.filter(|o| !Arc::ptr_eq(o, n)) {
        release_binding(&old, t);
    }
    // Bits set before the binding reach a thread already waiting in a receive.
    signal(n, 0);
    Ok(())
}

/// `Tcb.unbind_notification`.
pub fn unbind(t: &Arc<Tcb>) -> Result<(), Status> {
    let old = t.inner.lock().bound.take().ok_or(Status::BAD_STATE)?;
    release_binding(&old, t);
    Ok(())
}

/// Clears `n`'s binding if it names `t` (the thread unbound it, or died).
pub fn release_binding(n: &Arc<Notification>, t: &Arc<Tcb>) {
    let mut g = n.inner.lock();
    if g.bound
        .as_ref()
        .is_some_and(|w| core::ptr::eq(w.as_ptr(), Arc::as_ptr(t)))
    {
        g.bound = None;
    }
}

// ---- syscalls ------------------------------------------------------------------------------

use super::quota::{cost, Quota};
use super::{NewCap, Object};
use crate::abi::NotificationSyscalls;
use crate::syscall::{Ctx, C};

/// The bits a capability with `badge` signals: its badge, or 1 without one.
pub fn bits_of(badge: u64) -> u64 {
    if badge == 0 {
        1
    } else {
        badge
    }
}

impl NotificationSyscalls for Ctx<'_> {
    fn notification_create(&mut self, quota: C<'_, Arc<Quota>>) -> Result<NewCap, Status> {
        let charge = quota.charge(cost::NOTIFICATION)?;
        let n = Arc::new(Notification::new(Some(charge))?);
        Ok(NewCap::made_with(
            quota.cap,
            Object::Notification(Arc::new(NotificationCap::new(n))),
        ))
    }

    fn notification_signal(&mut self, n: C<'_, Arc<NotificationCap>>) -> Result<(), Status> {
        signal(&n.0, bits_of(n.badge));
        Ok(())
    }

    fn notification_wait(&mut self, n: C<'_, Arc<NotificationCap>>) -> Result<u64, Status> {
        // Blocked, the syscall returns the bits its waker hands it (`Tcb::wake_value`).
        match wait(self.thread, &n.0)? {
            Some(bits) => Ok(bits),
            None => {
                self.then(endpoint::Then::Block);
                Ok(0)
            }
        }
    }

    fn notification_poll(&mut self, n: C<'_, Arc<NotificationCap>>) -> Result<u64, Status> {
        Ok(poll(&n.0))
    }
}
