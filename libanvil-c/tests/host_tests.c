/* host_tests.c: unit tests of libanvil-c's string and printf code on the host, against the
 * host's libc where one exists. Prints one line per failure and a summary; exit status 1 on
 * any failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stddef.h>
#include <wchar.h>
#include "../src/anvil_rt.h"

void *anvil_test_memcpy(void *, const void *, size_t);
void *anvil_test_memmove(void *, const void *, size_t);
void *anvil_test_memset(void *, int, size_t);
int anvil_test_memcmp(const void *, const void *, size_t);
size_t anvil_test_strlen(const char *);
int anvil_test_strcmp(const char *, const char *);
int anvil_test_strncmp(const char *, const char *, size_t);
char *anvil_test_strcpy(char *, const char *);
char *anvil_test_strncpy(char *, const char *, size_t);
char *anvil_test_strcat(char *, const char *);
char *anvil_test_strchr(const char *, int);
char *anvil_test_strrchr(const char *, int);
char *anvil_test_strstr(const char *, const char *);
char *anvil_test_strdup(const char *);
int anvil_test_snprintf(char *, size_t, const char *, ...);

void anvil_console_write(const char *s, size_t n) {
    fwrite(s, 1, n, stdout);
}

static int checks, failures;

#define CHECK(cond)                                                  \
    do {                                                             \
        checks++;                                                    \
        if (!(cond)) {                                               \
            failures++;                                              \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                            \
    } while (0)

static int sign(int x) {
    return (x > 0) - (x < 0);
}

/* Formats with ours and the host's printf and compares (text and return value). */
static void fmt_same(const char *fmt, ...) {
    static char a[8192], b[8192];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int na = anvil_test_vsnprintf(a, sizeof a, fmt, ap);
    int nb = vsnprintf(b, sizeof b, fmt, ap2);
    va_end(ap);
    va_end(ap2);
    checks++;
    if (na != nb || strcmp(a, b) != 0) {
        failures++;
        printf("FAIL format \"%s\": got \"%s\" (%d), libc \"%s\" (%d)\n", fmt, a, na, b, nb);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *const FLAGS[] = {"", "-", "+", " ", "#", "0", "-+", "+0", " 0", "#0", "-#", "+ #0", "-0"};
static const char *const WIDTHS[] = {"", "1", "8", "25"};
static const char *const PRECS[] = {"", ".", ".0", ".1", ".3", ".10", ".17", ".25"};

/* Every flag combination, width and precision over the integer conversions and lengths. */
static void integer_table(void) {
    static const long long values[] = {0, 1, -1, 7, -42, 255, 256, 65535, 65536, 2147483647LL, -2147483647LL - 1,
                                       4294967295LL, 123456789012LL, -9223372036854775807LL - 1,
                                       9223372036854775807LL};
    static const char *const lengths[] = {"hh", "h", "", "l", "ll", "j", "z", "t"};
    const char *convs = "diouxX";
    char fmt[64];
    for (size_t f = 0; f < sizeof FLAGS / sizeof *FLAGS; f++)
        for (size_t w = 0; w < sizeof WIDTHS / sizeof *WIDTHS; w++)
            for (size_t p = 0; p < sizeof PRECS / sizeof *PRECS; p++)
                for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++)
                    for (const char *c = convs; *c; c++)
                        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
                            snprintf(fmt, sizeof fmt, "[%%%s%s%s%s%c]", FLAGS[f], WIDTHS[w], PRECS[p], lengths[l], *c);
                            long long x = values[v];
                            switch (l) {
                            case 0:
                            case 1:
                            case 2: fmt_same(fmt, (int)x); break;
                            case 3: fmt_same(fmt, (long)x); break;
                            case 4: fmt_same(fmt, x); break;
                            case 5: fmt_same(fmt, (intmax_t)x); break;
                            case 6: fmt_same(fmt, (size_t)x); break;
                            default: fmt_same(fmt, (ptrdiff_t)x); break;
                            }
                        }
}

/* %#g against the host. glibc drops the zeros %#g must keep when rounding carries into a new
 * leading digit in the e style (%#.3g of 999.99 prints "1.e+03", not "1.00e+03"). Where the two
 * differ, ours must equal the host's %#e with precision P-1, which C defines %#g to be when the
 * exponent X is below -4 or at least P. */
static void alt_g_same(const char *fmt, const char *flags, const char *width, const char *prec, char conv, double v) {
    char a[512], b[512], efmt[64], x[512];
    anvil_test_snprintf(a, sizeof a, fmt, v);
    snprintf(b, sizeof b, fmt, v);
    checks++;
    if (strcmp(a, b) == 0) return;
    long p = prec[0] == 0 ? 6 : prec[1] == 0 ? 0 : strtol(prec + 1, NULL, 10);
    if (p == 0) p = 1;
    snprintf(efmt, sizeof efmt, "[%%%s%s.%ld%c]", flags, width, p - 1, conv == 'g' ? 'e' : 'E');
    snprintf(x, sizeof x, efmt, v);
    const char *e = strpbrk(x, "eE");
    long exp10 = e ? strtol(e + 1, NULL, 10) : 0;
    if ((exp10 < -4 || exp10 >= p) && strcmp(a, x) == 0) return;
    failures++;
    printf("FAIL format \"%s\": got \"%s\", libc \"%s\" (and %s gives \"%s\")\n", fmt, a, b, efmt, x);
}

