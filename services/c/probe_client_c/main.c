/* probe_client_c: a C client of a Probe server (the C or the Rust one: whichever its manifest
 * line names `probe`, uses=probe=NAME), through the generated stubs. It checks that a stub sends its request in a zeroed
 * message even when the IPC buffer is full of old bytes, that a method's own error and a
 * transport status are never confused, that a reply label beyond 32 bits is not read as
 * success, and that a server refuses a capability of the wrong type. It prints one line with
 * every result; the boot test compares it. Then it becomes the helper of kind 2: it offers
 * the server an endpoint on which it serves Console, the wrong protocol for `Probe.relay`. */
#include <stdio.h>
#include <string.h>
#include <anvil/console.h>
#include <anvil/kernel.h>
#include <anvil/testing.h>
#include <anvil_runtime.h>

int main(void) {
    anvil_cap_t server = 0;
    anvil_status_t looked_up = anvil_lookup("probe", &server);
    if (looked_up != ANVIL_STATUS_OK) {
        printf("probe_client_c: lookup of `probe` failed with status %u\n", looked_up);
        return 1;
    }
    const anvil_probe_ep_t probe = anvil_probe_ep(server);
    char lang[8] = {0};
    size_t lang_len = 0;
    uint32_t used = 0;
    anvil_status_t st = anvil_probe_info(probe, lang, sizeof lang - 1, &lang_len, &used);
    if (st != ANVIL_STATUS_OK) {
        printf("probe_client_c: info failed with status %u\n", st);
        return 1;
    }
    /* Stale bytes: fill the buffer with garbage first; the stub must not send any of it. */
    memset(anvil_msg_buffer(), 0xAA, sizeof(anvil_msg_t));
    bool clean = false;
    const anvil_status_t zeros = anvil_probe_zeros(probe, 1, 2, (const uint8_t *)"abc", 3, &clean);
    /* A method's own error (MISSING = 1) against a transport status (INVALID_CAP = 1). */
    uint64_t value = 0;
    anvil_lookup_result_t missing = 0, empty_err = 0, found = 0;
    const anvil_status_t st_missing = anvil_probe_lookup(probe, 8, &value, &missing);
    const anvil_status_t st_empty = anvil_probe_lookup(anvil_probe_ep(200), 7, &value, &empty_err);
    value = 0;
    const anvil_status_t st_found = anvil_probe_lookup(probe, 7, &value, &found);
    const uint64_t found_value = value;
    /* The servers answer key 1000 with the label 1 << 32: not a success, not an error 0. */
    anvil_lookup_result_t wide_err = 0;
    const anvil_status_t st_wide = anvil_probe_lookup(probe, 1000, &value, &wide_err);
    /* A capability of the wrong type: the endpoint itself where a VMO is expected. */
    anvil_cap_t vmo = 0;
    uint64_t size = 0;
    uint32_t name_bytes = 0;
    const anvil_status_t wrong = anvil_probe_check(probe, server, ANVIL_SHAPE_CIRCLE, ANVIL_MAP_FLAGS_R,
                                                   true, "c", 1, &size, &name_bytes);
    anvil_status_t good = anvil_vmo_create(ANVIL_BOOT_SLOT_QUOTA, 4096, &vmo);
    if (good == ANVIL_STATUS_OK) {
        good = anvil_probe_check(probe, vmo, ANVIL_SHAPE_SQUARE, ANVIL_MAP_FLAGS_R | ANVIL_MAP_FLAGS_W, false, "probe",
                                 5, &size, &name_bytes);
    }
    printf("probe_client_c[%s]: zeros status %u clean %d; lookup 8: status %u error %u; lookup on an empty slot: "
           "status %u error %u; lookup 7: status %u error %u value %lu; reply label 1 << 32: status %u error %u; wrong "
           "cap type: status %u; check: status %u size %lu name %u\n",
           lang, zeros, clean, st_missing, missing, st_empty, empty_err, st_found, found, (unsigned long)found_value,
           st_wide, wide_err, wrong, good, (unsigned long)size, name_bytes);

    /* The wrong-protocol helper: a Console server (its handlers are never reached: a request
     * of another protocol is refused by the generated dispatch before any handler). */
    anvil_cap_t ep = 0;
    st = anvil_endpoint_create(ANVIL_BOOT_SLOT_QUOTA, &ep);
    if (st == ANVIL_STATUS_OK) st = anvil_probe_offer(probe, 2, ep);
    if (st != ANVIL_STATUS_OK) {
        printf("probe_client_c[%s]: cannot offer an endpoint: status %u\n", lang, st);
        return 1;
    }
    const anvil_console_ops_t ops = {NULL, NULL};
    anvil_msg_t *m = anvil_msg_buffer();
    st = anvil_endpoint_recv(ep);
    for (;;) {
        if (st == ANVIL_STATUS_OK) anvil_console_dispatch(&ops, NULL, m);
        st = anvil_endpoint_reply_recv(ep);
    }
}
