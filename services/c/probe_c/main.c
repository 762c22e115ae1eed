/* probe_c: the C server of the `Probe` test protocol (idl/testing.idl). Its generated dispatch
 * must answer hostile requests exactly as probe_rs, the Rust server, does; the handlers only
 * report what they were given, so every refusal in the boot test comes from generated code. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <anvil/kernel.h>
#include <anvil/testing.h>
#include <anvil_runtime.h>

typedef struct server {
    /* Whether the last `zeros` request had zero bytes wherever it carried no value. */
    bool last_clean;
    /* Endpoints helpers offered, by kind (1 and 2); 0: none yet. */
    anvil_cap_t helpers[3];
} server_t;

/* The stale-bytes check: looks at the request as it arrived, before the dispatch decodes it. */
static bool unused_bytes_zero(const anvil_msg_t *m) {
    if (m->data_len != ANVIL_PROBE_ZEROS_REQUEST_SIZE) return false;
    anvil_probe_zeros_request_t q;
    memcpy(&q, m->data, sizeof q);
    const size_t len = q.data_len < sizeof q.data ? q.data_len : sizeof q.data;
    const size_t pad = offsetof(anvil_probe_zeros_request_t, pad);
    const size_t wide = offsetof(anvil_probe_zeros_request_t, wide);
    const size_t dlen = offsetof(anvil_probe_zeros_request_t, data_len);
    const size_t data = offsetof(anvil_probe_zeros_request_t, data);
    for (size_t i = 0; i < sizeof q; i++) {
        const bool used = i == pad || (i >= wide && i < wide + 8) || (i >= dlen && i < dlen + 4) ||
                          (i >= data && i < data + len);
        if (!used && m->data[i] != 0) return false;
    }
    return true;
}

static anvil_status_t on_check(void *ctx, uint64_t badge, anvil_rx_cap_t *vmo, anvil_shape_t shape,
                               anvil_map_flags_t flags, bool on, const char *name, size_t name_len,
                               uint64_t *size, uint32_t *name_bytes) {
    (void)ctx, (void)badge, (void)shape, (void)flags, (void)on, (void)name;
    *name_bytes = (uint32_t)name_len;
    return anvil_vmo_size(vmo->slot, size);
}

static anvil_status_t on_carry(void *ctx, uint64_t badge, anvil_rx_cap_t *a, anvil_rx_cap_t *b, anvil_rx_cap_t *c,
                               anvil_rx_cap_t *d) {
    (void)ctx, (void)badge, (void)a, (void)b, (void)c, (void)d;
    return ANVIL_STATUS_OK;
}

static anvil_status_t on_keep(void *ctx, uint64_t badge, anvil_rx_cap_t *held, uint64_t *slot) {
    (void)ctx, (void)badge;
    *slot = anvil_rx_take(held);
    return ANVIL_STATUS_OK;
}

static anvil_status_t on_info(void *ctx, uint64_t badge, char lang[8], size_t *lang_len, uint32_t *used) {
    (void)ctx, (void)badge;
    memcpy(lang, "C", 1);
    *lang_len = 1;
    uint32_t slots = 0;
    return anvil_cnode_info(ANVIL_BOOT_SLOT_CNODE, &slots, used);
}

static anvil_status_t on_relay(void *ctx, uint64_t badge, anvil_rx_cap_t *target, uint64_t value, uint64_t *echoed) {
    (void)ctx, (void)badge;
    return anvil_echo_echo(anvil_echo_ep(target->slot), value, echoed);
}

static anvil_status_t on_zeros(void *ctx, uint64_t badge, uint8_t pad, uint64_t wide, const uint8_t *data,
                               size_t data_len, bool *clean) {
    (void)badge, (void)pad, (void)wide, (void)data, (void)data_len;
    *clean = ((server_t *)ctx)->last_clean;
    return ANVIL_STATUS_OK;
}

static anvil_lookup_result_t on_lookup(void *ctx, uint64_t badge, uint32_t key, uint64_t *value) {
    (void)ctx, (void)badge;
    if (key != 7) return ANVIL_LOOKUP_RESULT_MISSING;
    *value = 49;
    return ANVIL_LOOKUP_RESULT_FOUND;
}

static anvil_status_t on_offer(void *ctx, uint64_t badge, uint8_t kind, anvil_rx_cap_t *endpoint) {
    (void)badge;
    if (kind < 1 || kind > 2) return ANVIL_STATUS_INVALID_ARGS;
    ((server_t *)ctx)->helpers[kind] = anvil_rx_take(endpoint);
    return ANVIL_STATUS_OK;
}

static anvil_status_t on_helper(void *ctx, uint64_t badge, uint8_t kind, anvil_cap_t *endpoint) {
    (void)badge;
    if (kind < 1 || kind > 2) return ANVIL_STATUS_INVALID_ARGS;
    if (((server_t *)ctx)->helpers[kind] == 0) return ANVIL_STATUS_NOT_FOUND;
    *endpoint = ((server_t *)ctx)->helpers[kind];
    return ANVIL_STATUS_OK;
}

/* The test hook of `lookup`: key 1000 gets the reply label 1 << 32 instead of the dispatch. */
static bool wide_label_hook(anvil_msg_t *m) {
    anvil_probe_lookup_request_t q;
    if (m->label != ANVIL_PROBE_LOOKUP_LABEL || m->data_len < sizeof q) return false;
    memcpy(&q, m->data, sizeof q);
    if (q.key != 1000) return false;
    anvil_msg_clear(m);
    m->label = (uint64_t)1 << 32;
    return true;
}

int main(void) {
    const anvil_probe_ops_t ops = {
        .handle_check = on_check,
        .handle_carry = on_carry,
        .handle_keep = on_keep,
        .handle_info = on_info,
        .handle_relay = on_relay,
        .handle_zeros = on_zeros,
        .handle_lookup = on_lookup,
        .handle_offer = on_offer,
        .handle_helper = on_helper,
    };
    server_t srv = {false, {0, 0, 0}};
    anvil_msg_t *m = anvil_msg_buffer();
    /* Served under the name `probe_c` (the clients look it up as `probe`). */
    anvil_cap_t ep = 0;
    anvil_status_t st = anvil_endpoint_create(ANVIL_BOOT_SLOT_QUOTA, &ep);
    if (st == ANVIL_STATUS_OK) st = anvil_register("probe_c", ep);
    if (st != ANVIL_STATUS_OK) {
        printf("probe_c: cannot serve: status %u\n", st);
        return 1;
    }
    printf("probe_c: serving\n");
    st = anvil_endpoint_recv(ep);
    for (;;) {
        if (st == ANVIL_STATUS_OK) {
            if (m->label == ANVIL_PROBE_ZEROS_LABEL) srv.last_clean = unused_bytes_zero(m);
            if (!wide_label_hook(m)) anvil_probe_dispatch(&ops, &srv, m);
        }
        st = anvil_endpoint_reply_recv(ep);
    }
}
