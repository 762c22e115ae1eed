//! Boot scenarios: each test boots the real kernel in QEMU and checks the serial log and the
//! exit status. `./run.sh test` builds the images first.

use anvil_boot_tests::{build_dir, check, debug_exit, Scenario};

const FATAL: &[&str] = &["[fatal]"];

/// The `service NAME BINARY ...` lines of a manifest in a built boot image (`initrd` or
/// `test-initrd`), as (name, binary): what init is expected to start, however many there are.
fn manifest_services(image: &str) -> Vec<(String, String)> {
    let path = build_dir().join(image).join("manifest");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `./run.sh build` first)", path.display()));
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 3 && w[0] == "service").then(|| (w[1].to_string(), w[2].to_string()))
        })
        .collect()
}

/// What a normal boot prints, in order: the kernel's lines, init's checks, one line per
/// service of the manifest, and the count.
fn init_lines() -> Vec<String> {
    let services = manifest_services("initrd");
    let mut lines: Vec<String> = [
        "Anvil kernel booting (pvh boot",
        "cpu: NX true, SMEP true, SMAP true",
        "fpu: ",
        "starting `init` as init",
        "init: hello from user space",
        "init: empty slot refused with INVALID_CAP",
        "init: wrong object type refused with WRONG_TYPE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    lines.extend(
        services
            .iter()
            .map(|(name, bin)| format!("init: started `{name}` from `{bin}`")),
    );
    lines.push(format!("init: started {} services, 0 failed", services.len()));
    lines.push("init: done".to_string());
    lines
}

