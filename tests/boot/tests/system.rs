//! Boot scenarios of the running system: the shell driven through QEMU's serial input (line
//! editing and every command), typing while every CPU is busy, services killed while they
//! hold calls and restarted, a service that keeps failing given up, the name server's policy,
//! lookups that leak nothing, and clients whose lines reach the console whole.

use anvil_boot_tests::{check, debug_exit, Outcome, Scenario, Step};
use std::time::Duration;

const PROMPT: &str = "anvil> ";

/// What the serial output looks like on a terminal: carriage returns, erase-to-end-of-line
/// and cursor moves (what the shell's line editing sends) applied, one string per line.
fn screen(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = Vec::new();
    let mut cur: Vec<char> = Vec::new();
    let mut col = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                lines.push(cur.iter().collect::<String>().trim_end().to_string());
                cur.clear();
                col = 0;
            }
            '\r' => col = 0,
            '\x08' => col = col.saturating_sub(1),
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut n = String::new();
                let mut fin = ' ';
                for d in chars.by_ref() {
                    if d.is_ascii_digit() || d == ';' {
                        n.push(d);
                    } else {
                        fin = d;
                        break;
                    }
                }
                let n: usize = n.parse().unwrap_or(1);
                match fin {
                    'K' => cur.truncate(col),
                    'D' => col = col.saturating_sub(n),
                    'C' => col += n,
                    _ => {}
                }
            }
            c => {
                while cur.len() < col {
                    cur.push(' ');
                }
                if col < cur.len() {
                    cur[col] = c;
                } else {
                    cur.push(c);
                }
                col += 1;
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur.iter().collect());
    }
    lines
}

/// The screen of a run, read command by command.
struct Screen {
    lines: Vec<String>,
    at: usize,
    log: String,
}

/// Lines other programs print while the shell runs (boot, services starting and exiting), and
/// the empty line the kernel starts its own lines with when it takes the console back from the
/// IO server (restarted, or at the end of the run).
fn background(l: &str) -> bool {
    l.is_empty()
        || [
            "init: ",
            "[info]",
            "[warn]",
            "names: ",
            "io: ",
            "hello_rs: ",
            "hello_c: ",
            "spin: ",
        ]
        .iter()
        .any(|p| l.starts_with(p))
}

impl Screen {
    fn new(o: &Outcome) -> Screen {
        Screen {
            lines: screen(&o.raw),
            at: 0,
            log: o.log.clone(),
        }
    }

    /// What the next command shown as `line` (after editing) printed: the lines up to the
    /// next prompt, without other programs' lines.
    fn after(&mut self, line: &str) -> Vec<String> {
        let shown = format!("{PROMPT}{line}").trim_end().to_string();
        let i = self.lines[self.at..]
            .iter()
            .position(|l| *l == shown)
            .unwrap_or_else(|| {
                panic!(
                    "{shown:?} is not on the screen after line {}:\n{}\n--- serial log ---\n{}",
                    self.at,
                    self.lines[self.at..].join("\n"),
                    self.log
                )
            })
            + self.at;
        let next_prompt = |from: usize| {
            self.lines[from + 1..]
                .iter()
                .position(|l| l.starts_with(PROMPT.trim_end()))
                .map_or(self.lines.len(), |e| e + from + 1)
        };
        // Another program's line while the command was being typed: the IO server shows the
        // line again below it. The command's output follows the last copy.
        let mut i = i;
        let mut end = next_prompt(i);
        while end < self.lines.len() && self.lines[end] == shown && self.lines[i + 1..end].iter().all(|l| background(l))
        {
            i = end;
            end = next_prompt(i);
        }
        self.at = i + 1;
        self.lines[i + 1..end]
            .iter()
            .filter(|l| !background(l))
            .cloned()
            .collect()
    }
}

/// Each of `want` is in `log`, in this order.
fn in_order<S: AsRef<str>>(log: &str, want: &[S]) {
    let mut at = 0;
    for w in want {
        let w = w.as_ref();
        at += log[at..]
            .find(w)
            .unwrap_or_else(|| panic!("missing {w:?} (in order) in:\n{log}"))
            + w.len();
    }
}

fn has_line(lines: &[String], prefix: &str) -> bool {
    lines.iter().any(|l| l.starts_with(prefix))
}

