#!/usr/bin/env bash
# Builds Anvil (kernel, services, initrd) and boots it in QEMU; also the entry for tests.
#
#   ./run.sh [--cpus N] [--mem SIZE] [--append "kernel command line"] [--debug] [--no-build]
#            [--gdb [--gdb-port PORT] [--gdb-service NAME]]
#   ./run.sh build          build everything, boot nothing
#   ./run.sh iso [--append "..."] [--out FILE] [--no-build]
#                           a hybrid BIOS+UEFI ISO (GRUB, Multiboot2), build/anvil.iso by default
#   ./run.sh test           run every test suite (compiler, host unit tests, QEMU boot tests,
#                           fresh-checkout and growth checks), then the total
#   ./run.sh bench          print the micro-benchmarks (cycles per operation), both TSC modes
#   ./run.sh profile NAME [--iterations N] [--cpus C] [--top K]
#                           instructions per function of benchmark NAME, counted by the
#                           insn-profile QEMU plugin ($ANVIL_INSN_PROFILE, by default
#                           ../shared/tools/insn-profile); see docs/performance.md
#   ./run.sh fuzz [--seed S] [--calls N] [--cpus C] [--workers W] [--epoch N] [--mem SIZE]
#                           the in-guest syscall fuzzer (services/tests/fuzz); a failure
#                           prints the epoch's seed: rerun with --seed to replay it
#   ./run.sh stress [--rounds N] [--cpus C]
#                           everything at once on every CPU (services/tests/stress), N rounds
#
# --gdb starts QEMU stopped, with its gdb stub on PORT (1234), and prints the gdb command that
# loads the kernel's symbols (and NAME's, a service, with --gdb-service).
#
# On a fresh Debian machine as root, missing tools are installed (rustup target, qemu,
# cpio, gcc, g++, clang, cmake; grub, xorriso, mtools and OVMF for the ISO and its tests; gdb). Without
# root, the command to install them is printed instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# ANVIL_BUILD moves the build directory (the boot tests take the same variable).
BUILD="${ANVIL_BUILD:-$ROOT/build}"
PROFILE=release

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# Installs the Debian packages given as "what:package" pairs whose `what` is missing: a
# command, or a file or directory when it starts with /.
ensure_packages() {
    local missing=() pair what
    for pair in "$@"; do
        what="${pair%%:*}"
        if [[ "$what" == /* ]]; then
            [ -e "$what" ] || missing+=("${pair#*:}")
        else
            command -v "$what" >/dev/null || missing+=("${pair#*:}")
        fi
    done
    if ((${#missing[@]})); then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing ${missing[*]}"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            die "missing tools; run: sudo apt-get install -y ${missing[*]}"
        fi
    fi
}

# OVMF (UEFI firmware for QEMU) has no command to look for: its image is the check.
OVMF_CODE=/usr/share/ovmf/OVMF.fd

ensure_iso_tools() {
    # grub-mkrescue needs the BIOS and the UEFI GRUB images, xorriso, and mtools for the EFI
    # system partition inside the ISO.
    ensure_packages grub-mkrescue:grub-common xorriso:xorriso mformat:mtools \
        /usr/lib/grub/i386-pc:grub-pc-bin /usr/lib/grub/x86_64-efi:grub-efi-amd64-bin "$OVMF_CODE:ovmf"
}

ensure_tools() {
    # g++ and clang: the compiler's tests compile the generated headers as C and C++ with both.
    ensure_packages qemu-system-x86_64:qemu-system-x86 cpio:cpio gcc:gcc g++:g++ clang:clang cmake:cmake make:make
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
    # The root CMake project, as `mkdir build && cd build && cmake .. && make` would use it: it
    # generates the C headers from idl/ (build/include) and builds libanvil-c and every C service.
    log "building libanvil-c and the C services (CMake; headers generated from idl/)"
    cmake -S "$ROOT" -B "$BUILD" >/dev/null
    cmake --build "$BUILD" -j 2 >/dev/null
    images
}

# The boot images.
images() {
    local bin="$ROOT/services/target/x86_64-unknown-none/$PROFILE"
    cp "$ROOT/kernel/target/x86_64-unknown-none/$PROFILE/kernel" "$BUILD/kernel.elf"
    # The boot image: init, services/manifest, and every binary the manifest names (`service`
    # and `program` lines; found among the Rust and the C services), so adding a service needs
    # only its folder and a manifest line.
    image initrd "$ROOT/services/manifest"
    # The test image: the same plus test programs, a manifest with broken entries and demo
    # services, and deliberately broken files.
    image test-initrd "$ROOT/services/tests/manifest" "$BUILD/initrd/"*
    cp "$bin/fault_pf" "$bin/fault_worker" "$bin/fault_ud2" "$bin/fault_kwrite" "$bin/fault_kexec" "$bin/cap_test" "$bin/hostile" \
        "$bin/smp_test" "$bin/bench" "$bin/heap_test" "$bin/soundness" "$bin/fuzz" "$bin/stress" "$BUILD/test-initrd/"
    local c_tests="$BUILD/services/c"
    cp "$c_tests/c_test/c_test" "$c_tests/fpu_test/fpu_test" "$c_tests/assert_test/assert_test" "$BUILD/test-initrd/"
    head -c 100 "$bin/init" > "$BUILD/test-initrd/bad_truncated"
    printf 'this is not an ELF file\n' > "$BUILD/test-initrd/bad_text"
    pack test-initrd
    # One image per scenario manifest, services/tests/NAME.manifest -> build/NAME-initrd.cpio: init,
    # the manifest, and the binaries it names (the probe image: the Probe servers and clients;
    # the system scenarios of the boot tests).
    local m
    for m in "$ROOT"/services/tests/*.manifest; do
        image "$(basename "$m" .manifest)-initrd" "$m"
    done
}

# The binary of a service by name: a Rust service or test program, or a C service.
find_binary() {
    local candidate
    for candidate in "$ROOT/services/target/x86_64-unknown-none/$PROFILE/$1" "$BUILD"/services/c/*/"$1"; do
        if [ -f "$candidate" ]; then printf '%s\n' "$candidate"; return 0; fi
    done
    return 1
}

# image NAME MANIFEST [FILE...]: build/NAME/ holds init, MANIFEST as `manifest`, every binary the
# manifest names and the FILEs; build/NAME.cpio is packed from it (see `pack`).
image() {
    local dir="$BUILD/$1" manifest="$2" name found
    shift 2
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$ROOT/services/target/x86_64-unknown-none/$PROFILE/init" "$dir/"
    for name in $(awk '$1 == "service" { print $3 } $1 == "program" { print $2 }' "$manifest"); do
        # A test manifest may name binaries that are deliberately missing or broken.
        found="$(find_binary "$name")" || continue
        cp "$found" "$dir/"
    done
    if (($#)); then cp "$@" "$dir/"; fi
    cp "$manifest" "$dir/manifest"
    if [ "$manifest" = "$ROOT/services/manifest" ]; then
        for name in $(awk '$1 == "service" { print $3 } $1 == "program" { print $2 }' "$manifest"); do
            [ -f "$dir/$name" ] || die "services/manifest names \`$name\`, but no service builds it"
        done
    fi
    pack "$(basename "$dir")"
}

pack() {
    (cd "$BUILD/$1" && find . -type f | sort | cpio -o -H newc --quiet) > "$BUILD/$1.cpio"
}

boot() {
    local cpus=1 mem=256M append="" debug=() gdb=() gdb_port=1234 gdb_service="" want_gdb=0 do_build=1
    while (($#)); do
        case "$1" in
            --cpus) cpus="$2"; shift 2 ;;
            --mem) mem="$2"; shift 2 ;;
            --append) append="$2"; shift 2 ;;
            --debug) debug=(-d int,cpu_reset -D "$BUILD/qemu.log"); shift ;;
            --gdb) want_gdb=1; shift ;;
            --gdb-port) gdb_port="$2"; shift 2 ;;
            --gdb-service) gdb_service="$2"; shift 2 ;;
            --no-build) do_build=0; shift ;;
            -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
            *) die "unknown option $1 (try --help)" ;;
        esac
    done
    if ((do_build)); then build; fi
    if ((want_gdb)); then
        # -S: the CPU waits for gdb's `continue`; the stub listens on 127.0.0.1 only (gdb must not try ::1 first).
        gdb=(-S -gdb "tcp:127.0.0.1:$gdb_port")
        local cmd="gdb -q $BUILD/kernel.elf -ex 'target remote 127.0.0.1:$gdb_port'"
        if [ -n "$gdb_service" ]; then
            local elf
            elf="$(find_binary "$gdb_service")" || die "no service binary named \`$gdb_service\`"
            cmd+=" -ex 'add-symbol-file $elf'"
        fi
        log "QEMU waits for gdb on 127.0.0.1:$gdb_port; in another terminal run:"
        printf 'gdb command: %s\n' "$cmd" >&2
    fi
    log "booting Anvil: $cpus CPU(s), $mem; leave QEMU with Ctrl-A X"
    exec qemu-system-x86_64 -machine q35 -cpu max -smp "$cpus" -m "$mem" \
        -kernel "$BUILD/kernel.elf" -initrd "$BUILD/initrd.cpio" -append "$append" \
        -chardev stdio,id=console,mux=on,signal=off -serial chardev:console -mon chardev=console,mode=readline \
        -display none -no-reboot \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${debug[@]}" "${gdb[@]}"
}

