/*
 * Interface: see include/tern/fmt.h. A small printf for logs, markers and
 * protocol text. Output goes through a bounded cursor that keeps counting
 * past the end, so the caller learns the full length.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tern/fmt.h"

struct out {
    char *buf;
    size_t cap;
    size_t len;            /* bytes the full output needs so far */
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_repeat(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

struct spec {
    bool left, zero, plus, space, alt;
    int width;
    int precision;         /* -1: none */
};

static void put_padded(struct out *o, const struct spec *sp, const char *s, size_t n)
{
    int pad = sp->width > (int)n ? sp->width - (int)n : 0;
    if (!sp->left)
        put_repeat(o, ' ', pad);
    for (size_t i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        put_repeat(o, ' ', pad);
}

static void put_number(struct out *o, const struct spec *sp, uint64_t v, bool negative,
                       unsigned base, bool upper, const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    while (v != 0) {
        tmp[n++] = digits[v % base];
        v /= base;
    }
    /* Precision is the minimum digit count; "%.0d" of 0 prints nothing. */
    int min_digits = sp->precision >= 0 ? sp->precision : 1;
    int zeros = min_digits > n ? min_digits - n : 0;

    char sign = 0;
    if (negative)
        sign = '-';
    else if (sp->plus)
        sign = '+';
    else if (sp->space)
        sign = ' ';
    int prefix_len = prefix ? (int)strlen(prefix) : 0;
    int body = n + zeros + (sign ? 1 : 0) + prefix_len;
    int pad = sp->width > body ? sp->width - body : 0;
    if (sp->zero && !sp->left && sp->precision < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!sp->left)
        put_repeat(o, ' ', pad);
    if (sign)
        put(o, sign);
    for (int i = 0; i < prefix_len; i++)
        put(o, prefix[i]);
    put_repeat(o, '0', zeros);
    while (n > 0)
        put(o, tmp[--n]);
    if (sp->left)
        put_repeat(o, ' ', pad);
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_PTRDIFF, LEN_MAX };

static uint64_t take_unsigned(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_CHAR: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_LONG: return va_arg(*ap, unsigned long);
    case LEN_LLONG: return va_arg(*ap, unsigned long long);
    case LEN_SIZE: return va_arg(*ap, size_t);
    case LEN_PTRDIFF: return (uint64_t)va_arg(*ap, ptrdiff_t);
    case LEN_MAX: return va_arg(*ap, uintmax_t);
    default: return va_arg(*ap, unsigned int);
    }
}

static int64_t take_signed(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_CHAR: return (signed char)va_arg(*ap, int);
    case LEN_SHORT: return (short)va_arg(*ap, int);
    case LEN_LONG: return va_arg(*ap, long);
    case LEN_LLONG: return va_arg(*ap, long long);
    case LEN_SIZE: return (int64_t)va_arg(*ap, size_t);
    case LEN_PTRDIFF: return va_arg(*ap, ptrdiff_t);
    case LEN_MAX: return va_arg(*ap, intmax_t);
    default: return va_arg(*ap, int);
    }
}

static const char *parse_length(const char *f, enum length *len)
{
    *len = LEN_INT;
    switch (*f) {
    case 'h':
        if (f[1] == 'h') {
            *len = LEN_CHAR;
            return f + 2;
        }
        *len = LEN_SHORT;
        return f + 1;
    case 'l':
        if (f[1] == 'l') {
            *len = LEN_LLONG;
            return f + 2;
        }
        *len = LEN_LONG;
        return f + 1;
    case 'z': *len = LEN_SIZE; return f + 1;
    case 't': *len = LEN_PTRDIFF; return f + 1;
    case 'j': *len = LEN_MAX; return f + 1;
    default: return f;
    }
}

size_t tern_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap_in)
{
    struct out o = { buf, cap, 0 };
    va_list ap;
    va_copy(ap, ap_in);

    for (const char *f = fmt; *f != '\0'; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        f++;
        struct spec sp = { .precision = -1 };
        for (;; f++) {
            if (*f == '-') sp.left = true;
            else if (*f == '0') sp.zero = true;
            else if (*f == '+') sp.plus = true;
            else if (*f == ' ') sp.space = true;
            else if (*f == '#') sp.alt = true;
            else break;
        }
        if (*f == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                sp.width = sp.width * 10 + (*f++ - '0');
        }
        if (*f == '.') {
            f++;
            sp.precision = 0;
            if (*f == '*') {
                sp.precision = va_arg(ap, int);
                if (sp.precision < 0)
                    sp.precision = -1;
                f++;
            } else {
                while (*f >= '0' && *f <= '9')
                    sp.precision = sp.precision * 10 + (*f++ - '0');
            }
        }
        enum length len;
        f = parse_length(f, &len);

        switch (*f) {
        case 'd':
        case 'i': {
            int64_t v = take_signed(&ap, len);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_number(&o, &sp, mag, v < 0, 10, false, NULL);
            break;
        }
        case 'u':
            put_number(&o, &sp, take_unsigned(&ap, len), false, 10, false, NULL);
            break;
        case 'x':
        case 'X': {
            uint64_t v = take_unsigned(&ap, len);
            const char *prefix = (sp.alt && v != 0) ? (*f == 'x' ? "0x" : "0X") : NULL;
            put_number(&o, &sp, v, false, 16, *f == 'X', prefix);
            break;
        }
        case 'o':
            put_number(&o, &sp, take_unsigned(&ap, len), false, 8, false, sp.alt ? "0" : NULL);
            break;
        case 'p': {
            struct spec psp = sp;
            psp.alt = true;
            put_number(&o, &psp, (uintptr_t)va_arg(ap, void *), false, 16, false, "0x");
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(&o, &sp, &c, 1);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL)
                s = "(null)";
            size_t n = 0;
            while (s[n] != '\0' && (sp.precision < 0 || n < (size_t)sp.precision))
                n++;
            put_padded(&o, &sp, s, n);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case '\0':
            f--; /* a lone '%' at the end: print it, then stop */
            put(&o, '%');
            break;
        default:
            /* Unknown conversion: print it as written so the bug shows. */
            put(&o, '%');
            put(&o, *f);
            break;
        }
    }
    va_end(ap);
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

size_t tern_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = tern_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

char *tern_token(char *s)
{
    for (char *c = s; *c; c++) {
        if (*c == ' ' || *c == '"' || (unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '_';
    }
    return s;
}

size_t tern_json_object(char *buf, size_t cap, const char *open,
                        const struct tern_json_count *c, size_t n)
{
    size_t len = tern_snprintf(buf, cap, "%s", open);
    for (size_t i = 0; i < n; i++) {
        size_t at = len < cap ? len : cap;
        len += tern_snprintf(buf + at, cap - at, "%s\"%s\":%llu", i ? "," : "", c[i].name,
                             c[i].value);
    }
    size_t at = len < cap ? len : cap;
    return len + tern_snprintf(buf + at, cap - at, "}");
}
