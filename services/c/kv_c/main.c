/* kv_c: a Store server (idl/testing.idl) in C, registered as `kv_c`, for the restart test: it
 * keeps a few keys, faults while it holds a `crash` call, and keeps a `hold` call unanswered
 * (its saved reply) while it serves others. Init restarts it when it faults (restart=on-failure);
 * a restarted kv_c starts empty and registers again. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <anvil/kernel.h>
#include <anvil/testing.h>
#include <anvil_runtime.h>

#define KEYS 16

static uint32_t keys[KEYS];
static uint64_t values[KEYS];
static int used[KEYS];

static anvil_status_t on_put(void *ctx, uint64_t badge, uint32_t key, uint64_t value) {
    (void)ctx;
    (void)badge;
    for (int i = 0; i < KEYS; i++) {
        if (!used[i] || keys[i] == key) {
            used[i] = 1;
            keys[i] = key;
            values[i] = value;
            return ANVIL_STATUS_OK;
        }
    }
    return ANVIL_STATUS_NO_MEMORY;
}

static anvil_status_t on_get(void *ctx, uint64_t badge, uint32_t key, uint64_t *value) {
    (void)ctx;
    (void)badge;
    for (int i = 0; i < KEYS; i++) {
        if (used[i] && keys[i] == key) {
            *value = values[i];
            return ANVIL_STATUS_OK;
        }
    }
    return ANVIL_STATUS_NOT_FOUND;
}

static anvil_status_t on_crash(void *ctx, uint64_t badge) {
    (void)ctx;
    (void)badge;
    printf("kv_c: crashing while holding a call\n");
    /* An address nothing is mapped at, hidden from the compiler's bounds analysis. */
    uintptr_t addr = 0x10;
    __asm__ volatile("" : "+r"(addr));
    *(volatile uint64_t *)addr = 1;
    return ANVIL_STATUS_OK;
}

static anvil_status_t on_hold(void *ctx, uint64_t badge) {
    (void)ctx;
    (void)badge;
    /* Kept for ever: the saved reply is deleted only when this process is destroyed. */
    anvil_cap_t reply = 0;
    anvil_status_t st = anvil_endpoint_save_reply(ANVIL_BOOT_SLOT_QUOTA, &reply);
    printf("kv_c: holding a call (status %u)\n", st);
    return ANVIL_STATUS_WOULD_BLOCK;
}

static anvil_status_t on_name(void *ctx, uint64_t badge, char name[16], size_t *len) {
    (void)ctx;
    (void)badge;
    memcpy(name, "kv_c", 4);
    *len = 4;
    return ANVIL_STATUS_OK;
}

int main(void) {
    const anvil_store_ops_t ops = {
        .handle_put = on_put,
        .handle_get = on_get,
        .handle_crash = on_crash,
        .handle_hold = on_hold,
        .handle_name = on_name,
    };
    anvil_cap_t ep = 0;
    anvil_status_t st = anvil_endpoint_create(ANVIL_BOOT_SLOT_QUOTA, &ep);
    if (st == ANVIL_STATUS_OK) st = anvil_register("kv_c", ep);
    if (st != ANVIL_STATUS_OK) {
        printf("kv_c: cannot serve: status %u\n", st);
        return 1;
    }
    printf("kv_c: serving\n");
    anvil_msg_t *m = anvil_msg_buffer();
    st = anvil_endpoint_recv(ep);
    for (;;) {
        if (st == ANVIL_STATUS_OK) anvil_store_dispatch(&ops, NULL, m);
        /* After a held call there is no reply to send: reply_recv just receives. */
        st = anvil_endpoint_reply_recv(ep);
    }
}
