/* c_test: libanvil-c on Anvil: malloc under churn (reuse, bounded growth), printf formats, and
 * every syscall stub the IDL generates for C, each checked against its documented status.
 * Prints `c_test: PASS` or `c_test: FAIL ...` lines and shuts the machine down with the verdict. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <anvil/kernel.h>

static int failures;

#define CHECK(what, cond)                                 \
    do {                                                  \
        if (cond) {                                       \
            printf("c_test: ok %s\n", what);              \
        } else {                                          \
            printf("c_test: FAIL %s (line %d)\n", what, __LINE__); \
            failures++;                                   \
        }                                                 \
    } while (0)

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void malloc_churn(void) {
    enum { SLOTS = 512, ROUNDS = 8000 };
    static unsigned char *ptrs[SLOTS];
    static size_t sizes[SLOTS];
    int corrupt = 0;
    size_t peak = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int i = (int)(next_rand() % SLOTS);
        if (ptrs[i]) {
            for (size_t k = 0; k < sizes[i]; k++)
                if (ptrs[i][k] != (unsigned char)(i + k)) corrupt = 1;
            free(ptrs[i]);
            ptrs[i] = NULL;
        } else {
            size_t n = 1 + next_rand() % (next_rand() % 8 == 0 ? 8192 : 256);
            ptrs[i] = malloc(n);
            if (!ptrs[i]) {
                corrupt = 1;
                continue;
            }
            sizes[i] = n;
            for (size_t k = 0; k < n; k++) ptrs[i][k] = (unsigned char)(i + k);
        }
        if (anvil_heap_reserved() > peak) peak = anvil_heap_reserved();
    }
    size_t reserved_mid = anvil_heap_reserved();
    for (int i = 0; i < SLOTS; i++) {
        free(ptrs[i]);
        ptrs[i] = NULL;
    }
    CHECK("malloc contents survive churn", !corrupt);
    CHECK("everything freed is accounted", anvil_heap_in_use() == 0);
    /* A second churn of the same shape reuses the freed memory instead of growing. */
    for (int r = 0; r < ROUNDS; r++) {
        int i = (int)(next_rand() % SLOTS);
        if (ptrs[i]) {
            free(ptrs[i]);
            ptrs[i] = NULL;
        } else {
            ptrs[i] = malloc(1 + next_rand() % 256);
        }
    }
    for (int i = 0; i < SLOTS; i++) free(ptrs[i]);
    printf("c_test: heap reserved %zu bytes (peak during churn %zu), %zu after a second churn\n", reserved_mid, peak,
           anvil_heap_reserved());
    CHECK("freed memory is reused (no growth in the second churn)", anvil_heap_reserved() == reserved_mid);
    CHECK("heap growth stays bounded", anvil_heap_reserved() <= 4u * 1024 * 1024);
    char *a = calloc(100, 4);
    int zero = 1;
    for (int i = 0; i < 400; i++) zero &= a[i] == 0;
    CHECK("calloc zeroes", a && zero);
    memset(a, 7, 400);
    char *b = realloc(a, 5000);
    CHECK("realloc keeps contents", b && b[0] == 7 && b[399] == 7);
    free(b);
}

static void formats(void) {
    char buf[128];
    snprintf(buf, sizeof buf, "%d|%5d|%-5d|%05d|%u|%x|%X|%s|%c|%%|%p", -42, 7, 7, 42, 4000000000u, 0xbeefu, 0xbeefu, "str",
             'z', (void *)0x1000);
    CHECK("printf formats", strcmp(buf, "-42|    7|7    |00042|4000000000|beef|BEEF|str|z|%|0x1000") == 0);
    snprintf(buf, sizeof buf, "%lld %llu %zu %.3s %8s", -1234567890123ll, 18446744073709551615ull, (size_t)99, "abcdef",
             "r");
    CHECK("printf long, size and precision", strcmp(buf, "-1234567890123 18446744073709551615 99 abc        r") == 0);
    int n = snprintf(buf, 4, "%s", "truncated");
    CHECK("snprintf truncates and returns the full length", n == 9 && strcmp(buf, "tru") == 0);
    snprintf(buf, sizeof buf, "%#x|%#o|%+d|% d|%.3d|%e|%.2f|%g|%a|%Lg|%5.1f%%", 255u, 8u, 5, 5, 7, 1234.5, 2.375, 1e-5,
             1.0, 2.5L, 99.44);
    CHECK("printf flags, integer precision and floating point",
          strcmp(buf, "0xff|010|+5| 5|007|1.234500e+03|2.38|1e-05|0x1p+0|2.5| 99.4%") == 0);
    /* The console takes any bytes: this line is not UTF-8 and still arrives whole. */
    printf("c_test: bytes \xff\xfe\x80 are not UTF-8\n");
}

