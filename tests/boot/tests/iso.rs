//! The ISO made by `./run.sh iso` (GRUB, Multiboot2, the initrd as a module) boots to init and
//! starts every service of the manifest, under SeaBIOS and under OVMF (UEFI).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use anvil_boot_tests::{build_dir, check, Scenario};

/// Makes the test ISO once per run: `./run.sh iso` on the images already built, with
/// `exit_when_idle` on the kernel command line so the run ends by itself.
fn test_iso() -> &'static PathBuf {
    static ISO: OnceLock<PathBuf> = OnceLock::new();
    ISO.get_or_init(|| {
        let out = build_dir().join("anvil-test.iso");
        let run_sh = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../run.sh");
        let st = Command::new(run_sh)
            .args(["iso", "--no-build", "--append", "exit_when_idle", "--out"])
            .arg(&out)
            .status()
            .expect("run.sh iso runs");
        assert!(st.success(), "./run.sh iso failed ({st})");
        out
    })
}

/// The manifest's services, each started, and the count.
fn expected_lines() -> Vec<String> {
    let manifest = std::fs::read_to_string(build_dir().join("initrd/manifest")).expect("build/initrd/manifest");
    let services: Vec<(String, String)> = manifest
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 3 && w[0] == "service").then(|| (w[1].to_string(), w[2].to_string()))
        })
        .collect();
    let mut lines = vec![
        "Anvil kernel booting (multiboot2 boot, command line \"exit_when_idle\")".to_string(),
        "init: hello from user space".to_string(),
    ];
    lines.extend(services.iter().map(|(n, b)| format!("init: started `{n}` from `{b}`")));
    lines.push(format!("init: started {} services, 0 failed", services.len()));
    lines.push("init: done".to_string());
    lines
}

fn iso_boot(name: &str, uefi: bool) {
    let iso = test_iso();
    let lines = expected_lines();
    let expect: Vec<&str> = lines.iter().map(String::as_str).collect();
    check(
        name,
        &Scenario {
            cpus: 2,
            iso: Some(iso),
            uefi,
            expect: &expect,
            forbid: &["[fatal]", "user fault"],
            ..Default::default()
        },
    );
}

#[test]
fn iso_boots_to_init_under_seabios() {
    iso_boot("iso_seabios", false);
}

#[test]
fn iso_boots_to_init_under_ovmf() {
    iso_boot("iso_ovmf", true);
}