/* Every flag combination, width and precision over the floating conversions, on values that
 * exercise rounding (ties, carries into a new digit), tiny and huge exponents, subnormals,
 * zeros of both signs, infinities and NaNs; then random bit patterns. */
static void float_table(void) {
    static const double values[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, 0.125, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3,
                                    9.5, 99.5, 999.9999999, 0.000123456, 1e-5, 123456789.0, 1e15, 1e16, 1e22, 1e23,
                                    1.7976931348623157e308, 2.2250738585072014e-308, 4.9406564584124654e-324,
                                    3.14159265358979, -2.718281828459045, 0.05, 0.15, 0.25, 0.35, 5e-324 * 3,
                                    1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0, 6.02214076e23, 9.999999e-5, 0.00001,
                                    99999.95, 0.9999995, 1e-300};
    const char *convs = "fFeEgGaA";
    char fmt[64];
    for (size_t f = 0; f < sizeof FLAGS / sizeof *FLAGS; f++)
        for (size_t w = 0; w < sizeof WIDTHS / sizeof *WIDTHS; w++)
            for (size_t p = 0; p < sizeof PRECS / sizeof *PRECS; p++)
                for (const char *c = convs; *c; c++)
                    for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
                        snprintf(fmt, sizeof fmt, "[%%%s%s%s%c]", FLAGS[f], WIDTHS[w], PRECS[p], *c);
                        if (strchr(FLAGS[f], '#') && (*c == 'g' || *c == 'G'))
                            alt_g_same(fmt, FLAGS[f], WIDTHS[w], PRECS[p], *c, values[v]);
                        else
                            fmt_same(fmt, values[v]);
                    }
    static const char *const random_formats[] = {"%.17g", "%.40e", "%f", "%.60f", "%a", "%.3a", "%g", "%#.0e",
                                                 "%.0f", "%.1g", "%+.20G", "%.800f"};
    for (int i = 0; i < 4000; i++) {
        union {
            uint64_t u;
            double d;
        } x = {next_rand()};
        if (i % 4 == 1) x.u &= 0x800FFFFFFFFFFFFFull; /* subnormals */
        if (i % 4 == 2) x.u = (x.u & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(1023 + (int)(next_rand() % 80) - 40) << 52);
        for (size_t k = 0; k < sizeof random_formats / sizeof *random_formats; k++) fmt_same(random_formats[k], x.d);
    }
    /* long double (L): x87 extended precision, from the smallest subnormal to the largest. */
    static const long double lvalues[] = {0.0L, 1.0L, -1.0L, 0.1L, 1.0L / 3, 2.5L, 1e100L, 1e-100L, 1e4000L,
                                          1e-4000L, 1.18973149535723176502e+4932L, 3.64519953188247460253e-4951L,
                                          123456789.123456789L};
    static const char *const lformats[] = {"%Lf", "%.30Le", "%Lg", "%.25Lg", "%#Lg", "%+12.3Lf", "%La", "%.4La", "%LA",
                                           "%-30.10Le", "%020.5Lf", "%.0Le"};
    for (size_t v = 0; v < sizeof lvalues / sizeof *lvalues; v++)
        for (size_t k = 0; k < sizeof lformats / sizeof *lformats; k++) fmt_same(lformats[k], lvalues[v]);
    for (int i = 0; i < 300; i++) {
        long double x = (long double)(int64_t)next_rand();
        for (int e = (int)(next_rand() % 64); e > 0; e--) x = (i & 1) ? x * 1e10L : x / 1e10L;
        fmt_same("%.25Le %Lf %.40Lg %La", x, x, x, x);
    }
}

