//! probe_client: a hostile client of a `Probe` server (the C one or the Rust one: whichever its
//! manifest line names `probe`, `uses=probe=NAME`). It sends the same bad requests to either: a capability of the wrong
//! type, one lacking a right, an undeclared enum value and bits, `bool` = 2, invalid UTF-8,
//! malformed and misaddressed messages, an endpoint of the wrong protocol, and a reply label
//! beyond 32 bits. It prints one line per case with the status it got; the boot test checks
//! that both servers give the same statuses, the expected ones, and still serve afterwards.
//! Then 10,000 calls carrying 4 capabilities each, with the server's CNode use compared
//! before and after, and the stale-bytes check of the generated client.

#![no_std]
#![no_main]

use core::fmt::Debug;

use anvil::sys::abi::{AnyCap, CallError, Message, Transport};
use anvil::sys::kernel::Cap;
use anvil::sys::testing::*;
use anvil::{boot, println, types, Endpoint, Ipc, MapFlags, Quota, Rights, Status, Tcb, Vmo};

anvil::entry!(main);

/// The endpoint a helper process offered the server for `kind` (1: an Echo server, 2: a
/// server of another protocol), once it has.
fn helper(probe: &Probe, kind: u8) -> Result<AnyCap, Status> {
    for _ in 0..100_000 {
        match probe.helper(&mut Ipc, kind) {
            Err(Status::NOT_FOUND) => {
                let _ = Tcb::yield_now();
            }
            r => return r,
        }
    }
    Err(Status::NOT_FOUND)
}

/// Sends a `check` request built by hand, so that fields can hold what no typed stub sends.
fn raw_check(probe: &Probe, label: u64, q: &ProbeCheckRequest, caps: &[u64], data_len: u32) -> Status {
    let mut ipc = Ipc;
    let m = ipc.message();
    m.clear();
    m.write(q);
    m.label = label;
    m.data_len = data_len;
    m.cap_count = caps.len() as u32;
    m.caps[..caps.len()].copy_from_slice(caps);
    if let Err(e) = Endpoint::from_slot(probe.0).call() {
        return e;
    }
    let m = ipc.message();
    for i in 0..(m.cap_count as usize).min(m.caps.len()) {
        let _ = Cap::delete(&boot::cnode(), m.caps[i]);
    }
    if m.label <= u64::from(u32::MAX) {
        Status(m.label as u32)
    } else {
        Status::INVALID_ARGS
    }
}

/// The status of a result, as printed: `OK` or the error.
fn code<T, E: Debug>(r: &Result<T, E>) -> impl Debug + '_ {
    struct Show<'a, T, E>(&'a Result<T, E>);
    impl<T, E: Debug> Debug for Show<'_, T, E> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self.0 {
                Ok(_) => f.write_str("OK"),
                Err(e) => e.fmt(f),
            }
        }
    }
    Show(r)
}

