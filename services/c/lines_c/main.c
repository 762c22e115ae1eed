/* lines_c: prints 1,000 lines through printf and the IO server, every tenth longer than one
 * Console message (300 bytes of payload), tagged with a token of its own (from the time-stamp
 * counter) so that the whole-lines boot test can check that each of the clients printing at
 * once got every line through whole and in order. lines_rs does the same in Rust. */
#include <stdint.h>
#include <stdio.h>

static uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

int main(void) {
    char payload[301];
    unsigned token = (unsigned)(rdtsc() >> 4) & 0xFFFFFFu;
    for (int i = 0; i < 1000; i++) {
        int len = i % 10 == 0 ? 300 : 40;
        for (int k = 0; k < len; k++) payload[k] = (char)('a' + (i + k) % 26);
        payload[len] = 0;
        printf("lines[c%06x]: %04d %s\n", token, i, payload);
    }
    return 0;
}