int main(void) {
    char buf[64], buf2[64];
    const char *words[] = {"", "a", "abc", "hello world", "zz"};
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            CHECK(sign(anvil_test_strcmp(words[i], words[j])) == sign(strcmp(words[i], words[j])));
            CHECK(sign(anvil_test_strncmp(words[i], words[j], 2)) == sign(strncmp(words[i], words[j], 2)));
        }
        CHECK(anvil_test_strlen(words[i]) == strlen(words[i]));
    }
    CHECK(anvil_test_memcmp("abc", "abd", 3) < 0 && anvil_test_memcmp("abc", "abc", 3) == 0);
    anvil_test_memset(buf, 'x', 10);
    CHECK(buf[0] == 'x' && buf[9] == 'x');
    anvil_test_strcpy(buf, "0123456789");
    anvil_test_memmove(buf + 2, buf, 5);
    CHECK(strcmp(buf, "0101234789") == 0);
    anvil_test_strcpy(buf, "0123456789");
    anvil_test_memmove(buf, buf + 3, 5);
    CHECK(strncmp(buf, "34567", 5) == 0);
    anvil_test_memcpy(buf2, "copy", 5);
    CHECK(strcmp(buf2, "copy") == 0);
    anvil_test_strncpy(buf, "ab", 5);
    CHECK(buf[0] == 'a' && buf[2] == 0 && buf[4] == 0);
    anvil_test_strcpy(buf, "foo");
    anvil_test_strcat(buf, "bar");
    CHECK(strcmp(buf, "foobar") == 0);
    CHECK(anvil_test_strchr("hello", 'l') == strchr("hello", 'l'));
    CHECK(anvil_test_strrchr("hello", 'l') != NULL && *(anvil_test_strrchr("hello", 'l') + 1) == 'o');
    CHECK(anvil_test_strchr("hello", 'z') == NULL);
    CHECK(anvil_test_strstr("the needle here", "needle") != NULL);
    CHECK(anvil_test_strstr("abc", "abd") == NULL);
    char *d = anvil_test_strdup("dup");
    CHECK(d && strcmp(d, "dup") == 0);
    free(d);

    fmt_same("plain");
    fmt_same("%d %i %u", 42, -17, 3000000000u);
    fmt_same("%x %X %o %#x %#X %#o %#o", 0xbeefu, 0xbeefu, 8u, 0xbeefu, 0xbeefu, 8u, 0u);
    fmt_same("%5d|%-5d|%05d|%-05d|%+d|% d|%+d|% 5d|%+05d", 42, 42, 42, 42, 42, 42, -42, 42, 42);
    fmt_same("%05d|%5d|%.3d|%8.3d|%-8.3d|%08.3d|%.0d|%.0x|%#.0o", -42, -42, 7, 7, 7, 7, 0, 0u, 0u);
    fmt_same("%ld %lu %lx", -1234567890123L, 12345678901234UL, 0xdeadbeefcafeUL);
    fmt_same("%lld %llu", -9223372036854775807LL - 1, 18446744073709551615ULL);
    fmt_same("%zu %zx %zd %td %tu %jd %ju", (size_t)123456, (size_t)0xabc, (size_t)-5, (ptrdiff_t)-77, (ptrdiff_t)77,
             (intmax_t)-1, (uintmax_t)-1);
    fmt_same("%hhu %hd %hhd %hu %hhx", 300, 70000, 200, 70000, 511);
    fmt_same("%s|%10s|%-10s|%.2s|%10.2s|%-10.2s|%.0s|%s", "str", "right", "left", "cut", "cut", "cut", "gone", "");
    fmt_same("%c%c%c|%5c|%-5c|", 'a', 'b', 'c', 'x', 'y');
    fmt_same("100%% %5%|%-5%|");
    fmt_same("%*d|%-*d|%*d|%.*d|%.*d|%*.*f", 6, 7, 6, 7, -6, 7, 4, 7, -4, 7, 10, 3, 3.14159);
    fmt_same("%p %p %20p %-20p|", (void *)0x1234, (void *)0, (void *)0xabcdef, (void *)0xabcdef);
    fmt_same("%d", 0);
    fmt_same("%f %e %g %a", 3.0, 3.0, 3.0, 3.0);
    fmt_same("%lc%lc %ls|%5ls|%-5ls|%.2ls", (wint_t)'o', (wint_t)'k', L"wide", L"ab", L"ab", L"abcdef");
    fmt_same("%ls", (const wchar_t *)NULL);
    {
        int n1 = 0, n2 = 0;
        signed char hh = 0;
        short h = 0;
        long l = 0;
        long long ll = 0;
        size_t z = 0;
        intmax_t j = 0;
        ptrdiff_t t = 0;
        char out[64];
        int r = anvil_test_snprintf(out, sizeof out, "ab%ncd%hhn%hn%ln%lln%zn%jn%tn%d%n", &n1, &hh, &h, &l, &ll, &z, &j,
                                    &t, 12345, &n2);
        CHECK(r == 9 && n1 == 2 && hh == 4 && h == 4 && l == 4 && ll == 4 && z == 4 && j == 4 && t == 4 && n2 == 9);
    }
    /* %lc of a character with no single-byte form in the C locale is an error, as in libc. */
    CHECK(anvil_test_snprintf(buf, sizeof buf, "%lc", (wint_t)0x263A) == -1);
    integer_table();
    float_table();
    /* Truncation: return value is the full length, output is cut and terminated. */
    char small[8];
    int n = anvil_test_snprintf(small, sizeof small, "%s", "0123456789");
    CHECK(n == 10 && strcmp(small, "0123456") == 0);
    CHECK(anvil_test_snprintf(NULL, 0, "%d", 12345) == 5);

    printf("%d checks, %d failures\n", checks, failures);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
