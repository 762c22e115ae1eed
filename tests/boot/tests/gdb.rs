//! `./run.sh --gdb`: QEMU waits with its gdb stub, run.sh prints the gdb command for the
//! kernel's symbols, and gdb (batch mode) connects, sets a breakpoint in the kernel's syscall
//! entry, continues, and sees it hit.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anvil_boot_tests::build_dir;

/// A TCP port nothing listens on now (other QEMUs with gdb stubs may run on this machine).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

#[test]
fn gdb_stops_at_a_kernel_breakpoint() {
    let port = free_port().to_string();
    let run_sh = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../run.sh");
    let mut qemu = Command::new(run_sh)
        .args(["--no-build", "--gdb", "--gdb-port", &port, "--append", "exit_when_idle"])
        .env("ANVIL_BUILD", build_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run.sh starts");
    // run.sh prints the command to use before it starts QEMU (exec: same process). Its
    // stderr is read to the end on a thread of its own: closing the pipe early would kill
    // run.sh with SIGPIPE at its next message, before QEMU starts.
    let stderr = qemu.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(c) = line.strip_prefix("gdb command: ") {
                let _ = tx.send(c.to_string());
            }
        }
    });
    let command = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let expected_target = format!("target remote 127.0.0.1:{port}");
    let kernel = build_dir().join("kernel.elf");
    let shown_ok = command.contains(&expected_target) && command.contains("kernel.elf");

    // The printed command, in batch mode, with a breakpoint in the syscall entry.
    let start = Instant::now();
    let mut gdb = Command::new("gdb")
        .args(["-q", "-nx", "-batch"])
        .arg(&kernel)
        .args(["-ex", &expected_target])
        .args(["-ex", "break kernel::syscall::entry"])
        .args(["-ex", "continue"])
        .args(["-ex", "bt 4"])
        .args(["-ex", "kill"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb must be installed (./run.sh test installs it)");
    let mut finished = None;
    while start.elapsed() < Duration::from_secs(90) {
        if let Ok(Some(st)) = gdb.try_wait() {
            finished = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if finished.is_none() {
        let _ = gdb.kill();
    }
    let out = gdb.wait_with_output().expect("gdb output");
    let _ = qemu.kill();
    let _ = qemu.wait();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown_ok,
        "run.sh --gdb printed {command:?}, expected it to load kernel.elf and `{expected_target}`"
    );
    assert!(finished.is_some(), "gdb did not finish within 90 s:\n{text}");
    // gdb names the innermost frame at the stop, which may be a function inlined into
    // `entry` (the current-thread read): the stop counts if `entry` is in its backtrace.
    let stop = text.find("Breakpoint 1, ").map(|i| &text[i..]);
    assert!(
        stop.is_some_and(|s| s
            .lines()
            .any(|l| l.starts_with('#') && l.contains("kernel::syscall::entry ("))),
        "gdb did not stop at the breakpoint:\n{text}"
    );
    println!(
        "gdb: stopped at kernel::syscall::entry after {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
