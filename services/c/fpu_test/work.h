/* work.h: the arithmetic fpu_test checks: float (SSE), double (SSE) and long double (x87)
 * recurrences, run in chunks so that a thread is preempted and moved between chunks and in the
 * middle of them. Only + - * / are used, which IEEE 754 defines exactly, so the host computes
 * the same bits: `cc -O2 -DFPU_WORK_PRINT -x c services/c/fpu_test/work.h && ./a.out` prints the
 * table of expected results in main.c. */
#ifndef FPU_WORK_H
#define FPU_WORK_H

#define WORK_SEEDS 16
#define WORK_CHUNKS 6
#define WORK_CHUNK 4000

struct work {
    float f;
    double d;
    long double ld;
    int seed;
    int i;
};

static void work_start(struct work *w, int seed) {
    w->f = 1.0f + (float)seed * 0.125f;
    w->d = 1.0 + (double)seed * 0.0625;
    w->ld = 1.0L + (long double)seed * 0.03125L;
    w->seed = seed;
    w->i = 1;
}

static void work_chunk(struct work *w) {
    float f = w->f;
    double d = w->d;
    long double ld = w->ld;
    for (int n = 0; n < WORK_CHUNK; n++, w->i++) {
        int i = w->i;
        f = f * 0.9999f + 1.0f / (float)(i + w->seed);
        d = d * 0.99999 + 1.0 / (double)(3 * i + w->seed) - (double)i * 1e-9;
        ld = ld * 0.999999L + 1.0L / (long double)(i + 7 * w->seed) + (long double)d * 1e-12L;
    }
    w->f = f;
    w->d = d;
    w->ld = ld;
}

#ifdef FPU_WORK_PRINT
#include <stdio.h>
int main(void) {
    printf("static const struct expected EXPECTED[WORK_SEEDS] = {\n");
    for (int s = 0; s < WORK_SEEDS; s++) {
        struct work w;
        work_start(&w, s);
        for (int c = 0; c < WORK_CHUNKS; c++) work_chunk(&w);
        printf("    {%a, %a, %LaL},\n", (double)w.f, w.d, w.ld);
    }
    printf("};\n");
    return 0;
}
#endif
#endif
