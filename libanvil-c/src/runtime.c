/* runtime.c: process start and end, the console (the IO server, or the kernel's debug console),
 * the name server's client side, assert and abort, and the IPC hooks the generated protocol
 * stubs and servers call (the buffer, the call, releasing a received capability). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <anvil/console.h>
#include <anvil/kernel.h>
#include <anvil_runtime.h>
#include "anvil_rt.h"

static uint64_t ipc_buffer;

void anvil_runtime_init(uint64_t ipc) {
    ipc_buffer = ipc;
}

/* ---- the console ----------------------------------------------------------------------------
 * Output goes to the IO server's Console endpoint once the name server gives this service
 * `console` (looked up when it first prints: waiting for the IO server if the service has no
 * debug console to print to meanwhile), else to the kernel's debug console if the service holds
 * it, else nowhere. A failed write (the IO server was restarted: its old endpoint is gone) looks
 * the console up again once. */
static anvil_cap_t console_slot;
enum { NAMES_UNKNOWN, NAMES_CLIENT, NAMES_NONE };
static int names_state = NAMES_UNKNOWN;

void anvil_console_use(anvil_cap_t slot) {
    console_slot = slot;
}

static int holds(anvil_cap_t slot, uint32_t type, anvil_rights_t need, anvil_rights_t *rights) {
    uint32_t t = 0;
    anvil_rights_t r = 0;
    uint64_t badge = 0;
    if (anvil_cap_identify(ANVIL_BOOT_SLOT_CNODE, slot, &t, &r, &badge) != ANVIL_STATUS_OK) return 0;
    if (rights) *rights = r;
    return (type == 0 || t == type) && (r & need) == need;
}

/* Moves the console capability to the CNode's last slot if it is free: the kernel gives out
 * the lowest free slot, so the console's is not one a revoked capability of the service's own
 * code leaves empty and the service might delete by its old number. */
static anvil_cap_t keep_apart(anvil_cap_t slot) {
    uint32_t slots = 0, used = 0;
    if (anvil_cnode_info(ANVIL_BOOT_SLOT_CNODE, &slots, &used) != ANVIL_STATUS_OK || slots == 0) return slot;
    const anvil_cap_t last = slots - 1;
    if (slot != last && !holds(last, 0, 0, NULL) &&
        anvil_cap_transfer(ANVIL_BOOT_SLOT_CNODE, slot, ANVIL_BOOT_SLOT_CNODE, last) == ANVIL_STATUS_OK) {
        return last;
    }
    return slot;
}

static anvil_cap_t console(void) {
    if (console_slot || names_state == NAMES_NONE) return console_slot;
    if (names_state == NAMES_UNKNOWN) {
        /* A client holds the name server's endpoint without READ; the name server serves it. */
        anvil_rights_t r = 0;
        int client = holds(ANVIL_BOOT_SLOT_NAMES, ANVIL_OBJ_ENDPOINT, 0, &r) && !(r & ANVIL_RIGHTS_READ);
        names_state = client ? NAMES_CLIENT : NAMES_NONE;
        if (!client) return 0;
    }
    /* The debug console's slot holds it only if init granted it; otherwise the slot is free and
     * may hold anything this service made since (the kernel gives out the lowest free slot),
     * so the object's type is checked, not only the right. */
    int has_debug = holds(ANVIL_BOOT_SLOT_DEBUG, ANVIL_OBJ_DEBUG, ANVIL_RIGHTS_WRITE, NULL);
    anvil_cap_t ep = 0;
    anvil_status_t st = has_debug ? anvil_try_lookup("console", &ep) : anvil_lookup("console", &ep);
    if (st == ANVIL_STATUS_OK) {
        console_slot = keep_apart(ep);
    } else if (st == ANVIL_STATUS_ACCESS_DENIED) {
        names_state = NAMES_NONE; /* not allowed: do not ask at every line */
    } /* else not registered yet, or the name server restarted: ask again next time */
    return console_slot;
}

static void debug_write(const char *s, size_t n) {
    while (n) {
        size_t chunk = n > 4096 ? 4096 : n;
        (void)anvil_debug_write(ANVIL_BOOT_SLOT_DEBUG, (const uint8_t *)s, chunk);
        s += chunk;
        n -= chunk;
    }
}

/* Drops a console endpoint that failed; deletes it if it is still there (a revoked capability
 * leaves its slot empty, and the slot may hold something else later). */
static void forget_console(anvil_cap_t slot) {
    if (console_slot != slot) return;
    console_slot = 0;
    if (holds(slot, ANVIL_OBJ_ENDPOINT, 0, NULL)) (void)anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, slot);
}

void anvil_rt_console_write(const char *s, size_t n) {
    while (n) {
        size_t chunk = n > 256 ? 256 : n;
        int done = 0;
        for (int attempt = 0; attempt < 2 && !done; attempt++) {
            anvil_cap_t c = console();
            if (!c) break;
            uint32_t written = 0;
            if (anvil_console_write(anvil_console_ep(c), (const uint8_t *)s, chunk, &written) == ANVIL_STATUS_OK) {
                done = 1;
            } else {
                forget_console(c);
            }
        }
        if (!done) debug_write(s, chunk);
        s += chunk;
        n -= chunk;
    }
}

/* ---- the name server ------------------------------------------------------------------------ */
anvil_status_t anvil_lookup(const char *name, anvil_cap_t *endpoint) {
    return anvil_name_service_lookup(anvil_names(), name, strlen(name), endpoint);
}

anvil_status_t anvil_try_lookup(const char *name, anvil_cap_t *endpoint) {
    return anvil_name_service_try_lookup(anvil_names(), name, strlen(name), endpoint);
}

anvil_status_t anvil_register(const char *name, anvil_cap_t endpoint) {
    return anvil_name_service_register(anvil_names(), name, strlen(name), endpoint);
}

_Noreturn void exit(int code) {
    anvil_tcb_exit((uint64_t)(int64_t)code);
}

_Noreturn void abort(void) {
    anvil_rt_console_write("abort\n", 6);
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
