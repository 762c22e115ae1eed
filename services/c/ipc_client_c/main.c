/* ipc_client_c: a Console protocol client in C, through the generated client stubs, of
 * whatever server init connected it to (the Rust one in the default boot). */
#include <stdio.h>
#include <string.h>
#include <anvil/console.h>
#include <anvil/kernel.h>

int main(void) {
    const char *text = "hello from a C client";
    /* The endpoint init gave this service speaks Console: say so with the typed handle. */
    const anvil_console_ep_t console = anvil_console_ep(ANVIL_BOOT_SLOT_USE);
    uint32_t written = 0;
    anvil_status_t st = anvil_console_write(console, (const uint8_t *)text, strlen(text), &written);
    printf("ipc_client_c: write status %u, server took %u bytes\n", st, written);
    uint8_t buf[64];
    size_t len = 0;
    st = anvil_console_read(console, 32, buf, sizeof buf, &len);
    printf("ipc_client_c: read status %u, \"%.*s\"\n", st, (int)len, (const char *)buf);
    return 0;
}
