//! names_leak: 10,000 rounds of looking a server up and calling it (then deleting the
//! endpoint), after a warm-up, with everything that could leak measured before and after: the
//! kernel's free frames and heap, this client's quota and CNode slots, and the quota and CNode
//! slots of the name server and of the server (from init, `Supervisor.service`).

#![no_std]
#![no_main]

use anvil::sys::kernel::Cap;
use anvil::sys::system::Supervisor;
use anvil::sys::testing::Store;
use anvil::testing::{Memory, Test};
use anvil::{boot, names, types, Ipc, Quota};

anvil::entry!(main);

const T: Test = Test::new("names_leak");
const ROUNDS: u32 = 10_000;

/// One lookup-and-call round.
fn round() {
    let ep = T.want("lookup", names::lookup("kv_rs"));
    T.assert("call", Store::from_slot(ep.0).get(&mut Ipc, 1) == Ok(99));
    T.want("Cap.delete", Cap::delete(&boot::cnode(), ep.0));
}

/// (quota used, CNode slots used) of service `name`.
fn service(sup: &Supervisor, name: &str) -> (u64, u32) {
    let mut i = 0;
    loop {
        let info = T.want("Supervisor.service", sup.service(&mut Ipc, i));
        let n = info.name.iter().position(|&c| c == 0).unwrap_or(32);
        if &info.name[..n] == name.as_bytes() {
            return (info.quota_used, info.slots_used);
        }
        i += 1;
    }
}

#[derive(Debug, PartialEq)]
struct Figures {
    kernel: Memory,
    slots: u32,
    names: (u64, u32),
    server: (u64, u32),
}

fn figures(sup: &Supervisor) -> Figures {
    Figures {
        kernel: T.want("Debug.memory", Memory::now(&Quota::from_slot(types::BOOT_SLOT_QUOTA))),
        slots: T.want("CNode.info", boot::cnode().info()).1,
        names: service(sup, "names"),
        server: service(sup, "kv_rs"),
    }
}

fn main() -> u64 {
    let sup = Supervisor::from_slot(T.want("lookup supervisor", names::lookup("supervisor")).0);
    let kv = Store::from_slot(T.want("lookup", names::lookup("kv_rs")).0);
    T.want("Store.put", kv.put(&mut Ipc, 1, 99));
    for _ in 0..200 {
        round();
    }
    let before = figures(&sup);
    for _ in 0..ROUNDS {
        round();
    }
    let after = figures(&sup);
    anvil::println!("names_leak: before {before:?}");
    anvil::println!("names_leak: after  {after:?}");
    T.check(
        "10000 lookup-and-call rounds: frames, heap, slots and quotas unchanged (client, name server, server)",
        before == after,
    );
    T.pass()
}
