//! Boot scenarios: each test boots the real kernel in QEMU and checks the serial log and the
//! exit status. `./run.sh test` builds the images first.

use anvil_boot_tests::{check, debug_exit, Scenario};

const FATAL: &[&str] = &["[fatal]"];

fn init_lines() -> &'static [&'static str] {
    &[
        "Anvil kernel booting (pvh boot",
        "cpu: NX true, SMEP true, SMAP true",
        "starting `init` as init",
        "init: hello from user space",
        "init: empty slot refused with INVALID_CAP",
        "init: wrong object type refused with WRONG_TYPE",
        "init: started `hello_rs` from `hello_rs`",
        "init: started `hello_c` from `hello_c`",
        "init: started 6 services, 0 failed",
        "init: done",
    ]
}

#[test]
fn normal_boot_reaches_init() {
    let o = check(
        "normal",
        &Scenario {
            initrd: "initrd.cpio",
            expect: init_lines(),
            ..Default::default()
        },
    );
    if let Some(t) = o.to_init {
        println!("boot to init's first line: {:.0} ms under TCG", t.as_secs_f64() * 1e3);
    }
}

#[test]
fn boots_with_four_cpus() {
    check(
        "smp4",
        &Scenario {
            cpus: 4,
            expect: &["ACPI: 4 CPUs", "init: done"],
            ..Default::default()
        },
    );
}

#[test]
fn boots_with_128_mib() {
    check(
        "mem128",
        &Scenario {
            mem: "128M",
            expect: &["memory: 125 MiB usable RAM", "init: done"],
            ..Default::default()
        },
    );
}

#[test]
fn boots_with_2_gib() {
    check(
        "mem2g",
        &Scenario {
            mem: "2G",
            expect: &["memory: 2045 MiB usable RAM", "init: done"],
            ..Default::default()
        },
    );
}

fn fault(name: &str, append: &str, report: &str) {
    check(
        name,
        &Scenario {
            append,
            expect: &[
                &format!("user fault: process `{name}` thread 1: "),
                report,
                "thread stopped",
                "no runnable threads, idle",
                "memory:",
            ],
            forbid: FATAL,
            ..Default::default()
        },
    );
}

#[test]
fn user_page_fault_is_contained() {
    fault(
        "fault_pf",
        "exit_when_idle init=fault_pf",
        "page fault (#PF) at rip=0x4",
    );
}

#[test]
fn user_ud2_is_contained() {
    fault("fault_ud2", "exit_when_idle init=fault_ud2", "invalid opcode (#UD)");
}

#[test]
fn user_write_to_kernel_is_contained() {
    fault(
        "fault_kwrite",
        "exit_when_idle init=fault_kwrite",
        "accessing 0xffffffff80100000 (write to a protected page)",
    );
}

#[test]
fn user_jump_to_kernel_is_contained() {
    fault(
        "fault_kexec",
        "exit_when_idle init=fault_kexec",
        "rip=0xffffffff80100000 accessing 0xffffffff80100000 (instruction fetch)",
    );
}

#[test]
fn malformed_elf_is_rejected() {
    check(
        "bad_truncated",
        &Scenario {
            append: "exit_when_idle init=bad_truncated",
            expect: &[
                "cannot start init: `bad_truncated` is not a valid program: program headers lie outside the file",
                "idle",
            ],
            ..Default::default()
        },
    );
    check(
        "bad_text",
        &Scenario {
            append: "exit_when_idle init=bad_text",
            expect: &[
                "cannot start init: `bad_text` is not a valid program: not an ELF file",
                "idle",
            ],
            ..Default::default()
        },
    );
}

#[test]
fn missing_init_is_reported() {
    check(
        "no_init",
        &Scenario {
            append: "exit_when_idle init=nonexistent",
            expect: &["initrd has no `nonexistent`"],
            ..Default::default()
        },
    );
}

#[test]
fn kernel_panic_fails_the_run_with_location() {
    check(
        "panic",
        &Scenario {
            append: "exit_when_idle ktest=panic",
            expect: &[
                "[fatal] KERNEL PANIC at src/main.rs:",
                "test panic requested on the command line",
                "kernel halted",
            ],
            forbid: &[],
            exit: debug_exit(1),
            ..Default::default()
        },
    );
}

