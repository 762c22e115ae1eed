/* printf.c: the printf family. One formatting core (vsnprintf) serves all of them; output to
 * the console goes through anvil_rt_console_write.
 *
 * Everything C99 defines that needs no locale: the conversions d i u o x X f F e E g G a A c s
 * p n %, the flags - + space # 0, width and precision (numbers or '*'), and the lengths hh h l
 * ll j z t L. %lc and %ls print characters below 128 (the "C" locale) and fail with -1 for
 * others. Floating point is converted exactly (a big integer in base 10^9, no floating-point
 * arithmetic) and rounded half to even, so the output matches glibc digit for digit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "anvil_rt.h"

#ifdef ANVIL_HOST_TEST
#include <stdlib.h>
#else
void *malloc(size_t);
void free(void *);
#endif

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c) {
    if (o->len + 1 < o->size) o->buf[o->len] = c;
    o->len++;
}

static void put_n(struct out *o, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) put(o, s[i]);
}

static void pad(struct out *o, char c, long n) {
    while (n-- > 0) put(o, c);
}

struct spec {
    int left, plus, space, alt, zero;
    long width;
    long prec; /* -1: none */
    char conv;
};

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_J, LEN_Z, LEN_T, LEN_BIG_L };

/* Writes a field of `len` characters: spaces before (right-aligned), then `prefix` (sign, 0x),
 * then zeros up to the width if the '0' flag applies, then what `body` writes, then spaces
 * after (left-aligned). */
static void field(struct out *o, const struct spec *s, int zero_pad, const char *prefix, size_t plen, size_t len,
                  void (*body)(struct out *, const void *), const void *arg) {
    long fill = s->width - (long)len;
    if (!s->left && !zero_pad) pad(o, ' ', fill);
    put_n(o, prefix, plen);
    if (!s->left && zero_pad) pad(o, '0', fill);
    body(o, arg);
    if (s->left) pad(o, ' ', fill);
}

/* ---- integers ---- */

struct int_body {
    const char *digits;
    size_t n;
    long zeros; /* leading zeros from the precision */
};

static void int_out(struct out *o, const void *arg) {
    const struct int_body *b = arg;
    pad(o, '0', b->zeros);
    put_n(o, b->digits, b->n);
}

static void format_int(struct out *o, const struct spec *s, uint64_t v, int negative) {
    char tmp[24];
    unsigned base = s->conv == 'o' ? 8 : (s->conv == 'x' || s->conv == 'X') ? 16 : 10;
    const char *digits = s->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t n = 0;
    char rev[24];
    for (uint64_t x = v; x; x /= base) rev[n++] = digits[x % base];
    for (size_t i = 0; i < n; i++) tmp[i] = rev[n - 1 - i];
    /* The precision is the minimum number of digits; ".0" with 0 prints no digit. */
    long prec = s->prec < 0 ? 1 : s->prec;
    long zeros = prec > (long)n ? prec - (long)n : 0;
    /* '#' with %o: the first digit is a zero. */
    if (s->conv == 'o' && s->alt && zeros == 0 && (n == 0 || tmp[0] != '0')) zeros = 1;
    char prefix[2];
    size_t plen = 0;
    if (s->conv == 'd' || s->conv == 'i') {
        if (negative) prefix[plen++] = '-';
        else if (s->plus) prefix[plen++] = '+';
        else if (s->space) prefix[plen++] = ' ';
    } else if ((s->conv == 'x' || s->conv == 'X') && s->alt && v) {
        prefix[plen++] = '0';
        prefix[plen++] = s->conv;
    }
    struct int_body b = {tmp, n, zeros};
    field(o, s, s->zero && s->prec < 0 && !s->left, prefix, plen, plen + (size_t)zeros + n, int_out, &b);
}

/* ---- floating point: exact decimal expansion ---- */

/* A non-negative big integer in base 10^9, least significant limb first. */
struct big {
    uint32_t *a;
    int n;
};

static void big_mul_small(struct big *b, uint32_t f) {
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t x = (uint64_t)b->a[i] * f + carry;
        b->a[i] = (uint32_t)(x % 1000000000u);
        carry = x / 1000000000u;
    }
    while (carry) {
        b->a[b->n++] = (uint32_t)(carry % 1000000000u);
        carry /= 1000000000u;
    }
}

static const uint32_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