#[test]
fn normal_boot_reaches_init() {
    let lines = init_lines();
    let expect: Vec<&str> = lines.iter().map(String::as_str).collect();
    let o = check(
        "normal",
        &Scenario {
            initrd: "initrd.cpio",
            expect: &expect,
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

/// Boots with `mem` of RAM: the end of RAM from the firmware's memory map is exact; the usable
/// RAM is what is left after the kernel image and the boot archive, so its figure moves with
/// their sizes and is checked against a range (it must not lose more than the kernel's 16 MiB
/// and the archive).
fn boots_with_memory(name: &str, mem: &str, mem_mib: u64, ram_end: &str) {
    let o = check(
        name,
        &Scenario {
            mem,
            expect: &["MiB usable RAM", ram_end, "init: done"],
            ..Default::default()
        },
    );
    let archive = std::fs::metadata(build_dir().join("test-initrd.cpio")).map_or(0, |m| m.len());
    let usable: u64 = o
        .log
        .split(" MiB usable RAM")
        .next()
        .and_then(|s| s.rsplit("memory: ").next())
        .and_then(|n| n.trim().parse().ok())
        .expect("the kernel logs its usable RAM");
    let lowest = mem_mib - 16 - archive.div_ceil(1 << 20);
    assert!(
        (lowest..mem_mib).contains(&usable),
        "{usable} MiB usable of {mem_mib} MiB, expected {lowest}..{mem_mib} (archive {archive} bytes)"
    );
}

#[test]
fn boots_with_128_mib() {
    boots_with_memory("mem128", "128M", 128, "RAM ends at 0x7fdf000");
}

#[test]
fn boots_with_2_gib() {
    boots_with_memory("mem2g", "2G", 2048, "RAM ends at 0x7ffdf000");
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
fn smp_test(name: &str, cpus: u32, middle: &[&'static str]) -> anvil_boot_tests::Outcome {
    let mut expect: Vec<&str> = vec![
        "smp_test: ok every CPU ran user code",
        "smp_test: ok pinned thread ran only on its CPU",
    ];
    expect.extend_from_slice(middle);
    expect.extend_from_slice(&[
        "smp_test: ok no stress operation lost or duplicated",
        "smp_test: ok no frame, heap, quota or capability leaked",
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
    )
}

const NO_STARVING: &str = "smp_test: ok a CPU-bound thread does not starve another on its CPU";

#[test]
fn smp_on_one_cpu() {
    smp_test("smp_test_1", 1, &[NO_STARVING]);
}

#[test]
fn smp_on_two_cpus() {
    let o = smp_test(
        "smp_test_2",
        2,
        &[
            "smp_test: ok an idle CPU stole the unpinned thread",
            NO_STARVING,
            "smp_test: ok the reader faulted and stopped after the unmap",
            "smp_test: ok a thread suspended on another CPU stopped before the call returned",
            "smp_test: ok a thread whose last capability was deleted stopped before the call returned",
        ],
    );
    // The kernel's line about the reader's fault: printed by the reader's CPU once the reader is
    // stopped, so before or after smp_test's own line about it.
    assert!(
        o.log.contains("page fault (#PF) at rip=") && o.log.contains("accessing 0x61000000 (read of an unmapped page)"),
        "{}",
        o.log
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
    // services/tests/manifest: three `service` lines that must fail (a missing binary, a broken
    // ELF, an unknown grant) and an unknown directive; every other service line starts.
    let good = manifest_services("test-initrd").len() - 3;
    let count = format!("init: started {good} services, 4 failed");
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
                &count,
            ],
            ..Default::default()
        },
    );
    for line in ["hello_c: hello from C", "hello_rs: hello from Rust"] {
        assert!(o.log.contains(line), "missing {line:?} in:\n{}", o.log);
    }
    // Init is every service's fault endpoint: a fault and an exit reach it as reports.
    for line in [
        "fault_pf: reading unmapped address 0x10000000",
        "reported to its fault endpoint",
        "init: crasher faulted: page fault at 0x10000000 rip 0x",
        "init: hello_rs exited with code 0",
    ] {
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
                "c_test: ok printf flags, integer precision and floating point",
                // The serial log is read as UTF-8 with replacement characters.
                "c_test: bytes \u{FFFD}\u{FFFD}\u{FFFD} are not UTF-8",
                "c_test: ok every syscall stub answers as documented",
                "c_test: PASS",
            ],
            forbid: &["[fatal]", "c_test: FAIL", "user fault"],
            ..Default::default()
        },
    );
}

/// `fpu_test` on `cpus` CPUs of QEMU's CPU `model`: new threads start clean; every x87, SSE
/// and (with XSAVE) AVX register survives preemption on one CPU and moves between CPUs;
/// float, double and long double results match precomputed values.
fn fpu_test(name: &str, cpus: u32, model: &str) {
    let xsave = !model.contains("-xsave");
    let group = if cpus > 1 {
        "threads across CPUs"
    } else {
        "threads suspended and resumed"
    };
    let mut lines: Vec<String> = vec![
        if xsave {
            "fpu: XSAVE, components 0x7 (x87, SSE, AVX)".into()
        } else {
            "fpu: FXSAVE, components 0x3 (x87, SSE)".into()
        },
        format!(
            "fpu_test: {cpus} CPUs, AVX {}",
            if xsave { "in use" } else { "not in use" }
        ),
        "fpu_test: ok printf %f %e %g".into(),
        "fpu_test: ok a new thread starts with a clean FPU state (x87, SSE, AVX), not its creator's".into(),
    ];
    for g in ["two threads on one CPU", group] {
        lines.push(format!(
            "fpu_test: ok {g}: every register kept its thread's value, no thread saw another's"
        ));
        lines.push(format!(
            "fpu_test: ok {g}: float, double and long double results match the precomputed ones"
        ));
        lines.push(format!(
            "fpu_test: ok {g}: threads were preempted while holding their registers"
        ));
    }
    if cpus > 1 {
        lines.push(format!(
            "fpu_test: ok {group}: threads changed CPU while holding their registers"
        ));
    }
    lines.push("fpu_test: PASS".into());
    let expect: Vec<&str> = lines.iter().map(String::as_str).collect();
    check(
        name,
        &Scenario {
            cpus,
            cpu_model: model,
            append: "exit_when_idle init=fpu_test",
            expect: &expect,
            forbid: &["[fatal]", "fpu_test: FAIL", "user fault"],
            ..Default::default()
        },
    );
}

#[test]
fn fpu_state_is_per_thread_on_one_cpu() {
    fpu_test("fpu_1", 1, "max");
}

#[test]
fn fpu_state_is_per_thread_across_four_cpus() {
    fpu_test("fpu_4", 4, "max");
}

#[test]
fn fpu_state_is_per_thread_with_fxsave() {
    fpu_test("fpu_fxsave", 2, "max,-xsave");
}

/// The Rust heap grows through `VSpace.alloc` to 16 MiB in pieces, is bounded by its quota,
/// and gives the memory back when the pieces are freed.
#[test]
fn rust_heap_grows_to_16_mib_within_its_quota() {
    check(
        "heap_test",
        &Scenario {
            append: "exit_when_idle init=heap_test",
            expect: &[
                "heap_test: ok 16 MiB allocated in pieces, every byte kept",
                "heap_test: ok the heap grew through VSpace.alloc, charged to its quota",
                "heap_test: ok growing past the quota fails cleanly",
                "heap_test: ok everything freed is accounted",
                "heap_test: ok freed regions go back to the quota (one spare kept)",
                "heap_test: ok the heap grows again after giving memory back",
                "heap_test: PASS",
            ],
            forbid: &["[fatal]", "heap_test: FAIL", "user fault", "panic"],
            ..Default::default()
        },
    );
}

/// In the default build a false `assert` prints its expression, file and line, and ends the
/// program with status 134.
#[test]
fn failed_assert_reports_file_and_line_and_exits_nonzero() {
    let o = check(
        "assert",
        &Scenario {
            append: "exit_when_idle init=assert_test",
            expect: &[
                "assert_test: a true assertion passed; line ",
                "assertion failed: two + 2 == 5 at services/c/assert_test/main.c:",
                "thread 1 (assert_test) exited with code 134",
            ],
            forbid: &["[fatal]", "assert_test: FAIL"],
            ..Default::default()
        },
    );
    let announced = o
        .log
        .split("asserts two + 2 == 5")
        .next()
        .and_then(|s| s.rsplit("line ").next())
        .and_then(|n| n.trim().parse::<u32>().ok())
        .expect("assert_test announces the line of its false assertion");
    let reported = format!("services/c/assert_test/main.c:{announced}\n");
    assert!(
        o.log.contains(&reported),
        "the assertion should report line {announced}:\n{}",
        o.log
    );
}

/// The identity init gives service `name` of a built image's manifest: its line number.
fn badge_of(image: &str, name: &str) -> usize {
    let path = build_dir().join(image).join("manifest");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .position(|l| l.split_whitespace().take(2).eq(["service", name]))
        .unwrap_or_else(|| panic!("{} has no service {name}", path.display()))
        + 1
}

/// A C client calls a Rust server and a Rust client calls a C server over the generated
/// Console stubs, each having found its server through the name server; each server sees its
/// client's badge (the identity the name server minted the client's copy with).
fn ipc_across_languages(name: &str, cpus: u32) {
    let o = check(
        name,
        &Scenario {
            cpus,
            ..Default::default()
        },
    );
    let c_client = badge_of("test-initrd", "ipc_client_c");
    let rs_client = badge_of("test-initrd", "ipc_client_rs");
    for line in [
        format!("console_rs: client {c_client} wrote \"hello from a C client\""),
        "ipc_client_c: write status 0, server took 21 bytes".into(),
        "ipc_client_c: read status 0, \"pong from Rust\"".into(),
        format!("console_c: client {rs_client} wrote \"hello from a Rust client\""),
        "ipc_client_rs: server took 24 bytes".into(),
        "ipc_client_rs: read \"pong from C\"".into(),
    ] {
        assert!(o.log.contains(&line), "missing {line:?} in:\n{}", o.log);
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

/// The benchmark service runs (a short version) and prints a figure for every benchmark
/// (figures are not asserted: a benchmark is not a test).
#[test]
fn benchmarks_print_figures() {
    let names = [
        "null_syscall",
        "ipc_rt_0w",
        "ipc_rt_4w",
        "ipc_rt_full",
        "ipc_rt_1as_0w",
        "ipc_rt_cap",
        "ipc_rt_cross_cpu_0w",
        "yield_switch",
        "cap_copy_delete",
        "vmo_map_touch_unmap",
        "thread_lifecycle",
    ];
    let lines: Vec<String> = names.iter().map(|n| format!("BENCH {n} ticks=")).collect();
    let mut expect: Vec<&str> = lines.iter().map(String::as_str).collect();
    expect.push("bench: done");
    let o = check(
        "bench",
        &Scenario {
            cpus: 2,
            append: "exit_when_idle init=bench",
            expect: &expect,
            ..Default::default()
        },
    );
    for line in o.log.lines().filter(|l| l.starts_with("BENCH")) {
        println!("{line}");
    }
    // The round trips took the fast path (unless this kernel was built without it).
    let fast = o
        .log
        .lines()
        .find_map(|l| l.split("ipc fast path: ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    let built_without = std::env::var("ANVIL_KERNEL").is_ok_and(|k| k.contains("nofastpath"));
    match fast {
        Some(n) if built_without => assert_eq!(n, 0, "a nofastpath kernel took the fast path"),
        Some(n) => assert!(n >= 2000, "only {n} calls took the IPC fast path:\n{}", o.log),
        None => panic!("no fast-path count in the log:\n{}", o.log),
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
        ("a handler left NULL in a C server", "UNKNOWN_METHOD"),
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

/// The hostile sequences of calls that once hung, crashed or leaked the kernel, each ending in
/// a documented status with frames, heap and quota exactly back (`services/tests/soundness`).
fn soundness(name: &str, cpus: u32) {
    let full = format!("soundness: ok create into a full CNode fails with NO_SLOT on {cpus} CPU(s)");
    check(
        name,
        &Scenario {
            cpus,
            append: "exit_when_idle init=soundness",
            expect: &[
                &full,
                "soundness: ok a server whose CNode is full cannot save a reply (NO_SLOT) and still answers the call",
                "soundness: ok 1000 rounds of suspend/resume from 3 threads at once on one running thread",
                "soundness: ok a client blocked in call gets PEER_CLOSED when its server killed",
                "soundness: ok a client blocked in call gets PEER_CLOSED when its server faults",
                "soundness: ok a client blocked in call gets PEER_CLOSED when its server exits",
                "soundness: ok a client blocked in call gets PEER_CLOSED when its server is suspended",
                "soundness: ok an endpoint deleted under 2 senders, 2 callers and 3 receivers wakes all with PEER_CLOSED",
                "soundness: ok a receiver suspended in recv leaves the queue and sees CANCELLED when resumed",
                "soundness: ok a caller suspended while queued or while held sees CANCELLED, and the late reply is dropped",
                "soundness: ok 1000 threads killed while blocked in recv: frames, heap and quota exactly back",
                "soundness: ok 1000 threads killed while making syscalls: frames, heap and quota exactly back",
                "soundness: ok 1000 threads deleting its own last capability: frames, heap and quota exactly back",
                "soundness: ok 1000 threads killed while exiting to a fault endpoint: frames, heap and quota exactly back",
                "soundness: ok a thread blocked on an endpoint held only by its own CNode is freed by revoking its quota",
                "soundness: ok 100,000 map/unmap rounds across page tables run in constant memory",
                "soundness: ok a map that runs out of quota half way leaves its address space sound, and everything comes back",
                "soundness: ok a quota-driven attempt to exhaust kernel memory is refused, the kernel keeps serving, and everything comes back",
                "soundness: PASS",
            ],
            forbid: &["[fatal]", "soundness: FAIL"],
            timeout: std::time::Duration::from_secs(180),
            ..Default::default()
        },
    );
}

#[test]
fn soundness_on_one_cpu() {
    soundness("soundness_1", 1);
}

#[test]
fn soundness_on_four_cpus() {
    soundness("soundness_4", 4);
}

/// The in-guest fuzzer's short run (50,000 random syscalls from the generated table, random
/// blocking IPC, threads running random bytes): only declared statuses, nothing leaked.
fn fuzz(name: &str, cpus: u32) {
    check(
        name,
        &Scenario {
            cpus,
            append: "exit_when_idle init=fuzz",
            expect: &[
                "fuzz: seed 0x5eed0001, 50000 calls",
                "fuzz: 50000 calls in",
                "fuzz: ok every status declared in idl/, the kernel kept running",
                "fuzz: ok frames, heap and quota exactly back",
                "fuzz: PASS",
            ],
            forbid: &["[fatal]", "fuzz: FAIL"],
            timeout: std::time::Duration::from_secs(180),
            ..Default::default()
        },
    );
}

#[test]
fn fuzz_short_run_on_one_cpu() {
    fuzz("fuzz_1", 1);
}

#[test]
fn fuzz_short_run_on_four_cpus() {
    fuzz("fuzz_4", 4);
}

/// IPC across CPUs, map/unmap, copy/delete and thread create/exit at once on four CPUs, three
/// rounds (`./run.sh stress` runs more): every operation counted once, memory exactly back.
#[test]
fn stress_everything_at_once_on_four_cpus() {
    check(
        "stress_4",
        &Scenario {
            cpus: 4,
            append: "exit_when_idle init=stress",
            expect: &[
                "stress: 3 rounds on 4 CPU(s)",
                "stress: ok every operation of every round succeeded exactly once",
                "stress: ok frames, heap and quota exactly as after the first round",
                "stress: PASS",
            ],
            forbid: &["[fatal]", "stress: FAIL"],
            timeout: std::time::Duration::from_secs(120),
            ..Default::default()
        },
    );
}