#[test]
fn kernel_page_fault_is_reported_with_registers() {
    check(
        "kernel_pf",
        &Scenario {
            append: "exit_when_idle ktest=page_fault",
            expect: &[
                "[fatal] KERNEL page fault (#PF) (vector 14)",
                "cr2=0xffff9000dead0000",
                "rip=0xffffffff8",
                "rax=",
                "r15=",
                "kernel halted",
            ],
            forbid: &[],
            exit: debug_exit(1),
            ..Default::default()
        },
    );
}

#[test]
fn kernel_stack_overflow_hits_the_guard_page() {
    check(
        "stack_overflow",
        &Scenario {
            append: "exit_when_idle ktest=stack_overflow",
            expect: &[
                "[fatal] KERNEL double fault (#DF) (vector 8)",
                "guard page",
                "kernel halted",
            ],
            forbid: &[],
            exit: debug_exit(1),
            ..Default::default()
        },
    );
}

#[test]
fn every_object_syscall_succeeds_and_checks_out() {
    check(
        "cap_test",
        &Scenario {
            append: "exit_when_idle init=cap_test",
            expect: &[
                "cap_test: ok rights cannot grow through a copy",
                "cap_test: ok revoke removes the copy of the copy",
                "cap_test: ok new thread ran with its argument",
                "cap_test: ok preemption lets a resumed thread run while this one spins",
                "cap_test: ok allocator returns to its starting use after churn",
                "cap_test: ok formatting",
                "cap_test: ok every charge returned to the quota",
                "cap_test: PASS",
            ],
            forbid: &["[fatal]", "cap_test: FAIL", "user fault"],
            ..Default::default()
        },
    );
}

#[test]
fn hostile_calls_get_documented_errors_and_leak_nothing() {
    check(
        "hostile",
        &Scenario {
            append: "exit_when_idle init=hostile",
            expect: &[
                "syscalls attacked, ",
                " 0 failures",
                "hostile: system still works: true",
                "hostile: PASS",
            ],
            forbid: &["[fatal]", "hostile: FAIL", "user fault"],
            ..Default::default()
        },
    );
}