# A hybrid ISO: GRUB for BIOS (El Torito) and for UEFI (an EFI system partition image), loading
# the kernel with Multiboot2 and the initrd as its module. Written to a USB stick with dd, it
# boots real machines either way.
make_iso() {
    local out="$BUILD/anvil.iso" append="" do_build=1
    while (($#)); do
        case "$1" in
            --out) out="$2"; shift 2 ;;
            --append) append="$2"; shift 2 ;;
            --no-build) do_build=0; shift ;;
            *) die "unknown option $1 for iso (--out FILE, --append \"...\", --no-build)" ;;
        esac
    done
    ensure_iso_tools
    if ((do_build)); then build; fi
    local tree
    tree="$(mktemp -d "$BUILD/iso-tree.XXXXXX")"
    mkdir -p "$tree/boot/grub"
    cp "$BUILD/kernel.elf" "$tree/boot/kernel.elf"
    cp "$BUILD/initrd.cpio" "$tree/boot/initrd.cpio"
    cat > "$tree/boot/grub/grub.cfg" <<CFG
# Written by run.sh iso. The kernel logs to COM1; GRUB shows its menu on screen and serial.
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=0
menuentry "Anvil" {
    multiboot2 /boot/kernel.elf $append
    module2 /boot/initrd.cpio initrd
    boot
}
CFG
    log "making $out (grub-mkrescue: BIOS and UEFI)"
    grub-mkrescue -o "$out" "$tree" >"$tree.log" 2>&1 || { cat "$tree.log" >&2; rm -rf "$tree" "$tree.log"; die "grub-mkrescue failed"; }
    rm -rf "$tree" "$tree.log"
    printf 'iso: %s\n' "$out" >&2
}