/* A finite value m * 2^e2 as decimal digits D[0] D[1] ... (most significant first, read from
 * the big integer) with D[0] in the place 10^exp10. */
struct decimal {
    struct big big;
    int nd;    /* number of digits */
    int exp10; /* place of the first digit */
    /* After rounding: digits kept (later ones read as 0), and how the last kept ones change. */
    int keep;
    int bump; /* index of the digit that is incremented (the 9s after it became 0); -1 none */
    int carry_out; /* all kept digits were 9 (or none was kept): the value is 1 * 10^exp10 */
};

static int raw_digit(const struct decimal *d, int i) {
    int pos = d->nd - 1 - i; /* from the least significant digit */
    return (int)(d->big.a[pos / 9] / pow10[pos % 9] % 10);
}

/* The digit at index i of the rounded value. */
static int digit(const struct decimal *d, int i) {
    if (d->carry_out) return i == 0 ? 1 : 0;
    if (i < 0 || i >= d->keep || i >= d->nd) return 0;
    if (d->bump < 0 || i < d->bump) return raw_digit(d, i);
    return i == d->bump ? raw_digit(d, i) + 1 : 0;
}

static int nonzero_after(const struct decimal *d, int i) {
    for (int j = i + 1; j < d->nd; j++)
        if (raw_digit(d, j)) return 1;
    return 0;
}

/* Keeps the first `k` digits, rounding half to even (the expansion is exact, so a tie is a
 * real tie). May be called once. */
static void round_to(struct decimal *d, int k) {
    d->keep = k;
    d->bump = -1;
    d->carry_out = 0;
    if (k >= d->nd) return;
    if (k < 0) {
        d->keep = 0;
        d->nd = 1; /* the value is below half a unit of the last kept place: zero */
        d->big.a[0] = 0;
        d->big.n = 1;
        return;
    }
    int r = raw_digit(d, k);
    int prev_odd = k > 0 ? raw_digit(d, k - 1) & 1 : 0;
    int up = r > 5 || (r == 5 && (nonzero_after(d, k) || prev_odd));
    if (!up) return;
    int j = k - 1;
    while (j >= 0 && raw_digit(d, j) == 9) j--;
    if (j < 0) {
        d->carry_out = 1;
        d->exp10++;
        d->keep = 1;
    } else {
        d->bump = j;
    }
}

/* Limbs on the stack cover every double (at most 767 significant digits); long doubles with
 * large exponents take the big integer from the heap. */
enum { STACK_LIMBS = 128 };

/* Fills `d` with the exact decimal expansion of m * 2^e2. Returns 0, or -1 if memory for a
 * very large long double could not be had. `*heap` is set to what must be freed. */
static int to_decimal(struct decimal *d, uint64_t m, int e2, uint32_t *stack, uint32_t **heap) {
    *heap = NULL;
    if (m == 0) e2 = 0;
    while (m && !(m & 1)) {
        m >>= 1;
        e2++;
    }
    /* Limbs needed: digits of m (20) plus e2*log10(2) or -e2*log10(5), over 9, with margin. */
    long bits = e2 >= 0 ? (long)e2 * 302 / 1000 : (long)-e2 * 699 / 1000;
    long limbs = (bits + 20) / 9 + 3;
    d->big.a = stack;
    if (limbs > STACK_LIMBS) {
        *heap = malloc((size_t)limbs * sizeof(uint32_t));
        if (!*heap) return -1;
        d->big.a = *heap;
    }
    d->big.n = 0;
    do {
        d->big.a[d->big.n++] = (uint32_t)(m % 1000000000u);
        m /= 1000000000u;
    } while (m);
    int shift10 = 0;
    if (e2 >= 0) {
        for (int e = e2; e > 0; e -= 29) big_mul_small(&d->big, 1u << (e > 29 ? 29 : e));
    } else {
        /* m * 2^e2 = m * 5^-e2 / 10^-e2 */
        for (int e = -e2; e > 0; e -= 13) {
            uint32_t f = 1;
            for (int i = 0; i < (e > 13 ? 13 : e); i++) f *= 5;
            big_mul_small(&d->big, f);
        }
        shift10 = e2;
    }
    uint32_t top = d->big.a[d->big.n - 1];
    int top_digits = 1;
    while (top_digits < 9 && top >= pow10[top_digits]) top_digits++;
    d->nd = (d->big.n - 1) * 9 + top_digits;
    d->exp10 = d->nd - 1 + shift10;
    d->keep = d->nd;
    d->bump = -1;
    d->carry_out = 0;
    return 0;
}

