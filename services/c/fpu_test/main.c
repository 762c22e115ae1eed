/* fpu_test: floating point in C services, and the kernel's per-thread FPU/SSE/AVX state.
 *
 * 1. A new thread starts with a clean state (x87 empty with FCW 0x37F, MXCSR 0x1F80, every XMM
 *    and YMM register zero), although the thread that started it had filled every register
 *    just before yielding to it on the same CPU.
 * 2. Two threads pinned to one CPU each hold their own values in every x87, SSE and AVX
 *    register, MXCSR and the x87 control word across time slices (window.S), while computing
 *    float, double and long double recurrences checked against results precomputed on the host
 *    (work.h).
 * 3. The same with twice as many threads as CPUs, which main keeps moving between CPUs
 *    (set_affinity, suspend, resume) while they hold their values.
 * Every register is compared with what its thread loaded; a value from another thread is
 * reported as such. Prints `fpu_test: ok ...` lines, then PASS or FAIL, and shuts down. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <anvil/kernel.h>
#include "work.h"

/* Results of work.h for each seed, printed by the host with FPU_WORK_PRINT (see work.h). */
struct expected {
    float f;
    double d;
    long double ld;
};
static const struct expected EXPECTED[WORK_SEEDS] = {
    {0x1.8644ap+0, 0x1.b10cb1f9394bep+1, 0xb.68f82e031e6094p+0L},
    {0x1.71eecap+0, 0x1.a8667fc9b67f9p+1, 0x8.e8ced4620a3647ep+0L},
    {0x1.69343ep+0, 0x1.a4292b0763959p+1, 0x8.4c0cb3ed1312ca6p+0L},
    {0x1.64585ep+0, 0x1.a25d2f32e3757p+1, 0xf.e300533060a0ddap-1L},
    {0x1.616c2ap+0, 0x1.a21b0adffb758p+1, 0xf.65e16e921584a0bp-1L},
    {0x1.5fa8fep+0, 0x1.a2e68c4265d78p+1, 0xf.07da58e3551a14dp-1L},
    {0x1.5eac0ap+0, 0x1.a475ca8ec8779p+1, 0xe.bda5106655cafe9p-1L},
    {0x1.5e3cfp+0, 0x1.a699628bc8428p+1, 0xe.812ec682d242c7bp-1L},
    {0x1.5e37f4p+0, 0x1.a931318c17a15p+1, 0xe.4ed147f00a4daa1p-1L},
    {0x1.5e852ap+0, 0x1.ac26739fe5809p+1, 0xe.242f29851b09319p-1L},
    {0x1.5f14b2p+0, 0x1.af687546c106fp+1, 0xd.ffa993c240fbbf9p-1L},
    {0x1.5fda5ep+0, 0x1.b2ea9aed3dd26p+1, 0xd.e017d1086d35b35p-1L},
    {0x1.60ccfep+0, 0x1.b6a3256057652p+1, 0xd.c49e503682054f6p-1L},
    {0x1.61e5fap+0, 0x1.ba8a6467dbfaap+1, 0xd.ac960567dd5524ap-1L},
    {0x1.631f92p+0, 0x1.be9a2c7fd9898p+1, 0xd.977ce4b3ef0e162p-1L},
    {0x1.64756ap+0, 0x1.c2cd770981ccep+1, 0xd.84ebb42bb4839d2p-1L},
};

/* Shared with window.S: the offsets are fixed there. */
struct window {
    uint64_t avx;
    volatile uint64_t *watch;
    uint64_t max_spins;
    uint64_t sys_current_cpu;
    uint64_t cpu_before;
    uint64_t cpu_after;
    uint64_t watch_changed;
    volatile uint64_t *heartbeat;
    uint32_t mxcsr_in, mxcsr_out, scratch;
    uint16_t fcw_in, fcw_out;
    uint64_t pad[6];
    uint8_t in[16][32];
    uint8_t out[16][32];
    long double x87_in[8];
    long double x87_out[8];
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct window, heartbeat) == 56, "window.S offsets");
_Static_assert(offsetof(struct window, mxcsr_in) == 64 && offsetof(struct window, scratch) == 72, "window.S offsets");
_Static_assert(offsetof(struct window, fcw_in) == 76 && offsetof(struct window, fcw_out) == 78, "window.S offsets");
_Static_assert(offsetof(struct window, in) == 128 && offsetof(struct window, out) == 640, "window.S offsets");
_Static_assert(offsetof(struct window, x87_in) == 1152 && offsetof(struct window, x87_out) == 1280, "window.S offsets");