/* Every syscall stub, called through the generated C header. Where a success needs setup the
 * call succeeds; otherwise it is aimed at an empty slot and must get INVALID_CAP, which shows
 * that the stub passes its arguments in the registers the kernel decodes. */
static void stubs(void) {
    const anvil_cap_t E = 200; /* an empty slot */
    const anvil_cap_t Q = ANVIL_BOOT_SLOT_QUOTA, V = ANVIL_BOOT_SLOT_VSPACE, C = ANVIL_BOOT_SLOT_CNODE;
    int bad = 0;
#define EXPECT(call, want)                                              \
    do {                                                                \
        anvil_status_t st_ = (call);                                    \
        if (st_ != (want)) {                                            \
            printf("c_test: FAIL %s gave %u, expected %u\n", #call, st_, (unsigned)(want)); \
            bad++;                                                      \
        }                                                               \
    } while (0)
    const anvil_status_t OK = ANVIL_STATUS_OK, NOCAP = ANVIL_STATUS_INVALID_CAP;
    uint64_t a = 0, b = 0, c = 0;
    uint32_t u32 = 0;
    anvil_rights_t rights = 0;
    anvil_cap_t q2 = 0, vmo = 0, cn = 0, tcb = 0, vs = 0, ep = 0;
    EXPECT(anvil_quota_split(Q, 1 << 20, &q2), OK);
    EXPECT(anvil_quota_info(q2, &a, &b), OK);
    EXPECT(anvil_cnode_create(q2, 16, &cn), OK);
    EXPECT(anvil_vmo_create(q2, 8192, &vmo), OK);
    EXPECT(anvil_cap_copy(C, vmo, cn, 3, ANVIL_RIGHTS_READ), OK);
    EXPECT(anvil_cap_mint(C, vmo, cn, 4, ANVIL_RIGHTS_READ, 9), OK);
    EXPECT(anvil_cap_transfer(cn, 4, cn, 5), OK);
    EXPECT(anvil_cap_identify(cn, 5, &u32, &rights, &c), OK);
    if (c != 9 || rights != ANVIL_RIGHTS_READ) bad++;
    EXPECT(anvil_cap_delete(cn, 5), OK);
    EXPECT(anvil_cap_revoke(C, vmo), OK);
    EXPECT(anvil_vmo_size(vmo, &a), OK);
    EXPECT(anvil_vmo_committed(vmo, &a), OK);
    EXPECT(anvil_vmo_write(vmo, 0, (const uint8_t *)"hi", 2), OK);
    EXPECT(anvil_vspace_map(V, vmo, 0x55000000, 0, 8192, ANVIL_MAP_FLAGS_R), OK);
    if (*(volatile char *)0x55000000 != 'h') bad++;
    EXPECT(anvil_vspace_unmap(V, 0x55000000, 8192), OK);
    EXPECT(anvil_vspace_alloc(V, q2, 4096, ANVIL_MAP_FLAGS_R | ANVIL_MAP_FLAGS_W, &a), OK);
    EXPECT(anvil_vspace_unmap(V, a, 4096), OK);
    EXPECT(anvil_vspace_create(q2, &vs), OK);
    EXPECT(anvil_tcb_create(q2, &tcb), OK);
    EXPECT(anvil_tcb_configure(tcb, vs, cn, 0, 1), OK);
    anvil_regs_t regs = {.rip = 0x400000, .rsp = 0x500000, .arg0 = 0, .arg1 = 0, .arg2 = 0};
    EXPECT(anvil_tcb_set_regs(tcb, &regs), OK);
    EXPECT(anvil_tcb_set_affinity(tcb, 0), OK);
    EXPECT(anvil_tcb_set_name(tcb, "c_test_child", 12), OK);
    EXPECT(anvil_tcb_suspend(tcb), OK);
    EXPECT(anvil_tcb_resume(E), NOCAP);
    EXPECT(anvil_tcb_yield_now(), OK);
    EXPECT(anvil_tcb_current_cpu(&u32), OK);
    EXPECT(anvil_endpoint_create(q2, &ep), OK);
    EXPECT(anvil_endpoint_call(E), NOCAP);
    EXPECT(anvil_endpoint_send(E), NOCAP);
    EXPECT(anvil_endpoint_recv(E), NOCAP);
    EXPECT(anvil_endpoint_reply(), ANVIL_STATUS_BAD_STATE); /* no call to answer */
    EXPECT(anvil_endpoint_reply_recv(E), NOCAP);
    EXPECT(anvil_io_port_split(E, 0x80, 1, &a), NOCAP);
    EXPECT(anvil_io_port_read(E, 0, 1, &u32), NOCAP);
    EXPECT(anvil_io_port_write(E, 0, 1, 0), NOCAP);
    EXPECT(anvil_irq_control_get(E, 1, &a), NOCAP);
    EXPECT(anvil_irq_bind(E, ep), NOCAP);
    EXPECT(anvil_irq_ack(E), NOCAP);
    EXPECT(anvil_debug_write(ANVIL_BOOT_SLOT_DEBUG, (const uint8_t *)"c_test: Debug.write through the C stub\n", 39), OK);
    EXPECT(anvil_debug_stats(E, &a, &b), NOCAP);
    /* Notifications, bound threads, thread statistics, saved replies, the kernel's figures. */
    anvil_cap_t ntfn = 0;
    anvil_thread_state_t state = 0;
    bool idle = false;
    EXPECT(anvil_notification_create(q2, &ntfn), OK);
    EXPECT(anvil_notification_signal(ntfn), OK);
    EXPECT(anvil_notification_poll(ntfn, &a), OK);
    if (a != 1) bad++;
    EXPECT(anvil_notification_signal(ntfn), OK);
    EXPECT(anvil_notification_wait(ntfn, &a), OK); /* a bit is set: no wait */
    if (a != 1) bad++;
    EXPECT(anvil_tcb_bind_notification(tcb, ntfn), OK);
    EXPECT(anvil_tcb_unbind_notification(tcb), OK);
    EXPECT(anvil_tcb_stats(tcb, &state, &u32, &a), OK);
    if (state != ANVIL_THREAD_STATE_INACTIVE) bad++; /* suspending a thread that never ran changes nothing */
    EXPECT(anvil_cap_thread_stats(C, tcb, &state, &u32, &a), OK);
    if (state != ANVIL_THREAD_STATE_INACTIVE || u32 != 0xFFFFFFFFu) bad++;
    EXPECT(anvil_endpoint_save_reply(q2, &a), ANVIL_STATUS_BAD_STATE); /* no call to answer */
    EXPECT(anvil_reply_send(E), NOCAP);
    EXPECT(anvil_irq_control_get_gsi(E, 1, false, false, &a), NOCAP);
    EXPECT(anvil_debug_cpu(ANVIL_BOOT_SLOT_DEBUG, 0, &u32, &a, &b, &c, &idle), OK);
    EXPECT(anvil_debug_uptime(ANVIL_BOOT_SLOT_DEBUG, &a), OK);
    EXPECT(anvil_debug_attach(E, ntfn), NOCAP);
    EXPECT(anvil_debug_read_log(E, &u32, &a), NOCAP);
    EXPECT(anvil_cap_delete(C, ntfn), OK);
    EXPECT(anvil_cap_delete(C, tcb), OK);
    EXPECT(anvil_cap_delete(C, vs), OK);
    EXPECT(anvil_cap_delete(C, ep), OK);
    EXPECT(anvil_cap_delete(C, vmo), OK);
    EXPECT(anvil_cap_delete(C, cn), OK);
    EXPECT(anvil_cap_delete(C, q2), OK);
    CHECK("every syscall stub answers as documented", bad == 0);
#undef EXPECT
}

int main(void) {
    malloc_churn();
    formats();
    stubs();
    assert(failures >= 0);
    printf("c_test: %s\n", failures ? "FAIL" : "PASS");
    anvil_debug_shutdown(ANVIL_BOOT_SLOT_DEBUG, failures ? 1 : 0);
}
