/* console_c: a Console protocol server in C (the generated ops table and dispatch), registered
 * with the name server as `c_console`. It prints what clients write, tagged with their badge,
 * and answers reads with a fixed reply. */
#include <stdio.h>
#include <string.h>
#include <anvil/console.h>
#include <anvil/kernel.h>
#include <anvil_runtime.h>

static unsigned calls;

static anvil_status_t on_write(void *ctx, uint64_t badge, const uint8_t *data, size_t len, uint32_t *written) {
    (void)ctx;
    calls++;
    printf("console_c: client %lu wrote \"%.*s\" (call %u)\n", (unsigned long)badge, (int)len, (const char *)data, calls);
    *written = (uint32_t)len;
    return ANVIL_STATUS_OK;
}

static anvil_status_t on_read(void *ctx, uint64_t badge, uint32_t max, uint8_t data[256], size_t *len) {
    (void)ctx;
    calls++;
    static const char reply[] = "pong from C";
    size_t n = sizeof reply - 1 < max ? sizeof reply - 1 : max;
    memcpy(data, reply, n);
    *len = n;
    printf("console_c: client %lu read %u bytes\n", (unsigned long)badge, (unsigned)n);
    return ANVIL_STATUS_OK;
}

int main(void) {
    const anvil_console_ops_t ops = {.handle_write = on_write, .handle_read = on_read};
    anvil_msg_t *m = anvil_msg_buffer();
    anvil_cap_t ep = 0;
    anvil_status_t st = anvil_endpoint_create(ANVIL_BOOT_SLOT_QUOTA, &ep);
    if (st == ANVIL_STATUS_OK) st = anvil_register("c_console", ep);
    if (st != ANVIL_STATUS_OK) {
        printf("console_c: cannot serve: status %u\n", st);
        return 1;
    }
    printf("console_c: serving\n");
    st = anvil_endpoint_recv(ep);
    for (;;) {
        if (st == ANVIL_STATUS_OK) anvil_console_dispatch(&ops, NULL, m);
        st = anvil_endpoint_reply_recv(ep);
    }
}