/* What fpu_dirty_resume_yield loads: the same offsets as struct window for the registers. */
struct dirty {
    uint64_t avx;
    uint64_t sys_resume;
    uint64_t probe_tcb;
    uint64_t sys_yield;
    uint64_t pad0[4];
    uint32_t mxcsr, pad1, scratch;
    uint16_t fcw, pad2;
    uint64_t pad3[6];
    uint8_t regs[16][32];
    uint8_t unused[16][32];
    long double x87[8];
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct dirty, mxcsr) == 64 && offsetof(struct dirty, fcw) == 76, "window.S offsets");
_Static_assert(offsetof(struct dirty, regs) == 128 && offsetof(struct dirty, x87) == 1152, "window.S offsets");

/* What the probe thread found: FXSAVE's image and the upper YMM halves. */
struct probe {
    uint64_t avx;
    volatile uint64_t done;
    uint64_t pad[6];
    uint8_t fx[512] __attribute__((aligned(16)));
    uint8_t upper[16][16];
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct probe, fx) == 64 && offsetof(struct probe, upper) == 576, "window.S offsets");

void fpu_window(struct window *w);
void fpu_probe_entry(struct probe *p);
void fpu_dirty_resume_yield(struct dirty *d);

enum { MAX_WORKERS = 16, WINDOWS = WORK_CHUNKS, STACK = 64 * 1024 };

struct worker {
    int index;
    uint8_t tag;
    anvil_cap_t tcb;
    volatile uint64_t heartbeat;
    volatile uint64_t moved;
    volatile uint64_t *watch;
    volatile int done;
    int windows, watched, migrated, bad;
    char report[200];
    struct work work;
    struct window w;
};

static struct worker workers[MAX_WORKERS];
static int avx;
static int failures;

#define CHECK(what, cond)                                              \
    do {                                                               \
        if (cond) {                                                    \
            printf("fpu_test: ok %s\n", what);                         \
        } else {                                                       \
            printf("fpu_test: FAIL %s (line %d)\n", what, __LINE__);   \
            failures++;                                                \
        }                                                              \
    } while (0)

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* AVX is usable when the CPU has it and the kernel enabled its state in XCR0. */
static int avx_usable(void) {
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 27)) || !(r[2] & (1u << 28))) return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;
}

/* The value a thread puts in byte b of register r in window n: the tag first, so a value seen
 * by the wrong thread says whose it is. */
static uint8_t pattern(uint8_t tag, int r, int b, int n) {
    if (b == 0) return tag;
    if (b == 1) return (uint8_t)r;
    if (b == 2) return (uint8_t)n;
    return (uint8_t)(tag * 31 + r * 7 + b * 3 + n);
}

static void fill_window(struct worker *k, int n) {
    struct window *w = &k->w;
    w->avx = (uint64_t)avx;
    w->watch = k->watch;
    w->max_spins = 3000000;
    w->sys_current_cpu = ANVIL_SYS_TCB_CURRENT_CPU;
    w->heartbeat = &k->heartbeat;
    /* Each thread rounds differently: MXCSR and x87 rounding control differ per tag. */
    w->mxcsr_in = 0x1F80u | ((uint32_t)(k->tag & 3) << 13);
    w->fcw_in = (uint16_t)(0x037F | ((k->tag & 3) << 10));
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 32; b++) w->in[r][b] = pattern(k->tag, r, b, n);
    for (int i = 0; i < 8; i++) w->x87_in[i] = (long double)k->tag * 1000.0L + (long double)i + (long double)n / 8;
    memset(w->out, 0, sizeof w->out);
}

