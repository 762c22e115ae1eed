#!/usr/bin/env bash
# Builds Anvil (kernel, services, initrd) and boots it in QEMU; also the entry for tests.
#
#   ./run.sh [--cpus N] [--mem SIZE] [--append "kernel command line"] [--debug]
#   ./run.sh build          build everything, boot nothing
#   ./run.sh test           run every test (host unit tests, compiler tests, boot tests)
#   ./run.sh bench          print the micro-benchmarks (cycles per operation), both TSC modes
#
# On a fresh Debian machine as root, missing tools are installed (rustup target, qemu,
# cpio, gcc, g++, clang, cmake). Without root, the command to install them is printed instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$ROOT/build"
PROFILE=release

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

ensure_tools() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v cpio >/dev/null || missing+=(cpio)
    command -v gcc >/dev/null || missing+=(gcc)
    command -v g++ >/dev/null || missing+=(g++)
    command -v clang >/dev/null || missing+=(clang)
    command -v cmake >/dev/null || missing+=(cmake)
    command -v make >/dev/null || missing+=(make)
    if ((${#missing[@]})); then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing ${missing[*]}"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            die "missing tools; run: sudo apt-get install -y ${missing[*]}"
        fi
    fi
    command -v cargo >/dev/null || die "Rust is not installed; see https://rustup.rs (stable is enough)"
    if ! rustup target list --installed 2>/dev/null | grep -q '^x86_64-unknown-none$'; then
        log "adding the x86_64-unknown-none target"
        rustup target add x86_64-unknown-none || die "run: rustup target add x86_64-unknown-none"
    fi
}

build() {
    ensure_tools
    log "building the kernel"
    (cd "$ROOT/kernel" && cargo build --profile "$PROFILE" -q)
    log "building the services"
    (cd "$ROOT/services" && cargo build --profile "$PROFILE" -q)
    log "generating C headers from idl/ and building the C services"
    (cd "$ROOT" && cargo build -q --release -p anvil-idlc)
    "$ROOT/target/release/anvil-idlc" gen "$ROOT/idl" --out "$BUILD/include" --backend c
    cmake -S "$ROOT/services/c" -B "$BUILD/c" -DANVIL_GENERATED_INCLUDE="$BUILD/include" \
        -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD/c" -j 2 >/dev/null
    rm -rf "$BUILD/initrd" "$BUILD/test-initrd"
    mkdir -p "$BUILD/initrd" "$BUILD/test-initrd"
    cp "$ROOT/kernel/target/x86_64-unknown-none/$PROFILE/kernel" "$BUILD/kernel.elf"
    local bin="$ROOT/services/target/x86_64-unknown-none/$PROFILE"
    # The boot image: init, services/manifest, and every binary the manifest names (found among
    # the Rust and the C services), so adding a service needs only its folder and a manifest line.
    cp "$bin/init" "$BUILD/initrd/"
    cp "$ROOT/services/manifest" "$BUILD/initrd/manifest"
    local name found candidate
    for name in $(awk '$1 == "service" { print $3 }' "$ROOT/services/manifest"); do
        found=""
        for candidate in "$bin/$name" "$BUILD"/c/*/"$name"; do
            if [ -f "$candidate" ]; then found="$candidate"; break; fi
        done
        [ -n "$found" ] || die "services/manifest names \`$name\`, but no service builds it"
        cp "$found" "$BUILD/initrd/"
    done
    (cd "$BUILD/initrd" && find . -type f | sort | cpio -o -H newc --quiet) > "$BUILD/initrd.cpio"
    # The test image: the same plus test programs, a manifest with broken entries, and
    # deliberately broken files.
    cp "$BUILD/initrd/"* "$BUILD/test-initrd/"
    cp "$bin/fault_pf" "$bin/fault_ud2" "$bin/fault_kwrite" "$bin/fault_kexec" "$bin/cap_test" "$bin/hostile" \
        "$bin/smp_test" "$bin/bench" "$BUILD/c/c_test/c_test" "$BUILD/test-initrd/"
    cp "$ROOT/services/tests/manifest" "$BUILD/test-initrd/manifest"
    head -c 100 "$bin/init" > "$BUILD/test-initrd/bad_truncated"
    printf 'this is not an ELF file\n' > "$BUILD/test-initrd/bad_text"
    (cd "$BUILD/test-initrd" && find . -type f | sort | cpio -o -H newc --quiet) > "$BUILD/test-initrd.cpio"
    # The probe image: init, the C and Rust servers of the Probe test protocol and their
    # clients, started by services/tests/probe.manifest.
    rm -rf "$BUILD/probe-initrd"
    mkdir -p "$BUILD/probe-initrd"
    cp "$bin/init" "$bin/probe_rs" "$bin/probe_client" "$bin/probe_echo" "$BUILD/c/probe_c/probe_c" \
        "$BUILD/c/probe_client_c/probe_client_c" "$BUILD/probe-initrd/"
    cp "$ROOT/services/tests/probe.manifest" "$BUILD/probe-initrd/manifest"
    (cd "$BUILD/probe-initrd" && find . -type f | sort | cpio -o -H newc --quiet) > "$BUILD/probe-initrd.cpio"
}

boot() {
    local cpus=1 mem=256M append="" debug=()
    while (($#)); do
        case "$1" in
            --cpus) cpus="$2"; shift 2 ;;
            --mem) mem="$2"; shift 2 ;;
            --append) append="$2"; shift 2 ;;
            --debug) debug=(-d int,cpu_reset -D "$BUILD/qemu.log"); shift ;;
            -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
            *) die "unknown option $1 (try --help)" ;;
        esac
    done
    build
    log "booting Anvil: $cpus CPU(s), $mem; leave QEMU with Ctrl-A X"
    exec qemu-system-x86_64 -machine q35 -cpu max -smp "$cpus" -m "$mem" \
        -kernel "$BUILD/kernel.elf" -initrd "$BUILD/initrd.cpio" -append "$append" \
        -serial mon:stdio -display none -no-reboot \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${debug[@]}"
}

run_tests() {
    build
    local out="$BUILD/test.log"
    : > "$out"
    log "host tests: IDL compiler"
    (cd "$ROOT" && cargo test -p anvil-idlc --release --tests 2>&1) | tee -a "$out"
    log "host tests: libanvil-c (ctest)"
    cmake -S "$ROOT/libanvil-c" -B "$BUILD/libanvil-c-host" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD/libanvil-c-host" >/dev/null
    (cd "$BUILD/libanvil-c-host" && ctest --output-on-failure 2>&1) | tee -a "$out"
    log "host tests: kernel logic"
    (cd "$ROOT" && cargo test --manifest-path kernel/Cargo.toml -p anvil-kcore --release --tests 2>&1) | tee -a "$out"
    log "boot tests (QEMU, TCG)"
    (cd "$ROOT" && ANVIL_BUILD="$BUILD" cargo test --manifest-path tests/boot/Cargo.toml --release --tests \
        -- --test-threads 2 2>&1) | tee -a "$out"
    # One closing line over every suite, counted from cargo's own result lines.
    awk '/^test result:/ { p += $4; f += $6 } END { printf "total: %d passed, %d failed\n", p, f; exit (f > 0) }' "$out"
}

run_bench() {
    build
    local mode
    for mode in "instructions (-icount shift=0: deterministic)" "host time"; do
        local icount=()
        [[ "$mode" == instructions* ]] && icount=(-icount shift=0)
        log "benchmarks, TSC counting $mode"
        qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 256M "${icount[@]}" \
            -kernel "$BUILD/kernel.elf" -initrd "$BUILD/test-initrd.cpio" -append "init=bench" \
            -serial stdio -display none -no-reboot -monitor none \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 | grep '^bench:' || true
    done
}

case "${1:-}" in
    build) build ;;
    bench) run_bench ;;
    test) run_tests ;;
    *) boot "$@" ;;
esac