/// A script: wait for the prompt, type `line` and Enter, for each line.
fn commands(lines: &[&'static str]) -> Vec<Step<'static>> {
    let mut steps = Vec::new();
    for l in lines {
        steps.push(Step::Prompt(PROMPT));
        steps.push(Step::Type(l.as_bytes()));
        steps.push(Step::Type(b"\r"));
    }
    steps
}

/// Every command of the shell, and its line editing, typed into the serial console with
/// delays between the keys: backspace, Ctrl-U, Ctrl-C, the arrows (escape sequences) and the
/// history. What each command prints is checked on the screen as a terminal shows it; the run
/// ends with `shutdown`.
#[test]
fn shell_line_editing_and_every_command() {
    let mut script = vec![Step::Wait("anvil shell: type `help`")];
    script.extend(commands(&[
        "echo hellp\x7fo world",        // backspace
        "rubbish\x15echo after ctrl-u", // Ctrl-U erases the line
    ]));
    script.extend([Step::Prompt(PROMPT), Step::Type(b"echo cancelled\x03")]); // Ctrl-C
    script.extend(commands(&[
        "echo next",
        "echo wrld\x1b[D\x1b[D\x1b[Do",   // left arrow three times, insert
        "echo ab\x1b[D\x1b[D\x1b[Cx",     // left, left, right, insert
        "\x1b[A\x1b[A",                   // up twice: the `world` line again
        "\x1b[A\x1b[A\x1b[A\x1b[B\x1b[B", // up three times, down twice: the last line
        "\x1bOD\x1b[3~echo history end",  // sequences the editor does not use change nothing
    ]));
    script.extend(commands(&[
        "help",
        "ps",
        "caps shell",
        "caps io",
        "caps nosuch",
        "caps",
        "start hello_c",
        "start no_such_program",
        "start spin",
    ]));
    script.push(Step::Wait("spin: "));
    script.extend(commands(&[
        "kill spin",
        "kill spin",
        "restart io",
        "echo the shell survived its IO server's restart",
        "restart names",
        "start hello_rs",
        "ps",
        "mem",
        "cpus",
        "uptime",
        "bench",
        "frobnicate",
        "kill",
        "shutdown now",
        "shutdown 3",
    ]));
    let o = check(
        "shell",
        &Scenario {
            cpus: 2,
            initrd: "initrd.cpio",
            append: "",
            input: &script,
            exit: debug_exit(3),
            timeout: Duration::from_secs(150),
            ..Default::default()
        },
    );
    let mut sc = Screen::new(&o);
    assert_eq!(sc.after("echo hello world"), ["hello world"], "backspace");
    assert_eq!(sc.after("echo after ctrl-u"), ["after ctrl-u"], "Ctrl-U");
    assert_eq!(
        sc.after("echo cancelled^C"),
        Vec::<String>::new(),
        "Ctrl-C cancels the line"
    );
    assert_eq!(sc.after("echo next"), ["next"]);
    assert_eq!(sc.after("echo world"), ["world"], "left arrow");
    assert_eq!(sc.after("echo axb"), ["axb"], "left and right arrows");
    assert_eq!(sc.after("echo world"), ["world"], "history: up twice");
    assert_eq!(sc.after("echo world"), ["world"], "history: up three times, down twice");
    assert_eq!(sc.after("echo history end"), ["history end"]);
    assert!(
        !o.log.contains("\ncancelled\n"),
        "a cancelled line must not run:\n{}",
        o.log
    );

    let help = sc.after("help");
    for cmd in [
        "help",
        "ps",
        "caps NAME",
        "start BINARY",
        "kill NAME",
        "restart NAME",
        "mem",
        "cpus",
        "bench",
        "echo",
        "uptime",
    ] {
        assert!(has_line(&help, &format!("  {cmd} ")), "help lists `{cmd}`: {help:?}");
    }
    let ps = sc.after("ps");
    for col in [
        "NAME",
        "STATE",
        "THREADS",
        "CPU",
        "CPU TIME",
        "RESTARTS",
        "QUOTA USED/LIMIT",
    ] {
        assert!(ps[0].contains(col), "{ps:?}");
    }
    for svc in ["names", "io", "shell"] {
        let row = ps
            .iter()
            .find(|l| l.starts_with(&format!("{svc} ")))
            .unwrap_or_else(|| panic!("{ps:?}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1], "running", "{row}");
        assert_eq!(cols[2], "1", "one thread: {row}");
        assert!(cols[4].ends_with('s'), "CPU time: {row}");
        assert_eq!(cols[5], "0", "no restarts: {row}");
        assert!(
            cols[6].contains("K/") && cols[6].ends_with('K'),
            "quota used/limit: {row}"
        );
    }
    assert!(
        ps.iter().any(|l| l.starts_with("hello_c ") && l.contains("exited")),
        "{ps:?}"
    );
    let caps = sc.after("caps shell");
    for col in ["SLOT", "TYPE", "RIGHTS", "BADGE"] {
        assert!(caps[0].contains(col), "{caps:?}");
    }
    let row = |slot: &str| {
        caps.iter()
            .find(|l| l.trim_start().starts_with(&format!("{slot} ")))
            .cloned()
    };
    assert!(row("1").is_some_and(|r| r.contains("CNode")), "{caps:?}");
    assert!(row("3").is_some_and(|r| r.contains("Tcb")), "{caps:?}");
    assert!(
        row("9").is_some_and(|r| r.contains("Endpoint") && r.contains("write") && !r.ends_with(" 0x0")),
        "its badged capability to the name server: {caps:?}"
    );
    // Of the default services only the IO server (and init) holds the kernel's console.
    assert!(
        !caps.iter().any(|r| r.contains("Debug")),
        "the shell holds no Debug: {caps:?}"
    );
    let io_caps = sc.after("caps io");
    assert!(
        io_caps.iter().any(|r| r.contains("Debug") && r.contains("manage")),
        "{io_caps:?}"
    );
    assert_eq!(sc.after("caps nosuch"), ["caps: no service named `nosuch`"]);
    assert_eq!(sc.after("caps"), ["usage: caps NAME"]);
    assert_eq!(sc.after("start hello_c"), ["started hello_c-2"]);
    assert_eq!(
        sc.after("start no_such_program"),
        ["start: the boot archive has no `no_such_program`"]
    );
    assert_eq!(sc.after("start spin"), ["started spin"]);
    assert_eq!(sc.after("kill spin"), ["killed spin"]);
    assert_eq!(sc.after("kill spin"), ["kill: `spin` is not running"]);
    assert_eq!(sc.after("restart io"), ["restarted io"]);
    assert_eq!(
        sc.after("echo the shell survived its IO server's restart"),
        ["the shell survived its IO server's restart"]
    );
    // The name server restarted (and with it the IO server, which registers a name): a service
    // started now still finds the console.
    assert_eq!(sc.after("restart names"), ["restarted names"]);
    // Init's lines go through the kernel's log to the IO server it is about to stop: each
    // reaches the screen whole (init waits for the log; a server stopped in the middle of a
    // chunk leaves it to the next).
    for line in [
        "init: restarting io (restart 1)",
        "init: restarting names (restart 1)",
        "init: restarting io (it registered names)",
    ] {
        assert!(
            sc.lines.iter().any(|l| l == line),
            "{line:?} whole on the screen:\n{}",
            o.log
        );
    }
    assert_eq!(sc.after("start hello_rs"), ["started hello_rs-2"]);
    let restarts = |ps: &[String], svc: &str| -> String {
        let row = ps
            .iter()
            .find(|l| l.starts_with(&format!("{svc} ")))
            .unwrap_or_else(|| panic!("{ps:?}"));
        row.split_whitespace().nth(5).unwrap_or("?").to_string()
    };
    let ps2 = sc.after("ps");
    assert_eq!(restarts(&ps2, "names"), "1", "{ps2:?}");
    assert_eq!(
        restarts(&ps2, "io"),
        "2",
        "restarted by hand and with the name server: {ps2:?}"
    );
    assert_eq!(restarts(&ps2, "shell"), "0", "{ps2:?}");
    assert!(
        o.log.matches("hello_rs: hello from Rust").count() == 2,
        "the second hello_rs printed through the new console:\n{}",
        o.log
    );
    let mem = sc.after("mem");
    assert!(has_line(&mem, "frames: ") && has_line(&mem, "kernel: heap ") && has_line(&mem, "quotas: all services "));
    assert!(
        has_line(&mem, "  names ") && has_line(&mem, "  io ") && has_line(&mem, "  shell "),
        "{mem:?}"
    );
    let cpus = sc.after("cpus");
    assert_eq!(cpus[0], "2 CPU(s)");
    assert!(
        has_line(&cpus, "  cpu 0: APIC id 0, ") && has_line(&cpus, "  cpu 1: APIC id 1, "),
        "{cpus:?}"
    );
    let up = sc.after("uptime");
    assert!(
        up.len() == 1 && up[0].starts_with("up 0:0") && up[0].ends_with(" ms)"),
        "{up:?}"
    );
    let bench = sc.after("bench");
    assert!(has_line(&bench, "bench: running `bench`"), "{bench:?}");
    for line in [
        "BENCH null_syscall ",
        "BENCH ipc_rt_0w ",
        "BENCH ipc_rt_cross_cpu_0w ",
        "bench: done",
    ] {
        assert!(has_line(&bench, line), "{line}: {bench:?}");
    }
    assert!(has_line(&bench, "bench: `bench` finished with code 0"), "{bench:?}");
    assert_eq!(sc.after("frobnicate"), ["unknown command `frobnicate` (try `help`)"]);
    assert_eq!(sc.after("kill"), ["usage: kill NAME"]);
    assert_eq!(
        sc.after("shutdown now"),
        ["shutdown: `now` is not a code from 0 to 255"]
    );
    assert_eq!(sc.after("shutdown 3"), ["shutting down"]);
    let _ = sc.log;
}

/// Typing still echoes while a busy thread runs on every CPU: COM1's interrupt wakes the IO
/// server, which wakes the shell, each preempting the busy loop. On more than one CPU the
/// line's interrupts arrive on every CPU in turn (`cpus` counts them).
fn echo_while_busy(name: &str, cpus: u32) {
    let mut script = commands(&["start spin"]);
    script.extend([Step::Wait("spin: "), Step::Pause(500)]);
    script.extend(commands(&[
        "echo still typing while every CPU is busy",
        "ps",
        "cpus",
        "kill spin",
        "shutdown",
    ]));
    let o = check(
        name,
        &Scenario {
            cpus,
            initrd: "initrd.cpio",
            append: "",
            input: &script,
            timeout: Duration::from_secs(120),
            ..Default::default()
        },
    );
    let busy = format!("spin: {cpus} busy threads, one on each of {cpus} CPU(s)");
    assert!(o.log.contains(&busy), "{busy:?} in:\n{}", o.log);
    let mut sc = Screen::new(&o);
    assert_eq!(sc.after("start spin"), ["started spin"]);
    assert_eq!(
        sc.after("echo still typing while every CPU is busy"),
        ["still typing while every CPU is busy"]
    );
    let ps = sc.after("ps");
    let spin = ps.iter().find(|l| l.starts_with("spin ")).expect("spin in ps");
    assert!(spin.contains("running"), "{spin}");
    let cpu_rows = sc.after("cpus");
    let rows: Vec<&String> = cpu_rows.iter().filter(|l| l.starts_with("  cpu ")).collect();
    assert_eq!(rows.len(), cpus as usize, "{cpu_rows:?}");
    assert!(rows.iter().all(|r| r.ends_with("busy")), "every CPU busy: {cpu_rows:?}");
    let with_interrupts = rows
        .iter()
        .filter(|r| {
            r.split(", ")
                .find(|f| f.ends_with("device interrupts"))
                .and_then(|f| f.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
        .count();
    assert_eq!(
        with_interrupts, cpus as usize,
        "COM1's interrupts arrive on every CPU: {cpu_rows:?}"
    );
    assert_eq!(sc.after("kill spin"), ["killed spin"]);
}

#[test]
fn typing_echoes_while_the_cpu_is_busy() {
    echo_while_busy("busy_1", 1);
}

#[test]
fn typing_echoes_while_four_cpus_are_busy() {
    echo_while_busy("busy_4", 4);
}

/// A C and a Rust server killed while they hold a call, each twice (a fault of its own, and
/// `Supervisor.restart`): the call ends with PEER_CLOSED, init restarts the server, a new
/// lookup finds it, the next call succeeds. A service that faults at start is restarted five
/// times within 10 s, then given up.
#[test]
fn servers_killed_mid_call_are_restarted_and_found_again() {
    let mut expect = Vec::new();
    for s in ["kv_c", "kv_rs"] {
        expect.push(format!(
            "restart_client: ok {s}: the call it held when it faulted ended with PEER_CLOSED"
        ));
        expect.push(format!("restart_client: ok {s}: after its fault, a new lookup found the restarted server and its next call succeeded"));
        expect.push(format!(
            "restart_client: ok {s}: the call it held when it was killed ended with PEER_CLOSED"
        ));
        expect.push(format!(
            "restart_client: ok {s}: after a kill, a new lookup found the restarted server and its next call succeeded"
        ));
    }
    expect.push("restart_client: done".into());
    let expect: Vec<&str> = expect.iter().map(String::as_str).collect();
    let o = check(
        "restart",
        &Scenario {
            cpus: 2,
            initrd: "restart-initrd.cpio",
            expect: &expect,
            forbid: &["[fatal]", "restart_client: FAIL"],
            timeout: Duration::from_secs(90),
            ..Default::default()
        },
    );
    for s in ["kv_c", "kv_rs"] {
        for line in [
            format!("init: {s} faulted: page fault at 0x10 rip 0x"),
            format!("init: restarting {s} (restart 1)"),
            format!("init: restarting {s} (restart 2)"),
        ] {
            assert!(o.log.contains(&line), "missing {line:?} in:\n{}", o.log);
        }
    }
    // crashy: its faults and restarts in order, then init gives up.
    let mut want = Vec::new();
    for k in 1..=5 {
        want.push("init: crashy faulted: page fault at 0x10000000 rip 0x".to_string());
        want.push(format!("init: restarting crashy (restart {k})"));
    }
    want.push("init: crashy faulted: page fault at 0x10000000 rip 0x".into());
    want.push("init: crashy ended 6 times within 10 s; giving up (restart limit 5)".into());
    in_order(&o.log, &want);
    assert!(!o.log.contains("init: restarting crashy (restart 6)"), "{}", o.log);
    // A worker thread's exit is its own business; its fault is the service's.
    in_order(
        &o.log,
        &[
            "fault_worker: a worker exited: Ok(DEAD)",
            "fault_worker: a worker reads 0x20000000",
            "init: worker_crash faulted: page fault at 0x20000000 rip 0x",
        ],
    );
    assert!(!o.log.contains("init: worker_crash exited"), "{}", o.log);
    // restart=always restarts a service that exits successfully too, within the same limit.
    let mut want = Vec::new();
    for k in 1..=5 {
        want.push("init: again exited with code 0".to_string());
        want.push(format!("init: restarting again (restart {k})"));
    }
    want.push("init: again exited with code 0".into());
    want.push("init: again ended 6 times within 10 s; giving up (restart limit 5)".into());
    in_order(&o.log, &want);
}

/// A service that registers or looks up a name its manifest line does not list gets
/// ACCESS_DENIED.
#[test]
fn the_name_server_enforces_the_manifest() {
    check(
        "policy",
        &Scenario {
            initrd: "policy-initrd.cpio",
            expect: &[
                "policy_test: ok register `allowed` (provides=allowed): Ok(())",
                "policy_test: ok register `forbidden` (not provided): Err(ACCESS_DENIED)",
                "policy_test: ok register `console` (the IO server's): Err(ACCESS_DENIED)",
                "policy_test: ok look up `allowed` (uses=allowed): Ok(())",
                "policy_test: ok look up `secret` (not used): Err(ACCESS_DENIED)",
                "policy_test: ok look up `supervisor` (not used): Err(ACCESS_DENIED)",
                "policy_test: ok look up `kv_c` (used, nobody registered it): Err(NOT_FOUND)",
                "policy_test: done, 0 failed",
            ],
            forbid: &["[fatal]", "policy_test: FAIL"],
            ..Default::default()
        },
    );
}

/// 10,000 lookup-and-call rounds leave frames, heap, slots and quotas (the client's, the name
/// server's, the server's) as they were.
#[test]
fn ten_thousand_lookups_leak_nothing() {
    check(
        "leak",
        &Scenario {
            initrd: "leak-initrd.cpio",
            expect: &[
                "names_leak: ok 10000 lookup-and-call rounds: frames, heap, slots and quotas unchanged (client, name server, server)",
                "names_leak: PASS",
            ],
            forbid: &["[fatal]", "names_leak: FAIL"],
            timeout: Duration::from_secs(90),
            ..Default::default()
        },
    );
}

/// Two C and two Rust clients print 1,000 lines each at once (every tenth longer than a
/// message); every line arrives whole, each client's in order.
#[test]
fn four_clients_print_whole_lines() {
    let o = check(
        "lines",
        &Scenario {
            cpus: 2,
            initrd: "lines-initrd.cpio",
            expect: &["init: lines_c1 exited with code 0"],
            timeout: Duration::from_secs(90),
            ..Default::default()
        },
    );
    let mut clients: Vec<(String, usize)> = Vec::new();
    let mut switches = 0;
    let mut last = String::new();
    for line in o.log.lines().filter(|l| l.contains("lines[")) {
        let (tag, rest) = line
            .split_once("]: ")
            .unwrap_or_else(|| panic!("a broken line: {line:?}\n{}", o.log));
        assert!(
            tag.starts_with("lines[") && tag.len() == 6 + 7,
            "a broken line: {line:?}"
        );
        let (num, payload) = rest
            .split_once(' ')
            .unwrap_or_else(|| panic!("a broken line: {line:?}"));
        let n: usize = num.parse().unwrap_or_else(|_| panic!("a broken line: {line:?}"));
        let len = if n.is_multiple_of(10) { 300 } else { 40 };
        let want: String = (0..len).map(|k| (b'a' + ((n + k) % 26) as u8) as char).collect();
        assert_eq!(payload, want, "a broken line: {line:?}");
        match clients.iter_mut().find(|(t, _)| t == tag) {
            Some((_, next)) => {
                assert_eq!(n, *next, "{tag}: lines out of order at {line:?}");
                *next += 1;
            }
            None => {
                assert_eq!(n, 0, "{tag} starts at its first line: {line:?}");
                clients.push((tag.to_string(), 1));
            }
        }
        if tag != last {
            switches += 1;
            last = tag.to_string();
        }
    }
    assert_eq!(clients.len(), 4, "four clients: {clients:?}");
    assert!(clients.iter().all(|(_, n)| *n == 1000), "1,000 lines each: {clients:?}");
    assert!(clients.iter().filter(|(t, _)| t.starts_with("lines[c")).count() == 2);
    println!("lines: 4 x 1000 lines whole, the clients took turns {switches} times");
    assert!(switches > 100, "the clients printed at once ({switches} turns)");
}

/// A hostile ordinary service (`uses=supervisor,ghost`) attacks the name server, the IO server
/// and init (services/tests/sys_hostile): raw garbage and capabilities, waiting lookups and
/// reads whose callers vanish, children killed while reading, odd and racing `Supervisor`
/// calls, abandoned `Supervisor.wait`s. The program prints a `FINDING` line for each service
/// that misbehaves (a saved reply of a dead caller that still counts or takes typed input,
/// memory a killed client cannot get back, init unable to start services); there must be none,
/// and every service still answers after each attack.
#[test]
fn a_hostile_service_attacks_the_system_services() {
    let o = check(
        "sys_hostile",
        &Scenario {
            cpus: 2,
            append: "",
            initrd: "sys_hostile-initrd.cpio",
            expect: &[
                "sys_hostile: start",
                "sys_hostile: names: after the 4 waiting callers vanished, a new lookup waits",
                "sys_hostile: io: after the readers vanished, a new read waits",
                "sys_hostile: io: type now",
                "sys_hostile: io: typed \"0123456789\", a live reader got \"0123456789\"",
                "sys_hostile: io-exhaustion: a live client's read still waits normally",
                "sys_hostile: init-exhaustion: restart io: ",
                "sys_hostile: done",
            ],
            forbid: &["[fatal]", "panicked", "FINDING"],
            timeout: Duration::from_secs(300),
            input: &[
                Step::Wait("sys_hostile: io: type now"),
                Step::Pause(500),
                Step::Type(b"0123456789\n"),
            ],
            ..Default::default()
        },
    );
    // What the attacks did, for the record (`--nocapture`).
    for l in o
        .log
        .lines()
        .filter(|l| l.contains("memory") || l.contains("->") || l.contains("abandoned"))
    {
        println!("{l}");
    }
}