/* Compares what came back; returns 0 or describes the first difference in k->report. */
static int check_window(struct worker *k, int n) {
    struct window *w = &k->w;
    int width = avx ? 32 : 16;
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < width; b++)
            if (w->out[r][b] != w->in[r][b]) {
                uint8_t seen = w->out[r][0];
                const char *whose = "nobody's";
                for (int i = 0; i < MAX_WORKERS; i++)
                    if (workers[i].tag && seen == workers[i].tag && i != k->index) whose = "another thread's";
                if (seen == 0xEE) whose = "main's";
                snprintf(k->report, sizeof k->report,
                         "thread %d window %d: %smm%d byte %d is %#x, expected %#x (first byte %#x: %s values)", k->index,
                         n, avx ? "y" : "x", r, b, w->out[r][b], w->in[r][b], seen, whose);
                return 1;
            }
    if (w->mxcsr_out != w->mxcsr_in || w->fcw_out != w->fcw_in) {
        snprintf(k->report, sizeof k->report, "thread %d window %d: MXCSR %#x FCW %#x, expected %#x %#x", k->index, n,
                 w->mxcsr_out, w->fcw_out, w->mxcsr_in, w->fcw_in);
        return 1;
    }
    for (int i = 0; i < 8; i++)
        if (w->x87_out[i] != w->x87_in[7 - i]) {
            snprintf(k->report, sizeof k->report, "thread %d window %d: st(%d) is %Lg, expected %Lg", k->index, n, i,
                     w->x87_out[i], w->x87_in[7 - i]);
            return 1;
        }
    return 0;
}

_Noreturn void worker_main(uint64_t arg) {
    struct worker *k = &workers[arg];
    work_start(&k->work, k->index % WORK_SEEDS);
    for (int n = 0; n < WINDOWS; n++) {
        fill_window(k, n);
        fpu_window(&k->w);
        k->windows++;
        k->watched += k->w.watch_changed != 0;
        k->migrated += k->w.cpu_before != k->w.cpu_after;
        if (!k->bad && check_window(k, n)) k->bad = 1;
        work_chunk(&k->work);
    }
    k->done = 1;
    anvil_tcb_exit(0);
}

_Noreturn void probe_main(struct probe *p) {
    p->done = 1;
    anvil_tcb_exit(0);
}

static anvil_status_t spawn(void (*entry)(void), uint64_t arg, int cpu, anvil_cap_t *tcb, int start) {
    const anvil_cap_t Q = ANVIL_BOOT_SLOT_QUOTA, V = ANVIL_BOOT_SLOT_VSPACE, C = ANVIL_BOOT_SLOT_CNODE;
    uint64_t stack = 0;
    anvil_status_t st = anvil_vspace_alloc(V, Q, STACK, ANVIL_MAP_FLAGS_R | ANVIL_MAP_FLAGS_W, &stack);
    if (st) return st;
    if ((st = anvil_tcb_create(Q, tcb))) return st;
    if ((st = anvil_tcb_configure(*tcb, V, C, 0, 0))) return st;
    /* rsp as after a call: the entry sees the alignment the ABI promises. */
    anvil_regs_t regs = {.rip = (uint64_t)(uintptr_t)entry, .rsp = stack + STACK - 8, .arg0 = arg};
    if ((st = anvil_tcb_set_regs(*tcb, &regs))) return st;
    if (cpu >= 0 && (st = anvil_tcb_set_affinity(*tcb, (uint32_t)cpu))) return st;
    return start ? anvil_tcb_resume(*tcb) : ANVIL_STATUS_OK;
}

static uint32_t cpu_count(void) {
    anvil_cap_t probe;
    if (anvil_tcb_create(ANVIL_BOOT_SLOT_QUOTA, &probe)) return 1;
    uint32_t n = 0;
    while (n < 64 && anvil_tcb_set_affinity(probe, n) == ANVIL_STATUS_OK) n++;
    anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, probe);
    return n ? n : 1;
}