/// Boots `smp_test` on `cpus` CPUs; `middle` are the lines expected between the pinning
/// checks and the stress test (stealing, preemption, the unmap under a reader).
fn smp_test(name: &str, cpus: u32, middle: &[&'static str]) {
    let mut expect: Vec<&str> = vec![
        "smp_test: ok every CPU ran user code",
        "smp_test: ok pinned thread ran only on its CPU",
    ];
    expect.extend_from_slice(middle);
    expect.extend_from_slice(&[
        "smp_test: ok no stress operation lost or duplicated",
        "smp_test: ok no frame or capability leaked",
        "smp_test: PASS",
    ]);
    check(
        name,
        &Scenario {
            cpus,
            append: "exit_when_idle init=smp_test",
            expect: &expect,
            forbid: &["[fatal]", "smp_test: FAIL"],
            ..Default::default()
        },
    );
}

const NO_STARVING: &str = "smp_test: ok a CPU-bound thread does not starve another on its CPU";

#[test]
fn smp_on_one_cpu() {
    smp_test("smp_test_1", 1, &[NO_STARVING]);
}

#[test]
fn smp_on_two_cpus() {
    smp_test(
        "smp_test_2",
        2,
        &[
            "smp_test: ok an idle CPU stole the unpinned thread",
            NO_STARVING,
            "page fault (#PF)",
            "accessing 0x61000000 (read of an unmapped page)",
            "smp_test: ok the reader faulted and stopped after the unmap",
            "smp_test: ok a thread suspended on another CPU stopped before the call returned",
            "smp_test: ok a thread whose last capability was deleted stopped before the call returned",
        ],
    );
}

#[test]
fn smp_on_four_cpus() {
    smp_test(
        "smp_test_4",
        4,
        &[
            "smp_test: thread pinned to cpu 3 ran on mask 0x8",
            "smp_test: ok an idle CPU stole the unpinned thread",
            NO_STARVING,
            "smp_test: ok the reader faulted and stopped after the unmap",
            "smp_test: ok a thread suspended on another CPU stopped before the call returned",
            "smp_test: ok a thread whose last capability was deleted stopped before the call returned",
        ],
    );
}

#[test]
fn capability_and_hostile_tests_pass_on_four_cpus() {
    for (name, program) in [("cap_test_smp4", "cap_test"), ("hostile_smp4", "hostile")] {
        let append = format!("exit_when_idle init={program}");
        let pass = format!("{program}: PASS");
        check(
            name,
            &Scenario {
                cpus: 4,
                append: &append,
                expect: &[&pass],
                forbid: &["[fatal]", "FAIL"],
                ..Default::default()
            },
        );
    }
}

#[test]
fn init_reports_bad_manifest_entries_and_starts_the_rest() {
    let o = check(
        "manifest_errors",
        &Scenario {
            expect: &[
                "init: started `hello_rs` from `hello_rs`",
                "init: manifest line 4: binary `no_such_binary` is not in the archive; skipped",
                "init: manifest line 5: `bad_truncated` is not a valid program: program headers lie outside the file; skipped",
                "init: manifest line 6: unknown capability grant `superpowers`",
                "init: manifest line 7: unknown directive `frobnicate`",
                "init: started `hello_c` from `hello_c`",
                "init: started 6 services, 4 failed",
            ],
            ..Default::default()
        },
    );
    for line in ["hello_c: hello from C", "hello_rs: hello from Rust"] {
        assert!(o.log.contains(line), "missing {line:?} in:\n{}", o.log);
    }
}

#[test]
fn c_runtime_malloc_printf_and_every_stub() {
    check(
        "c_test",
        &Scenario {
            append: "exit_when_idle init=c_test",
            expect: &[
                "c_test: ok malloc contents survive churn",
                "c_test: ok freed memory is reused (no growth in the second churn)",
                "c_test: ok printf formats",
                "c_test: ok every syscall stub answers as documented",
                "c_test: PASS",
            ],
            forbid: &["[fatal]", "c_test: FAIL", "user fault"],
            ..Default::default()
        },
    );
}

/// A C client calls a Rust server and a Rust client calls a C server over the generated
/// Console stubs; each server sees its client's badge.
fn ipc_across_languages(name: &str, cpus: u32) {
    let o = check(
        name,
        &Scenario {
            cpus,
            initrd: "initrd.cpio",
            ..Default::default()
        },
    );
    for line in [
        "console_rs: client 9 wrote \"hello from a C client\"",
        "ipc_client_c: write status 0, server took 21 bytes",
        "ipc_client_c: read status 0, \"pong from Rust\"",
        "console_c: client 11 wrote \"hello from a Rust client\"",
        "ipc_client_rs: server took 24 bytes",
        "ipc_client_rs: read \"pong from C\"",
    ] {
        assert!(o.log.contains(line), "missing {line:?} in:\n{}", o.log);
    }
}

#[test]
fn ipc_c_client_rust_server_and_back() {
    ipc_across_languages("ipc", 1);
}

#[test]
fn ipc_across_cpus() {
    ipc_across_languages("ipc_smp4", 4);
}

/// The benchmark service runs and prints a figure for every operation (figures are not
/// asserted: a benchmark is not a test).
#[test]
fn benchmarks_print_figures() {
    let o = check(
        "bench",
        &Scenario {
            cpus: 2,
            append: "exit_when_idle init=bench",
            expect: &[
                "bench: null syscall (Tcb.current_cpu): ",
                "bench: IPC round trip, same CPU (call + reply_recv): ",
                "bench: IPC round trip, across CPUs: ",
                "bench: Cap.copy + Cap.delete: ",
                "bench: VSpace.map + VSpace.unmap (one page): ",
                "bench: thread create + start + exit: ",
                "bench: done",
            ],
            ..Default::default()
        },
    );
    for line in o.log.lines().filter(|l| l.starts_with("bench:")) {
        println!("{line}");
    }
}

/// The statuses one hostile client printed, by case: `probe_client[<lang>]: <case>: <status>`.
fn probe_cases(log: &str, lang: &str) -> Vec<(String, String)> {
    let prefix = format!("probe_client[{lang}]: ");
    log.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| l.split_once(": "))
        .map(|(case, status)| (case.to_string(), status.to_string()))
        .collect()
}

