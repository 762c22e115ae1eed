#!/usr/bin/env bash
# Checks on a fresh checkout, in a scratch copy of the working tree (the files git tracks plus
# new ones it does not ignore: what a clone of this work has):
#
#  1. cmake_flow: the usual `mkdir build && cd build && cmake .. && make` at the root builds
#     libanvil-c, generates the C headers from idl/ and builds every C service;
#  2. growth: adding a C service and a Rust service folder, their manifest lines and a new
#     .idl file, the way docs/writing-services.md says, keeps `./run.sh test` green (the copy's
#     own full run, without these checkout checks), and the new services run.
#
# Prints `checkout: ok NAME` or `checkout: FAIL NAME` per check and the closing
# `checkout: N passed, M failed` line that ./run.sh test counts; exits 1 if any check failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ANVIL_BUILD:-$ROOT/build}"
SCRATCH="$BUILD/scratch"
COPY="$SCRATCH/anvil"
passed=0
failed=0

log() { printf '\033[1m==> checkout: %s\033[0m\n' "$*" >&2; }
result() {
    if [ "$2" = 0 ]; then
        printf 'checkout: ok %s\n' "$1"
        passed=$((passed + 1))
    else
        printf 'checkout: FAIL %s (%s)\n' "$1" "$3"
        failed=$((failed + 1))
    fi
}

log "copying the working tree to $COPY"
rm -rf "$SCRATCH"
mkdir -p "$COPY"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$COPY" -xf -

# 1. The root CMake flow, as README says, in a tree that has never been built.
cmake_flow() {
    (cd "$COPY" && mkdir build && cd build && cmake .. >/dev/null && make -j 2 >"$SCRATCH/make.log" 2>&1) ||
        { tail -30 "$SCRATCH/make.log"; return 1; }
    local list dir name missing=0
    for list in "$COPY"/services/c/*/CMakeLists.txt; do
        dir="$(basename "$(dirname "$list")")"
        for name in $(sed -n 's/^anvil_add_service(\([A-Za-z0-9_]*\).*/\1/p' "$list"); do
            if ! head -c 4 "$COPY/build/services/c/$dir/$name" 2>/dev/null | grep -q 'ELF'; then
                echo "no binary for the C service $name (services/c/$dir)"
                missing=1
            fi
        done
    done
    [ -f "$COPY/build/include/anvil/kernel.h" ] || { echo "no generated <anvil/kernel.h>"; missing=1; }
    return "$missing"
}
log "root CMake flow: mkdir build && cd build && cmake .. && make"
cmake_flow
result "cmake_flow: mkdir build && cd build && cmake .. && make builds every C service" $? "see above"

# 2. Growth, following docs/writing-services.md: copy the templates, write the guide's code,
#    add manifest lines, declare a protocol in a new .idl file.
grow() {
    cd "$COPY" || return 1
    cp -r services/c/template_c services/c/greeter
    mv services/c/greeter/main.c services/c/greeter/greeter.c
    sed -i 's/template_c/greeter/g; s/main.c/greeter.c/' services/c/greeter/CMakeLists.txt
    cp -r services/rust/template_rs services/rust/greeter_rs
    sed -i 's/template_rs/greeter_rs/g' services/rust/greeter_rs/Cargo.toml
    # The guide's code (section 2), using the header generated from the new .idl file.
    cat > services/c/greeter/greeter.c <<'C'
#include <stdio.h>
#include <anvil/kernel.h>
#include <anvil/greeter.h>

int main(void) {
    uint32_t cpu = 0;
    anvil_tcb_current_cpu(&cpu);
    printf("greeter: hello from cpu %u\n", cpu);
    return 0;
}
C
    cat > services/rust/greeter_rs/src/main.rs <<'RS'
#![no_std]
#![no_main]

anvil::entry!(main);

fn main() -> u64 {
    anvil::println!("greeter_rs: hello from cpu {}", anvil::Tcb::current_cpu().unwrap_or(0));
    0
}
RS
    printf 'service greeter greeter quota=1M\nservice greeter_rs greeter_rs quota=2M\n' >> services/manifest
    cat > idl/greeter.idl <<'IDL'
/// A greeting protocol, added by tests/checkout.sh the way the guide says.
library anvil.greeter;

protocol Greeter {
    /// Greets `name`; returns how many greetings were made so far.
    1: greet(name: string<64>) -> (count: u32);
}
IDL
}

log "growth: a new C and Rust service, manifest lines and idl/greeter.idl, as the guide says"
if grow; then
    # The copy's own full test run (its checkout checks skipped), on the same machine: the
    # registry crates already built here are reused through copies of the target folders.
    for t in kernel/target services/target tests/boot/target; do
        [ -d "$ROOT/$t" ] && cp -a "$ROOT/$t" "$COPY/$t"
    done
    log "growth: ./run.sh test in the copy"
    (cd "$COPY" && ANVIL_SCRATCH_COPY=1 ANVIL_BUILD="$COPY/build" ./run.sh test >"$SCRATCH/test.log" 2>&1)
    st=$?
    if [ "$st" != 0 ]; then
        # Indented, so that ./run.sh test does not count the copy's result lines as its own.
        grep -E '^(test .* FAILED|    [a-z_:]+$|suites that failed|total:)|FAIL|differs|stale|panicked' "$SCRATCH/test.log" |
            head -40 | sed 's/^/    copy| /'
    fi
    result "growth: ./run.sh test stays green with the new services and IDL file" "$st" "log: $SCRATCH/test.log"
    # And the new services run in a normal boot.
    out="$(timeout 60 qemu-system-x86_64 -machine q35 -cpu max -m 256M -display none -no-reboot -serial stdio \
        -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$COPY/build/kernel.elf" \
        -initrd "$COPY/build/initrd.cpio" -append exit_when_idle </dev/null 2>&1 | tr -d '\r')"
    grep -q '^greeter: hello from cpu 0' <<<"$out" && grep -q '^greeter_rs: hello from cpu 0' <<<"$out"
    result "growth: the new C and Rust services print in a normal boot" $? "boot log did not show both greetings"
else
    result "growth: the guide's steps apply" 1 "a step failed"
fi

printf 'checkout: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