static void clean_start(void) {
    static struct probe p;
    static struct dirty d;
    uint32_t cpu = 0;
    anvil_tcb_current_cpu(&cpu);
    anvil_tcb_set_affinity(ANVIL_BOOT_SLOT_TCB, cpu);
    p.avx = (uint64_t)avx;
    memset(p.fx, 0xA5, sizeof p.fx);
    memset(p.upper, 0xA5, sizeof p.upper);
    anvil_cap_t tcb = 0;
    anvil_status_t st = spawn((void (*)(void))fpu_probe_entry, (uint64_t)(uintptr_t)&p, (int)cpu, &tcb, 0);
    if (st) {
        printf("fpu_test: FAIL cannot start the probe thread: status %u\n", st);
        failures++;
        return;
    }
    /* Every register full of main's values (tag 0xEE), a rounding mode that is not the
     * default, then the probe runs on this CPU right after main. */
    d.avx = (uint64_t)avx;
    d.sys_resume = ANVIL_SYS_TCB_RESUME;
    d.probe_tcb = tcb;
    d.sys_yield = ANVIL_SYS_TCB_YIELD_NOW;
    d.mxcsr = 0x1F80u | (3u << 13);
    d.fcw = 0x037F | (3 << 10);
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 32; b++) d.regs[r][b] = b == 0 ? 0xEE : (uint8_t)(r + b + 1);
    for (int i = 0; i < 8; i++) d.x87[i] = 12345.0L + i;
    fpu_dirty_resume_yield(&d);
    while (!p.done) anvil_tcb_yield_now();
    anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, tcb);
    anvil_tcb_set_affinity(ANVIL_BOOT_SLOT_TCB, 0xFFFFFFFFu);

    uint16_t fcw, fsw;
    uint8_t ftw;
    uint32_t mxcsr;
    memcpy(&fcw, p.fx + 0, 2);
    memcpy(&fsw, p.fx + 2, 2);
    memcpy(&ftw, p.fx + 4, 1);
    memcpy(&mxcsr, p.fx + 24, 4);
    int x87_zero = 1, xmm_zero = 1, upper_zero = 1;
    /* ST0-7: 10 bytes in each 16-byte slot (FXSAVE leaves the other 6 as they were). */
    for (int r = 0; r < 8; r++)
        for (int i = 0; i < 10; i++) x87_zero &= p.fx[32 + 16 * r + i] == 0;
    for (int i = 160; i < 160 + 16 * 16; i++) xmm_zero &= p.fx[i] == 0;
    for (int r = 0; r < 16 && avx; r++)
        for (int b = 0; b < 16; b++) upper_zero &= p.upper[r][b] == 0;
    printf("fpu_test: new thread found FCW %#x FSW %#x tag %#x MXCSR %#x, x87 %s, XMM %s, upper YMM %s\n", fcw, fsw,
           ftw, mxcsr, x87_zero ? "zero" : "NOT zero", xmm_zero ? "zero" : "NOT zero",
           !avx ? "not in use" : upper_zero ? "zero" : "NOT zero");
    CHECK("a new thread starts with a clean FPU state (x87, SSE, AVX), not its creator's",
          fcw == 0x037F && fsw == 0 && ftw == 0 && mxcsr == 0x1F80 && x87_zero && xmm_zero && upper_zero);
}

/* Starts `n` workers (pinned to `cpu`, or anywhere with -1), watching `watch_of(i)`, and waits
 * for them; with `mover`, keeps moving them between `cpus` CPUs meanwhile. */
