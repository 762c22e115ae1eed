/* string.c: memory and string functions (freestanding; also compiled for host tests). */
#include <stddef.h>
#include <stdint.h>
#include "anvil_rt.h"

#ifndef ANVIL_HOST_TEST
void *malloc(size_t n);
#else
void *malloc(size_t n);
#endif

void *ANVIL_FN(memcpy)(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *ANVIL_FN(memmove)(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else if (d > s) {
        d += n;
        s += n;
        while (n--) *--d = *--s;
    }
    return dst;
}

void *ANVIL_FN(memset)(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

int ANVIL_FN(memcmp)(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

void *ANVIL_FN(memchr)(const void *s, int c, size_t n) {
    const unsigned char *p = s;
    for (; n; n--, p++)
        if (*p == (unsigned char)c) return (void *)p;
    return NULL;
}

size_t ANVIL_FN(strlen)(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

size_t ANVIL_FN(strnlen)(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) n++;
    return n;
}

int ANVIL_FN(strcmp)(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return (unsigned char)*a < (unsigned char)*b ? -1 : (unsigned char)*a > (unsigned char)*b;
}

int ANVIL_FN(strncmp)(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        if (!*a) return 0;
    }
    return 0;
}

char *ANVIL_FN(strcpy)(char *dst, const char *src) {
    char *d = dst;
    while ((*d++ = *src++)) {
    }
    return dst;
}

char *ANVIL_FN(strncpy)(char *dst, const char *src, size_t n) {
    size_t i = 0;
    for (; i < n && src[i]; i++) dst[i] = src[i];
    for (; i < n; i++) dst[i] = 0;
    return dst;
}

char *ANVIL_FN(strcat)(char *dst, const char *src) {
    ANVIL_FN(strcpy)(dst + ANVIL_FN(strlen)(dst), src);
    return dst;
}

char *ANVIL_FN(strncat)(char *dst, const char *src, size_t n) {
    char *d = dst + ANVIL_FN(strlen)(dst);
    while (n-- && *src) *d++ = *src++;
    *d = 0;
    return dst;
}

char *ANVIL_FN(strchr)(const char *s, int c) {
    for (;; s++) {
        if (*s == (char)c) return (char *)s;
        if (!*s) return NULL;
    }
}

char *ANVIL_FN(strrchr)(const char *s, int c) {
    const char *last = NULL;
    for (;; s++) {
        if (*s == (char)c) last = s;
        if (!*s) return (char *)last;
    }
}

char *ANVIL_FN(strstr)(const char *hay, const char *needle) {
    size_t n = ANVIL_FN(strlen)(needle);
    if (!n) return (char *)hay;
    for (; *hay; hay++)
        if (*hay == *needle && !ANVIL_FN(strncmp)(hay, needle, n)) return (char *)hay;
    return NULL;
}

char *ANVIL_FN(strdup)(const char *s) {
    size_t n = ANVIL_FN(strlen)(s) + 1;
    char *d = malloc(n);
    if (d) ANVIL_FN(memcpy)(d, s, n);
    return d;
}
