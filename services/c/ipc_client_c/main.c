/* ipc_client_c: a Console protocol client in C, through the generated client stubs, of the
 * server its manifest line names `peer` (uses=peer=NAME: the Rust one in the test image). */
#include <stdio.h>
#include <string.h>
#include <anvil/console.h>
#include <anvil/kernel.h>
#include <anvil_runtime.h>

int main(void) {
    const char *text = "hello from a C client";
    anvil_cap_t peer = 0;
    anvil_status_t st = anvil_lookup("peer", &peer);
    if (st != ANVIL_STATUS_OK) {
        printf("ipc_client_c: lookup of `peer` failed with status %u\n", st);
        return 1;
    }
    /* The endpoint speaks Console: say so with the typed handle. */
    const anvil_console_ep_t console = anvil_console_ep(peer);
    uint32_t written = 0;
    st = anvil_console_write(console, (const uint8_t *)text, strlen(text), &written);
    printf("ipc_client_c: write status %u, server took %u bytes\n", st, written);
    uint8_t buf[64];
    size_t len = 0;
    st = anvil_console_read(console, 32, buf, sizeof buf, &len);
    printf("ipc_client_c: read status %u, \"%.*s\"\n", st, (int)len, (const char *)buf);
    return 0;
}