static void run_workers(int first, int n, int cpu, int sibling_watch, int mover, uint32_t cpus) {
    for (int i = first; i < first + n; i++) {
        struct worker *k = &workers[i];
        memset(k, 0, sizeof *k);
        k->index = i;
        k->tag = (uint8_t)(0x10 + i);
    }
    for (int i = first; i < first + n; i++) {
        struct worker *k = &workers[i];
        k->watch = sibling_watch ? &workers[first + ((i - first) ^ 1)].heartbeat : &k->moved;
        anvil_status_t st = spawn((void (*)(void))worker_main, (uint64_t)i, cpu, &k->tcb, 1);
        if (st) {
            printf("fpu_test: FAIL cannot start worker %d: status %u\n", i, st);
            failures++;
            k->done = 1;
        }
    }
    for (uint64_t round = 0;; round++) {
        int all = 1;
        for (int i = first; i < first + n; i++) {
            struct worker *k = &workers[i];
            if (k->done) continue;
            all = 0;
            if (mover) {
                /* Stop it wherever it is (its registers are saved there), queue it for another
                 * CPU, and tell it that it moved. */
                anvil_tcb_set_affinity(k->tcb, (uint32_t)((uint64_t)i + round) % cpus);
                if (anvil_tcb_suspend(k->tcb) == ANVIL_STATUS_OK) anvil_tcb_resume(k->tcb);
                k->moved++;
            }
        }
        if (all) break;
        anvil_tcb_yield_now();
    }
    for (int i = first; i < first + n; i++) anvil_cap_delete(ANVIL_BOOT_SLOT_CNODE, workers[i].tcb);
}

/* Sums up a group: windows, how many saw preemption or a move, the first bad one, the
 * arithmetic. */
static void report(const char *what, int first, int n, int need_watched, int need_migrated) {
    int windows = 0, watched = 0, migrated = 0, bad = 0, arith = 1;
    for (int i = first; i < first + n; i++) {
        struct worker *k = &workers[i];
        windows += k->windows;
        watched += k->watched;
        migrated += k->migrated;
        if (k->bad) {
            if (!bad) printf("fpu_test: %s\n", k->report);
            bad++;
        }
        const struct expected *e = &EXPECTED[k->index % WORK_SEEDS];
        if (k->work.f != e->f || k->work.d != e->d || k->work.ld != e->ld) {
            printf("fpu_test: thread %d computed %a %a %La, expected %a %a %La\n", i, (double)k->work.f, k->work.d,
                   k->work.ld, (double)e->f, e->d, e->ld);
            arith = 0;
        }
    }
    printf("fpu_test: %s: %d threads, %d windows, %d preempted or moved inside, %d changed CPU inside\n", what, n,
           windows, watched, migrated);
    char line[160];
    snprintf(line, sizeof line, "%s: every register kept its thread's value, no thread saw another's", what);
    CHECK(line, bad == 0 && windows == n * WINDOWS);
    snprintf(line, sizeof line, "%s: float, double and long double results match the precomputed ones", what);
    CHECK(line, arith);
    if (need_watched) {
        snprintf(line, sizeof line, "%s: threads were preempted while holding their registers", what);
        CHECK(line, watched > 0);
    }
    if (need_migrated) {
        snprintf(line, sizeof line, "%s: threads changed CPU while holding their registers", what);
        CHECK(line, migrated > 0);
    }
}

int main(void) {
    avx = avx_usable();
    uint32_t cpus = cpu_count();
    /* Floating point in ordinary C, printed with the new conversions. */
    volatile double third = 1.0 / 3.0;
    char buf[64];
    snprintf(buf, sizeof buf, "%f %.3e %g %g", third, 12345.678, 0.0001, 1e20);
    printf("fpu_test: %u CPUs, AVX %s; 1/3 = %s\n", cpus, avx ? "in use" : "not in use", buf);
    CHECK("printf %f %e %g", strcmp(buf, "0.333333 1.235e+04 0.0001 1e+20") == 0);

    clean_start();
    /* Two threads on one CPU, each watching the other's heartbeat: when it moves, the other
     * ran on this CPU, so this one was preempted inside its window. */
    run_workers(0, 2, 0, 1, 0, cpus);
    report("two threads on one CPU", 0, 2, 1, 0);
    /* Twice as many threads as CPUs, moved between CPUs by main. */
    int n = (int)(2 * cpus > MAX_WORKERS - 2 ? MAX_WORKERS - 2 : 2 * cpus);
    run_workers(2, n, -1, 0, 1, cpus);
    report(cpus > 1 ? "threads across CPUs" : "threads suspended and resumed", 2, n, 1, cpus > 1);

    printf("fpu_test: %s\n", failures ? "FAIL" : "PASS");
    anvil_debug_shutdown(ANVIL_BOOT_SLOT_DEBUG, failures ? 1 : 0);
}