/// A C and a Rust server of the same protocol get the same hostile requests: capabilities of
/// the wrong type or lacking a right, undeclared enum values and bits, `bool` = 2, invalid
/// UTF-8, malformed and misaddressed messages, an endpoint of the wrong protocol. Their
/// generated dispatches must answer with the same, documented statuses and keep serving.
/// 10,000 calls carrying 4 capabilities each leave each server's CNode as full as before
/// (issue 9); a capability a handler takes stays. The generated clients (Rust and C) send no
/// stale bytes, and never mistake a method's own error for a transport status.
#[test]
fn generated_servers_refuse_hostile_requests_alike() {
    let o = check(
        "probe",
        &Scenario {
            initrd: "probe-initrd.cpio",
            expect: &["init: done"],
            forbid: &["[fatal]", "user fault", "panic"],
            ..Default::default()
        },
    );
    let expected: &[(&str, &str)] = &[
        ("good request", "Ok((4096, 5))"),
        ("capability of the wrong type", "WRONG_TYPE"),
        ("capability without READ", "ACCESS_DENIED"),
        ("enum value 77", "INVALID_ARGS"),
        ("undeclared bits 0x80000000", "INVALID_ARGS"),
        ("bool = 2", "INVALID_ARGS"),
        ("invalid UTF-8", "INVALID_ARGS"),
        ("string longer than its bound", "INVALID_ARGS"),
        ("message shorter than the request", "INVALID_ARGS"),
        ("capability missing", "INVALID_ARGS"),
        ("unknown ordinal", "UNKNOWN_METHOD"),
        ("request of another protocol", "UNKNOWN_METHOD"),
        ("raw good request", "OK"),
        ("relay to an Echo endpoint", "Ok(42)"),
        ("relay to an endpoint of the wrong protocol", "UNKNOWN_METHOD"),
        ("reply label 1 << 32", "Status(INVALID_ARGS)"),
        ("lookup 7", "Ok(49)"),
        ("lookup 8", "Method(MISSING)"),
        ("lookup on an empty slot", "Status(INVALID_CAP)"),
        ("own error and transport status apart", "true"),
        ("still serving", "Ok((4096, 5))"),
        ("unused request bytes zero", "Ok(true)"),
        ("a kept capability", "OK; slots used 1"),
        ("done", ""),
    ];
    let c = probe_cases(&o.log, "C");
    let rust = probe_cases(&o.log, "Rust");
    for (lang, cases) in [("C", &c), ("Rust", &rust)] {
        for (case, status) in expected {
            let got = cases.iter().find(|(c, _)| c == case).map(|(_, s)| s.as_str());
            if !status.is_empty() {
                assert_eq!(got, Some(*status), "{lang} server, case `{case}`:\n{}", o.log);
            }
        }
    }
    let statuses = |v: &Vec<(String, String)>| -> Vec<(String, String)> {
        v.iter()
            .filter(|(c, _)| !c.starts_with("10000 calls"))
            .cloned()
            .collect()
    };
    assert_eq!(
        statuses(&c),
        statuses(&rust),
        "the C and Rust servers answered differently"
    );
    for (lang, cases) in [("C", &c), ("Rust", &rust)] {
        let carry = cases
            .iter()
            .find(|(c, _)| c.starts_with("10000 calls carrying 4 capabilities"))
            .map(|(_, s)| s.as_str())
            .unwrap_or_else(|| panic!("{lang}: no capability-carrying result in:\n{}", o.log));
        let (failed, slots) = carry.split_once("; ").unwrap_or_default();
        assert_eq!(failed, "0 failed", "{lang}: {carry}");
        let (before, after) = slots
            .strip_prefix("server CNode slots used before ")
            .and_then(|s| s.split_once(", after "))
            .unwrap_or_else(|| panic!("{lang}: {carry}"));
        assert_eq!(before, after, "{lang}: the server's CNode use grew: {carry}");
        println!("{lang} server: {carry}");
    }
    for lang in ["C", "Rust"] {
        let line = format!(
            "probe_client_c[{lang}]: zeros status 0 clean 1; lookup 8: status 0 error 1; lookup on an empty slot: \
             status 1 error 0; lookup 7: status 0 error 0 value 49; reply label 1 << 32: status 4 error 0; wrong \
             cap type: status 2; check: status 0 size 4096 name 5"
        );
        assert!(o.log.contains(&line), "missing {line:?} in:\n{}", o.log);
    }
}
