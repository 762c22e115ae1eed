//! policy_test: its manifest line provides `allowed` and uses `allowed` and `kv_c`; everything
//! else it asks the name server for must be `ACCESS_DENIED`.

#![no_std]
#![no_main]

use anvil::sys::kernel::Cap;
use anvil::{boot, names, println, types, Endpoint, Quota, Status};

anvil::entry!(main);

fn main() -> u64 {
    let Ok(ep) = Endpoint::create(&Quota::from_slot(types::BOOT_SLOT_QUOTA)) else {
        println!("policy_test: FAIL Endpoint.create");
        return 1;
    };
    let found = |r: Result<anvil::Endpoint, Status>| {
        r.map(|e| {
            let _ = Cap::delete(&boot::cnode(), e.0);
        })
    };
    type Case<'a> = (&'a str, Result<(), Status>, Result<(), Status>);
    let cases: [Case; 7] = [
        (
            "register `allowed` (provides=allowed)",
            names::register("allowed", &ep),
            Ok(()),
        ),
        (
            "register `forbidden` (not provided)",
            names::register("forbidden", &ep),
            Err(Status::ACCESS_DENIED),
        ),
        (
            "register `console` (the IO server's)",
            names::register("console", &ep),
            Err(Status::ACCESS_DENIED),
        ),
        (
            "look up `allowed` (uses=allowed)",
            found(names::try_lookup("allowed")),
            Ok(()),
        ),
        (
            "look up `secret` (not used)",
            found(names::try_lookup("secret")),
            Err(Status::ACCESS_DENIED),
        ),
        (
            "look up `supervisor` (not used)",
            found(names::lookup("supervisor")),
            Err(Status::ACCESS_DENIED),
        ),
        (
            "look up `kv_c` (used, nobody registered it)",
            found(names::try_lookup("kv_c")),
            Err(Status::NOT_FOUND),
        ),
    ];
    let mut failed = 0;
    for (what, got, want) in cases {
        if got == want {
            println!("policy_test: ok {what}: {got:?}");
        } else {
            println!("policy_test: FAIL {what}: got {got:?}, expected {want:?}");
            failed += 1;
        }
    }
    println!("policy_test: done, {failed} failed");
    failed
}