struct float_body {
    struct decimal *d;
    char style;   /* 'f' or 'e' */
    long prec;    /* digits after the point */
    int point;    /* print the decimal point */
    int upper;
    int exp10;    /* for 'e' */
};

static void float_out(struct out *o, const void *arg) {
    const struct float_body *b = arg;
    const struct decimal *d = b->d;
    if (b->style == 'f') {
        /* Integer part: places exp10 .. 0; digit index i has place exp10 - i. */
        if (d->exp10 < 0) {
            put(o, '0');
        } else {
            for (int i = 0; i <= d->exp10; i++) put(o, (char)('0' + digit(d, i)));
        }
        if (b->point) put(o, '.');
        for (long j = 1; j <= b->prec; j++) put(o, (char)('0' + digit(d, (int)(d->exp10 + j))));
    } else {
        put(o, (char)('0' + digit(d, 0)));
        if (b->point) put(o, '.');
        for (long j = 1; j <= b->prec; j++) put(o, (char)('0' + digit(d, (int)j)));
        put(o, b->upper ? 'E' : 'e');
        int e = b->exp10;
        put(o, e < 0 ? '-' : '+');
        unsigned u = (unsigned)(e < 0 ? -e : e);
        char t[8];
        int n = 0;
        do {
            t[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (n < 2) t[n++] = '0';
        while (n) put(o, t[--n]);
    }
}

static void text_out(struct out *o, const void *arg) {
    const char *s = arg;
    while (*s) put(o, *s++);
}

/* A floating-point value taken apart: sign, and either infinity, NaN, or m * 2^e2 (m = 0 for
 * zero). `mant_bits`: where the leading bit of a normal value sits (52 or 63), for %a. */
struct fp {
    int neg, inf, nan;
    uint64_t m;
    int e2;
    int mant_bits;
    int is_long;
};

static struct fp split_double(double v) {
    union {
        double d;
        uint64_t u;
    } x = {v};
    struct fp f = {0};
    f.neg = (int)(x.u >> 63);
    int exp = (int)(x.u >> 52) & 0x7FF;
    uint64_t frac = x.u & ((1ull << 52) - 1);
    f.mant_bits = 52;
    if (exp == 0x7FF) {
        f.inf = frac == 0;
        f.nan = frac != 0;
    } else if (exp == 0) {
        f.m = frac;
        f.e2 = 1 - 1075;
    } else {
        f.m = frac | (1ull << 52);
        f.e2 = exp - 1075;
    }
    return f;
}

static struct fp split_long_double(long double v) {
    /* x87 extended precision: 64-bit significand with an explicit integer bit, 15-bit
     * exponent, sign. */
    union {
        long double d;
        struct {
            uint64_t m;
            uint16_t se;
        } p;
    } x;
    x.d = v;
    struct fp f = {0};
    f.neg = x.p.se >> 15;
    int exp = x.p.se & 0x7FFF;
    f.mant_bits = 63;
    f.is_long = 1;
    if (exp == 0x7FFF) {
        f.inf = (x.p.m << 1) == 0;
        f.nan = !f.inf;
    } else {
        f.m = x.p.m;
        f.e2 = (exp ? exp : 1) - 16383 - 63;
    }
    return f;
}

/* %a: like glibc, a double prints as 1.hhh (0.hhh when subnormal) with 13 fraction digits,
 * a long double as its 64-bit significand split into a first hex digit and 15 more. */
static void format_hex_float(struct out *o, const struct spec *s, const struct fp *f, const char *prefix,
                             size_t plen) {
    const char *hex = (s->conv == 'A') ? "0123456789ABCDEF" : "0123456789abcdef";
    uint64_t lead, frac;
    int nfrac, exp2;
    if (!f->is_long) {
        lead = f->m >> 52;
        frac = f->m & ((1ull << 52) - 1);
        nfrac = 13;
        exp2 = f->m ? f->e2 + 52 : 0;
        if (f->m && lead == 0) exp2 = -1022;
    } else {
        lead = f->m >> 60;
        frac = f->m & ((1ull << 60) - 1);
        nfrac = 15;
        exp2 = f->m ? f->e2 + 60 : 0;
    }
    if (s->prec >= 0 && s->prec < nfrac) {
        int drop = (nfrac - (int)s->prec) * 4;
        uint64_t rest = frac & ((1ull << drop) - 1);
        uint64_t half = 1ull << (drop - 1);
        frac >>= drop;
        /* Half to even; with no fraction digit left, the first digit decides. */
        uint64_t odd = s->prec ? frac & 1 : lead & 1;
        if (rest > half || (rest == half && odd)) {
            frac++;
            if (frac >> (s->prec * 4)) {
                frac = 0;
                lead++;
            }
        }
        nfrac = (int)s->prec;
    }
    char digits[20];
    int n = 0;
    if (lead >= 16) {
        /* A long double's first digit f rounded up: renormalise to 1.000 and a larger exponent. */
        digits[n++] = '1';
        exp2 += 4;
    } else {
        digits[n++] = hex[lead];
    }
    for (int i = nfrac - 1; i >= 0; i--) digits[n++] = hex[(frac >> (i * 4)) & 0xF];
    int shown = nfrac;
    if (s->prec < 0)
        while (shown > 0 && digits[shown] == '0') shown--;
    else
        shown = (int)s->prec; /* zeros beyond the significand are printed below */
    int point = shown > 0 || s->alt;
    char pre[4];
    size_t pl = 0;
    for (size_t i = 0; i < plen; i++) pre[pl++] = prefix[i];
    pre[pl++] = '0';
    pre[pl++] = s->conv == 'A' ? 'X' : 'x';
    char buf[64];
    int bn = 0;
    for (int i = 1; i <= shown && i <= nfrac; i++) buf[bn++] = digits[i];
    long extra = s->prec > nfrac ? s->prec - nfrac : 0;
    int e = exp2 < 0 ? -exp2 : exp2;
    int elen = 2 + (e >= 10000 ? 5 : e >= 1000 ? 4 : e >= 100 ? 3 : e >= 10 ? 2 : 1);
    size_t len = pl + 1 + (size_t)point + (size_t)bn + (size_t)extra + (size_t)elen;
    /* Written in pieces: prefix, first digit, point, fraction, extra zeros, exponent. */
    long fill = s->width - (long)len;
    int zero_pad = s->zero && !s->left;
    if (!s->left && !zero_pad) pad(o, ' ', fill);
    put_n(o, pre, pl);
    if (zero_pad) pad(o, '0', fill);
    put(o, digits[0]);
    if (point) put(o, '.');
    put_n(o, buf, (size_t)bn);
    pad(o, '0', extra);
    put(o, s->conv == 'A' ? 'P' : 'p');
    put(o, exp2 < 0 ? '-' : '+');
    char t[8];
    int tn = 0;
    do {
        t[tn++] = (char)('0' + e % 10);
        e /= 10;
    } while (e);
    while (tn) put(o, t[--tn]);
    if (s->left) pad(o, ' ', fill);
}

static int format_float(struct out *o, struct spec s, const struct fp *f) {
    char prefix[1];
    size_t plen = 0;
    if (f->neg) prefix[plen++] = '-';
    else if (s.plus) prefix[plen++] = '+';
    else if (s.space) prefix[plen++] = ' ';
    int upper = s.conv == 'F' || s.conv == 'E' || s.conv == 'G' || s.conv == 'A';
    if (f->inf || f->nan) {
        const char *t = f->inf ? (upper ? "INF" : "inf") : (upper ? "NAN" : "nan");
        field(o, &s, 0, prefix, plen, plen + 3, text_out, t);
        return 0;
    }
    if (s.conv == 'a' || s.conv == 'A') {
        format_hex_float(o, &s, f, prefix, plen);
        return 0;
    }
    uint32_t stack[STACK_LIMBS];
    uint32_t *heap = NULL;
    struct decimal d;
    if (to_decimal(&d, f->m, f->e2, stack, &heap) != 0) return -1;
    long prec = s.prec < 0 ? 6 : s.prec;
    struct float_body b = {&d, 'f', prec, prec > 0 || s.alt, upper, 0};
    char c = (char)(s.conv | 0x20);
    if (c == 'f') {
        long k = (long)d.exp10 + prec + 1;
        round_to(&d, k > d.nd + 1 ? d.nd + 1 : (int)k);
    } else if (c == 'e') {
        round_to(&d, prec + 1 > d.nd + 1 ? d.nd + 1 : (int)(prec + 1));
        b.style = 'e';
    } else {
        /* %g: P significant digits; %e style if the exponent is below -4 or at least P. */
        long p = s.prec < 0 ? 6 : s.prec == 0 ? 1 : s.prec;
        round_to(&d, p > d.nd + 1 ? d.nd + 1 : (int)p);
        int x = f->m ? d.exp10 : 0;
        if (p > x && x >= -4) {
            b.prec = p - 1 - x;
        } else {
            b.style = 'e';
            b.prec = p - 1;
        }
        if (!s.alt) {
            /* Trailing zeros of the fraction go, and the point with them. */
            long last = b.style == 'f' ? (long)d.exp10 + b.prec : b.prec;
            while (b.prec > 0 && digit(&d, (int)last) == 0) {
                b.prec--;
                last--;
            }
        }
        b.point = b.prec > 0 || s.alt;
    }
    b.exp10 = f->m ? d.exp10 : 0;
    size_t len;
    if (b.style == 'f') {
        len = (size_t)(d.exp10 < 0 ? 1 : d.exp10 + 1) + (size_t)b.point + (size_t)b.prec;
    } else {
        int e = b.exp10 < 0 ? -b.exp10 : b.exp10;
        len = 1 + (size_t)b.point + (size_t)b.prec + 2 + (e >= 1000 ? 4 : e >= 100 ? 3 : 2);
    }
    field(o, &s, s.zero && !s.left, prefix, plen, plen + len, float_out, &b);
    free(heap);
    return 0;
}

/* ---- the core ---- */

int ANVIL_FN(vsnprintf)(char *buf, size_t size, const char *fmt, va_list ap) {
    struct out o = {buf, size, 0};
    int failed = 0;
    for (; *fmt && !failed; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        const char *start = fmt;
        fmt++;
        struct spec s = {0, 0, 0, 0, 0, 0, -1, 0};
        for (;; fmt++) {
            if (*fmt == '-') s.left = 1;
            else if (*fmt == '+') s.plus = 1;
            else if (*fmt == ' ') s.space = 1;
            else if (*fmt == '#') s.alt = 1;
            else if (*fmt == '0') s.zero = 1;
            else break;
        }
        if (*fmt == '*') {
            int w = va_arg(ap, int);
            if (w < 0) {
                s.left = 1;
                s.width = -(long)w;
            } else {
                s.width = w;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9') s.width = s.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            s.prec = 0;
            if (*fmt == '*') {
                int p = va_arg(ap, int);
                s.prec = p < 0 ? -1 : p; /* a negative precision is taken as none */
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9') s.prec = s.prec * 10 + (*fmt++ - '0');
            }
        }
        enum length len = LEN_NONE;
        switch (*fmt) {
        case 'h':
            len = fmt[1] == 'h' ? (fmt++, LEN_HH) : LEN_H;
            fmt++;
            break;
        case 'l':
            len = fmt[1] == 'l' ? (fmt++, LEN_LL) : LEN_L;
            fmt++;
            break;
        case 'j': len = LEN_J; fmt++; break;
        case 'z': len = LEN_Z; fmt++; break;
        case 't': len = LEN_T; fmt++; break;
        case 'L': len = LEN_BIG_L; fmt++; break;
        default: break;
        }
        s.conv = *fmt;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v;
            switch (len) {
            case LEN_HH: v = (signed char)va_arg(ap, int); break;
            case LEN_H: v = (short)va_arg(ap, int); break;
            case LEN_L: v = va_arg(ap, long); break;
            case LEN_LL:
            case LEN_BIG_L: v = va_arg(ap, long long); break;
            case LEN_J: v = va_arg(ap, intmax_t); break;
            case LEN_Z: v = va_arg(ap, long); break; /* the signed type of size_t */
            case LEN_T: v = va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, int); break;
            }
            format_int(&o, &s, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
            break;
        }
        case 'u':
        case 'o':
        case 'x':
        case 'X': {
            uint64_t v;
            switch (len) {
            case LEN_HH: v = (unsigned char)va_arg(ap, unsigned); break;
            case LEN_H: v = (unsigned short)va_arg(ap, unsigned); break;
            case LEN_L: v = va_arg(ap, unsigned long); break;
            case LEN_LL:
            case LEN_BIG_L: v = va_arg(ap, unsigned long long); break;
            case LEN_J: v = va_arg(ap, uintmax_t); break;
            case LEN_Z: v = va_arg(ap, size_t); break;
            case LEN_T: v = (uint64_t)va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, unsigned); break;
            }
            format_int(&o, &s, v, 0);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
        case 'a':
        case 'A': {
            struct fp f = len == LEN_BIG_L ? split_long_double(va_arg(ap, long double)) : split_double(va_arg(ap, double));
            if (format_float(&o, s, &f) != 0) failed = 1;
            break;
        }
        case 'c': {
            int c = va_arg(ap, int);
            if (len == LEN_L && (unsigned)c >= 128) {
                failed = 1; /* no multibyte encoding without a locale */
                break;
            }
            if (!s.left) pad(&o, ' ', s.width - 1);
            put(&o, (char)c);
            if (s.left) pad(&o, ' ', s.width - 1);
            break;
        }
        case 's': {
            if (len == LEN_L) {
                static const int null_text[] = {'(', 'n', 'u', 'l', 'l', ')', 0};
                const int *w = (const int *)va_arg(ap, const void *);
                if (!w) w = null_text;
                size_t n = 0;
                while (w[n] && (s.prec < 0 || (long)n < s.prec)) {
                    if ((unsigned)w[n] >= 128) failed = 1;
                    n++;
                }
                if (failed) break;
                if (!s.left) pad(&o, ' ', s.width - (long)n);
                for (size_t i = 0; i < n; i++) put(&o, (char)w[i]);
                if (s.left) pad(&o, ' ', s.width - (long)n);
                break;
            }
            const char *str = va_arg(ap, const char *);
            if (!str) str = (s.prec < 0 || s.prec >= 6) ? "(null)" : "";
            size_t n = 0;
            while ((s.prec < 0 || (long)n < s.prec) && str[n]) n++;
            if (!s.left) pad(&o, ' ', s.width - (long)n);
            put_n(&o, str, n);
            if (s.left) pad(&o, ' ', s.width - (long)n);
            break;
        }
        case 'p': {
            void *p = va_arg(ap, void *);
            if (!p) {
                s.zero = 0;
                field(&o, &s, 0, "", 0, 5, text_out, "(nil)");
                break;
            }
            s.conv = 'x';
            s.alt = 1;
            format_int(&o, &s, (uint64_t)(uintptr_t)p, 0);
            break;
        }
        case 'n': {
            void *p = va_arg(ap, void *);
            switch (len) {
            case LEN_HH: *(signed char *)p = (signed char)o.len; break;
            case LEN_H: *(short *)p = (short)o.len; break;
            case LEN_L: *(long *)p = (long)o.len; break;
            case LEN_LL: *(long long *)p = (long long)o.len; break;
            case LEN_J: *(intmax_t *)p = (intmax_t)o.len; break;
            case LEN_Z: *(size_t *)p = o.len; break;
            case LEN_T: *(ptrdiff_t *)p = (ptrdiff_t)o.len; break;
            default: *(int *)p = (int)o.len; break;
            }
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case 0:
            /* A lone '%' at the end: printed as it stands. */
            put_n(&o, start, (size_t)(fmt - start));
            fmt--;
            break;
        default:
            /* Not a conversion: printed as it stands. */
            put_n(&o, start, (size_t)(fmt - start) + 1);
            break;
        }
    }
    if (size) buf[o.len < size ? o.len : size - 1] = 0;
    if (failed || o.len > 0x7FFFFFFF) return -1;
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
int vsprintf(char *buf, const char *fmt, va_list ap) {
    return vsnprintf(buf, (size_t)-1 / 2, fmt, ap);
}

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
    if (n < 0) {
        va_end(ap2);
        return n;
    }
    if (n < (int)sizeof small) {
        anvil_rt_console_write(small, (size_t)n);
    } else {
        /* Long output: format again into a heap buffer of the right size. */
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            anvil_rt_console_write(big, (size_t)n);
            free(big);
        } else {
            anvil_rt_console_write(small, sizeof small - 1);
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
    anvil_rt_console_write(s, n);
    anvil_rt_console_write("\n", 1);
    return (int)n + 1;
}

int putchar(int c) {
    char ch = (char)c;
    anvil_rt_console_write(&ch, 1);
    return (unsigned char)c;
}
#endif
