/* host_tests.c: unit tests of libanvil-c's string and printf code on the host, against the
 * host's libc where one exists. Prints one line per failure and a summary; exit status 1 on
 * any failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Formats with ours and the host's printf and compares. */
static void fmt_same(const char *fmt, ...) {
    char a[256], b[256];
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
    fmt_same("%x %X %o", 0xbeefu, 0xbeefu, 8u);
    fmt_same("%5d|%-5d|%05d|%-05d", 42, 42, 42, 42);
    fmt_same("%05d|%5d", -42, -42);
    fmt_same("%ld %lu %lx", -1234567890123L, 12345678901234UL, 0xdeadbeefcafeUL);
    fmt_same("%lld %llu", -9223372036854775807LL - 1, 18446744073709551615ULL);
    fmt_same("%zu %zx", (size_t)123456, (size_t)0xabc);
    fmt_same("%hhu %hd", 300, 70000);
    fmt_same("%s|%10s|%-10s|%.2s", "str", "right", "left", "cut");
    fmt_same("%c%c%c", 'a', 'b', 'c');
    fmt_same("100%%");
    fmt_same("%*d|%-*d", 6, 7, 6, 7);
    fmt_same("%p", (void *)0x1234);
    fmt_same("%d", 0);
    /* Truncation: return value is the full length, output is cut and terminated. */
    char small[8];
    int n = anvil_test_snprintf(small, sizeof small, "%s", "0123456789");
    CHECK(n == 10 && strcmp(small, "0123456") == 0);
    CHECK(anvil_test_snprintf(NULL, 0, "%d", 12345) == 5);

    printf("%d checks, %d failures\n", checks, failures);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