fn main() -> u64 {
    let probe = match anvil::names::lookup("probe") {
        Ok(ep) => Probe::from_slot(ep.0),
        Err(e) => {
            println!("probe_client: lookup of `probe` failed: {e:?}");
            return 1;
        }
    };
    let quota = Quota::from_slot(types::BOOT_SLOT_QUOTA);
    // The helpers offer their endpoints first, so that the server's CNode use below counts
    // only what this client does.
    let (Ok(echo), Ok(wrong), Ok(vmo)) = (
        helper(&probe, 1),
        helper(&probe, 2),
        Vmo::create(&quota, types::PAGE_SIZE),
    ) else {
        println!("probe_client: setup failed");
        return 1;
    };
    let mut lang = [0u8; 8];
    let (lang_len, used_before) = match probe.info(&mut Ipc, &mut lang) {
        Ok(x) => x,
        Err(e) => {
            println!("probe_client: info failed: {e:?}");
            return 1;
        }
    };
    let name = lang;
    let tag = core::str::from_utf8(&name[..lang_len]).unwrap_or("?");
    // A VMO capability that may be granted but not read.
    const GRANT_ONLY: u64 = 200;
    let _ = Cap::copy(&boot::cnode(), vmo.0, &boot::cnode(), GRANT_ONLY, Rights::GRANT);
    let rw = MapFlags::R | MapFlags::W;
    let report = |case: &str, status: &dyn Debug| println!("probe_client[{tag}]: {case}: {status:?}");

    let r = probe.check(&mut Ipc, &vmo, Shape::CIRCLE, rw, true, "probe");
    report("good request", &r);
    let r = probe.check(&mut Ipc, &Vmo::from_slot(echo.0), Shape::CIRCLE, rw, true, "x");
    report("capability of the wrong type", &code(&r));
    let r = probe.check(&mut Ipc, &Vmo::from_slot(GRANT_ONLY), Shape::CIRCLE, rw, true, "x");
    report("capability without READ", &code(&r));
    let r = probe.check(&mut Ipc, &vmo, Shape(77), rw, true, "x");
    report("enum value 77", &code(&r));
    let r = probe.check(&mut Ipc, &vmo, Shape::SQUARE, MapFlags(0x8000_0000), true, "x");
    report("undeclared bits 0x80000000", &code(&r));

    let good = {
        let mut q = ProbeCheckRequest::zeroed();
        q.shape = Shape::CIRCLE;
        q.flags = rw;
        q.on = 1;
        q.name_len = 1;
        q.name[0] = b'x';
        q
    };
    let size = PROBE_CHECK_REQUEST_SIZE;
    let mut q = good;
    q.on = 2;
    report("bool = 2", &raw_check(&probe, PROBE_CHECK_LABEL, &q, &[vmo.0], size));
    let mut q = good;
    q.name_len = 2;
    q.name[..2].copy_from_slice(&[0xC3, 0x28]);
    report(
        "invalid UTF-8",
        &raw_check(&probe, PROBE_CHECK_LABEL, &q, &[vmo.0], size),
    );
    let mut q = good;
    q.name_len = 17;
    report(
        "string longer than its bound",
        &raw_check(&probe, PROBE_CHECK_LABEL, &q, &[vmo.0], size),
    );
    report(
        "message shorter than the request",
        &raw_check(&probe, PROBE_CHECK_LABEL, &good, &[vmo.0], 3),
    );
    report(
        "capability missing",
        &raw_check(&probe, PROBE_CHECK_LABEL, &good, &[], size),
    );
    let unknown = (u64::from(PROBE_PROTOCOL_ID) << 32) | 99;
    report("unknown ordinal", &raw_check(&probe, unknown, &good, &[vmo.0], size));
    report(
        "request of another protocol",
        &raw_check(&probe, ECHO_ECHO_LABEL, &good, &[vmo.0], size),
    );
    report(
        "raw good request",
        &raw_check(&probe, PROBE_CHECK_LABEL, &good, &[vmo.0], size),
    );

    let r = probe.relay(&mut Ipc, &Echo::from_slot(echo.0), 42);
    report("relay to an Echo endpoint", &r);
    let r = probe.relay(&mut Ipc, &Echo::from_slot(wrong.0), 42);
    report("relay to an endpoint of the wrong protocol", &code(&r));
    // The wrong-protocol helper is a C Console server whose handler table is all NULL: a
    // Console request reaches its generated dispatch, which must refuse it, not jump to NULL.
    let r = anvil::sys::console::Console::from_slot(wrong.0).write(&mut Ipc, b"x");
    report("a handler left NULL in a C server", &code(&r));
    // The server's test hook answers key 1000 with the label 1 << 32.
    let r = probe.lookup(&mut Ipc, 1000);
    report("reply label 1 << 32", &code(&r));

    let r = probe.lookup(&mut Ipc, 7);
    report("lookup 7", &r);
    let r = probe.lookup(&mut Ipc, 8);
    report("lookup 8", &code(&r));
    let r = Probe::from_slot(201).lookup(&mut Ipc, 7);
    report("lookup on an empty slot", &code(&r));
    let own_error_apart = matches!(probe.lookup(&mut Ipc, 8), Err(CallError::Method(LookupResult::MISSING)))
        && matches!(
            Probe::from_slot(201).lookup(&mut Ipc, 8),
            Err(CallError::Status(Status::INVALID_CAP))
        );
    report("own error and transport status apart", &own_error_apart);

    let r = probe.check(&mut Ipc, &vmo, Shape::SQUARE, MapFlags::R, false, "still");
    report("still serving", &r);

    // Capabilities that arrive with requests are deleted after the handler (issue 9.6).
    let caps: [Vmo; 4] = core::array::from_fn(|_| Vmo::create(&quota, types::PAGE_SIZE).unwrap_or(vmo));
    let mut failed = 0u32;
    for _ in 0..10_000 {
        if probe.carry(&mut Ipc, &caps[0], &caps[1], &caps[2], &caps[3]).is_err() {
            failed += 1;
        }
    }
    let used_after = probe.info(&mut Ipc, &mut lang).map_or(0, |(_, u)| u);
    println!(
        "probe_client[{tag}]: 10000 calls carrying 4 capabilities: {failed} failed; server CNode slots used before {used_before}, after {used_after}"
    );
    let kept = probe.keep(&mut Ipc, &caps[0]);
    let used_kept = probe.info(&mut Ipc, &mut lang).map_or(0, |(_, u)| u);
    println!(
        "probe_client[{tag}]: a kept capability: {:?}; slots used {}",
        code(&kept),
        i64::from(used_kept) - i64::from(used_after)
    );

    // Stale bytes: garbage in the IPC buffer must not reach the server.
    let mut ipc = Ipc;
    let m = ipc.message();
    // SAFETY: `Message` is plain data (integers and byte arrays), so any bytes are a valid
    // value; the pointer comes from the exclusive reference just taken.
    unsafe { core::ptr::write_bytes(m as *mut Message as *mut u8, 0xAA, core::mem::size_of::<Message>()) };
    let r = probe.zeros(&mut Ipc, 1, 2, b"abc");
    report("unused request bytes zero", &r);
    println!("probe_client[{tag}]: done");
    0
}
