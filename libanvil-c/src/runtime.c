/* runtime.c: process start and end, the console hook, assert and abort, and the IPC hooks the
 * generated protocol stubs and servers call (the buffer, the call, releasing a received
 * capability). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <anvil/kernel.h>
#include "anvil_rt.h"

static uint64_t ipc_buffer;

void anvil_runtime_init(uint64_t ipc) {
    ipc_buffer = ipc;
}

void anvil_console_write(const char *s, size_t n) {
    while (n) {
        size_t chunk = n > 4096 ? 4096 : n;
        (void)anvil_debug_write(ANVIL_BOOT_SLOT_DEBUG, (const uint8_t *)s, chunk);
        s += chunk;
        n -= chunk;
    }
}

_Noreturn void exit(int code) {
    anvil_tcb_exit((uint64_t)(int64_t)code);
}

_Noreturn void abort(void) {
    anvil_console_write("abort\n", 6);
    exit(134);
}

_Noreturn void anvil_assert_fail(const char *expr, const char *file, int line) {
    printf("assertion failed: %s at %s:%d\n", expr, file, line);
    exit(134);
}

anvil_msg_t *anvil_msg_buffer(void) {
    return (anvil_msg_t *)(uintptr_t)ipc_buffer;
}

uint64_t anvil_msg_call(anvil_cap_t ep) {
    return anvil_endpoint_call(ep);
}

void anvil_msg_release(anvil_cap_t slot) {
    /* A slot the kernel just filled: deleting it fails only if it is already empty. */
    (void)anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, slot);
}