# Runs one test suite, appending its output to the log; a failing suite is recorded and the
# others still run.
suite() {
    local name="$1"; shift
    log "$name"
    if ! "$@" 2>&1 | tee -a "$TEST_LOG"; then
        FAILED_SUITES+=("$name")
    fi
}

run_tests() {
    TEST_LOG="$BUILD/test.log"
    FAILED_SUITES=()
    mkdir -p "$BUILD"
    : > "$TEST_LOG"
    ensure_iso_tools
    ensure_packages gdb:gdb
    # In a process of its own: inside `if`, bash would not stop build() at its first error.
    local built=1
    if ! "$ROOT/run.sh" build; then
        FAILED_SUITES+=("build")
        built=0
    fi
    suite "host tests: IDL compiler" \
        bash -c 'cd "$1" && cargo test -p anvil-idlc --release --tests' _ "$ROOT"
    suite "host tests: kernel logic" \
        bash -c 'cd "$1" && cargo test --manifest-path kernel/Cargo.toml -p anvil-kcore --release --tests' _ "$ROOT"
    if ((built)); then
        suite "host tests: libanvil-c (ctest)" bash -c 'cd "$1" && ctest --output-on-failure' _ "$BUILD"
        suite "boot tests (QEMU, TCG; ISO under SeaBIOS and OVMF; gdb)" \
            bash -c 'cd "$1" && ANVIL_BUILD="$2" cargo test --manifest-path tests/boot/Cargo.toml --release --tests -- --test-threads 2' \
            _ "$ROOT" "$BUILD"
        # The IPC tests again, on a kernel built without the IPC fast path: both paths must
        # give the same results.
        suite "IPC boot tests on the general path alone (kernel built with nofastpath)" \
            bash -c 'cd "$1/kernel" && cargo build --profile "$3" -q --features nofastpath --target-dir target-nofastpath &&
                cp target-nofastpath/x86_64-unknown-none/"$3"/kernel "$2/kernel-nofastpath.elf" && cd "$1" &&
                ANVIL_BUILD="$2" ANVIL_KERNEL=kernel-nofastpath.elf cargo test --manifest-path tests/boot/Cargo.toml --release --tests -- --test-threads 2 ipc soundness fuzz stress generated_servers benchmarks' \
            _ "$ROOT" "$BUILD" "$PROFILE"
    fi
    # The checkout checks build a scratch copy; a run inside such a copy skips them.
    if [ -z "${ANVIL_SCRATCH_COPY:-}" ]; then
        suite "fresh checkout: the root CMake flow, and a new service and IDL file as the guide says" \
            "$ROOT/tests/checkout.sh"
    fi
    # One closing line over every suite, counted from the runners' own result lines: cargo's
    # "test result:", ctest's "N tests failed out of M", and "N passed, M failed" (checkout.sh).
    local total
    total="$(awk '
        /^test result:/ { p += $4; f += $6 }
        /tests passed, [0-9]+ tests? failed out of [0-9]+/ {
            for (i = 1; i <= NF; i++) { if ($i == "failed") fl = $(i - 2); if ($i == "of") all = $(i + 1) }
            p += all - fl; f += fl
        }
        /^checkout: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
        END { printf "%d %d", p, f }' "$TEST_LOG")"
    local passed="${total% *}" failed="${total#* }"
    if ((${#FAILED_SUITES[@]})); then
        printf 'suites that failed: %s\n' "$(IFS=';'; echo "${FAILED_SUITES[*]}")"
    fi
    printf 'total: %d passed, %d failed\n' "$passed" "$failed"
    if ((failed > 0 || ${#FAILED_SUITES[@]} > 0)); then
        exit 1
    fi
}

run_bench() {
    build
    local mode unit
    for mode in "instructions (-icount shift=0: deterministic)" "host time"; do
        local icount=()
        unit=ticks
        if [[ "$mode" == instructions* ]]; then icount=(-icount shift=0); unit=insns; fi
        log "benchmarks, TSC counting $mode"
        local dir="$BUILD/bench-initrd"
        rm -rf "$dir" && mkdir -p "$dir" && cp "$BUILD/test-initrd/"* "$dir/"
        printf 'mode=%s batch=%s\n' "$unit" "${BENCH_BATCH:-1000}" > "$dir/bench.conf"
        (cd "$dir" && find . -type f | sort | cpio -o -H newc --quiet) > "$BUILD/bench-initrd.cpio"
        qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 256M "${icount[@]}" \
            -kernel "$BUILD/kernel.elf" -initrd "$BUILD/bench-initrd.cpio" -append "init=bench" \
            -serial stdio -display none -no-reboot -monitor none \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 | grep -E '^(BENCH|bench:)' || true
    done
}

# One benchmark through the insn-profile plugin: where its instructions go, per function.
run_profile() {
    local name="${1:-}" n=200 cpus=1 top=40
    [[ -n "$name" && "$name" != --* ]] || die "profile: which benchmark? (a BENCH name, see docs/performance.md)"
    shift
    while (($#)); do
        case "$1" in
            --iterations) n="$2"; shift 2 ;;
            --cpus) cpus="$2"; shift 2 ;;
            --top) top="$2"; shift 2 ;;
            *) die "profile: unknown option $1 (see the top of run.sh)" ;;
        esac
    done
    local tool="${ANVIL_INSN_PROFILE:-$ROOT/../shared/tools/insn-profile}"
    [[ -f "$tool/prof.c" && -f "$tool/symbolize.py" ]] ||
        die "profile: the insn-profile tool is not at $tool (set ANVIL_INSN_PROFILE)"
    build
    local plugin="$BUILD/libinsn-profile.so"
    if [[ ! -f "$plugin" || "$tool/prof.c" -nt "$plugin" ]]; then
        gcc -shared -fPIC -O2 -I"$tool" -o "$plugin" "$tool/prof.c"
    fi
    local bench="$ROOT/services/target/x86_64-unknown-none/$PROFILE/bench"
    # The window is `profiled` in the benchmark: from its first rdtsc to its second.
    local window
    objdump -d --no-show-raw-insn "$bench" > "$BUILD/bench.dis"
    window="$(awk '/<.*profiled.*>:/{f=1} f&&/rdtsc/{printf "0x%s ", substr($1,1,length($1)-1)} f&&/ret/{exit}' "$BUILD/bench.dis")"
    read -r start stop <<<"$window"
    [[ -n "${stop:-}" ]] || die "profile: no profiled() window found in $bench"
    local dir="$BUILD/prof-initrd"
    rm -rf "$dir" && mkdir -p "$dir" && cp "$BUILD/test-initrd/"* "$dir/"
    printf 'mode=insns batch=%s profile=%s\n' "$n" "$name" > "$dir/bench.conf"
    (cd "$dir" && find . -type f | sort | cpio -o -H newc --quiet) > "$BUILD/prof-initrd.cpio"
    log "profiling $name: $n operations on $cpus CPU(s), instructions per operation"
    qemu-system-x86_64 -machine q35 -cpu max -smp "$cpus" -m 256M -icount shift=0 \
        -plugin "$plugin,start=$start,stop=$stop,occ=1,out=$BUILD/prof.out" \
        -kernel "$BUILD/kernel.elf" -initrd "$BUILD/prof-initrd.cpio" -append "init=bench exit_when_idle" \
        -serial stdio -display none -no-reboot -monitor none \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 | grep -E '^(BENCH|bench:)' || true
    [[ -s "$BUILD/prof.out" ]] || die "profile: the plugin wrote nothing (is $name a BENCH name?)"
    python3 "$tool/symbolize.py" "$BUILD/prof.out" "$n" "$BUILD/kernel.elf" "$bench" "$top"
}

# Boots test program $1 as init on $2 CPUs with $3 of RAM, the test image plus a file $4 with
# the contents $5 (the program's configuration); prints the program's lines; succeeds if the
# program passed.
run_configured() {
    local program="$1" cpus="$2" mem="$3" file="$4" conf="$5"
    local dir="$BUILD/$program-initrd"
    rm -rf "$dir" && mkdir -p "$dir" && cp "$BUILD/test-initrd/"* "$dir/"
    printf '%s\n' "$conf" > "$dir/$file"
    (cd "$dir" && find . -type f | sort | cpio -o -H newc --quiet) > "$BUILD/$program-initrd.cpio"
    log "$program: $conf, $cpus CPU(s)"
    local start=$SECONDS status
    {
        qemu-system-x86_64 -machine q35 -cpu max -smp "$cpus" -m "$mem" \
            -kernel "$BUILD/kernel.elf" -initrd "$BUILD/$program-initrd.cpio" \
            -append "init=$program exit_when_idle" \
            -serial stdio -display none -no-reboot -monitor none \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04
        echo $? > "$BUILD/$program.status"
    } | grep -E "^$program:|fatal|KERNEL|capability-space lock" || true
    status=$(cat "$BUILD/$program.status")
    log "$program took $((SECONDS - start)) s; QEMU exit status $status (1 is a pass)"
    [ "$status" = 1 ]
}

run_fuzz() {
    local seed=0x5EED0001 calls=1000000 cpus=1 workers="" epoch=5000 mem=512M
    while (($#)); do
        case "$1" in
            --seed) seed="$2"; shift 2 ;;
            --calls) calls="$2"; shift 2 ;;
            --cpus) cpus="$2"; shift 2 ;;
            --workers) workers="$2"; shift 2 ;;
            --epoch) epoch="$2"; shift 2 ;;
            --mem) mem="$2"; shift 2 ;;
            *) die "fuzz: unknown option $1 (see the top of run.sh)" ;;
        esac
    done
    build
    run_configured fuzz "$cpus" "$mem" fuzz.conf \
        "seed=$seed calls=$calls epoch=$epoch${workers:+ workers=$workers}"
}

run_stress() {
    local rounds=40 cpus=4 mem=512M
    while (($#)); do
        case "$1" in
            --rounds) rounds="$2"; shift 2 ;;
            --cpus) cpus="$2"; shift 2 ;;
            --mem) mem="$2"; shift 2 ;;
            *) die "stress: unknown option $1 (see the top of run.sh)" ;;
        esac
    done
    build
    run_configured stress "$cpus" "$mem" stress.conf "rounds=$rounds"
}

case "${1:-}" in
    build) build ;;
    bench) run_bench ;;
    profile) shift; run_profile "$@" ;;
    fuzz) shift; run_fuzz "$@" ;;
    stress) shift; run_stress "$@" ;;
    test) run_tests ;;
    iso) shift; make_iso "$@" ;;
    *) boot "$@" ;;
esac
