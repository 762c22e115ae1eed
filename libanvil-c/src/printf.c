/* printf.c: the printf family. One formatting core (vsnprintf) serves all of them; output to
 * the console goes through anvil_console_write. Supports %d %i %u %x %X %o %p %s %c %%, the
 * flags '-' and '0', width and precision (numbers or '*'), and the lengths hh h l ll z. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "anvil_rt.h"

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c) {
    if (o->len + 1 < o->size) o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n) {
    while (n-- > 0) put(o, c);
}

static void emit(struct out *o, const char *s, int n, int width, int left, char padc) {
    if (!left) pad(o, padc, width - n);
    for (int i = 0; i < n; i++) put(o, s[i]);
    if (left) pad(o, ' ', width - n);
}

static int utoa(char *tmp, uint64_t v, unsigned base, int upper) {
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (int i = 0; i < n / 2; i++) {
        char t = tmp[i];
        tmp[i] = tmp[n - 1 - i];
        tmp[n - 1 - i] = t;
    }
    return n;
}

int ANVIL_FN(vsnprintf)(char *buf, size_t size, const char *fmt, va_list ap) {
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        int left = 0, zero = 0, width = 0, prec = -1, lng = 0;
        for (;; fmt++) {
            if (*fmt == '-') left = 1;
            else if (*fmt == '0') zero = 1;
            else break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) left = 1, width = -width;
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9') prec = prec * 10 + (*fmt++ - '0');
            }
        }
        for (;; fmt++) {
            if (*fmt == 'l') lng++;
            else if (*fmt == 'z') lng = 2;
            else if (*fmt == 'h') lng = lng == -1 ? -2 : -1;
            else break;
        }
        char tmp[72];
        char padc = (zero && !left) ? '0' : ' ';
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = lng >= 2 ? va_arg(ap, long long) : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
            if (lng == -1) v = (short)v;
            if (lng == -2) v = (signed char)v;
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            int n = utoa(tmp + 1, u, 10, 0);
            if (v < 0) {
                if (padc == '0') {
                    put(&o, '-');
                    emit(&o, tmp + 1, n, width - 1, left, padc);
                } else {
                    tmp[0] = '-';
                    emit(&o, tmp, n + 1, width, left, padc);
                }
            } else {
                emit(&o, tmp + 1, n, width, left, padc);
            }
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v = lng >= 2 ? va_arg(ap, unsigned long long) : lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            if (lng == -1) v = (unsigned short)v;
            if (lng == -2) v = (unsigned char)v;
            unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
            int n = utoa(tmp, v, base, *fmt == 'X');
            emit(&o, tmp, n, width, left, padc);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            tmp[0] = '0';
            tmp[1] = 'x';
            int n = utoa(tmp + 2, v, 16, 0);
            emit(&o, tmp, n + 2, width, left, ' ');
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            int n = 0;
            while (s[n] && (prec < 0 || n < prec)) n++;
            emit(&o, s, n, width, left, ' ');
            break;
        }
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            emit(&o, tmp, 1, width, left, ' ');
            break;
        case '%':
            put(&o, '%');
            break;
        case 0:
            fmt--;
            break;
        default:
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }
    if (size) buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int ANVIL_FN(snprintf)(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = ANVIL_FN(vsnprintf)(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

#ifndef ANVIL_HOST_TEST
int sprintf(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, (size_t)-1 / 2, fmt, ap);
    va_end(ap);
    return n;
}

int vprintf(const char *fmt, va_list ap) {
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < (int)sizeof small) {
        anvil_console_write(small, (size_t)n);
    } else {
        /* Long output: format again into a heap buffer of the right size. */
        void *malloc(size_t);
        void free(void *);
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            anvil_console_write(big, (size_t)n);
            free(big);
        } else {
            anvil_console_write(small, sizeof small - 1);
        }
    }
    va_end(ap2);
    return n;
}

int printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int puts(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    anvil_console_write(s, n);
    anvil_console_write("\n", 1);
    return (int)n + 1;
}

int putchar(int c) {
    char ch = (char)c;
    anvil_console_write(&ch, 1);
    return c;
}
#endif
