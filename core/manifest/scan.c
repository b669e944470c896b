/*
 * Interface: see manifest_priv.h (mf_scan, mf_utf8_valid). A strict,
 * iterative RFC 8259 syntax check with the manifest's limits; it keeps
 * no tree and allocates nothing. It runs before cJSON, which is laxer
 * than the RFC (it takes "+1", "01", "1." and raw control characters in
 * strings) and whose recursion depth it bounds.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fmt.h"

#include "manifest_priv.h"

#define MF_NUMBER_MAX 32    /* characters in one number */

struct mf_scanner {
    const uint8_t *s;
    size_t len;
    size_t pos;
    const char *why;        /* set on refusal */
};

/* Length of the UTF-8 sequence at s[0..len), or 0 when it is not valid
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static size_t utf8_seq(const uint8_t *s, size_t len)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

bool mf_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static bool fail(struct mf_scanner *sc, const char *why)
{
    sc->why = why;
    return false;
}

static void skip_ws(struct mf_scanner *sc)
{
    while (sc->pos < sc->len) {
        uint8_t c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        sc->pos++;
    }
}

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "\uXXXX" at pos (pos on the backslash); the code unit in *out. */
static bool scan_u_escape(struct mf_scanner *sc, unsigned *out)
{
    if (sc->len - sc->pos < 6 || sc->s[sc->pos + 1] != 'u')
        return false;
    unsigned v = 0;
    for (size_t i = 2; i < 6; i++) {
        int d = hex_digit(sc->s[sc->pos + i]);
        if (d < 0)
            return false;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    sc->pos += 6;
    return true;
}

/* An escape at pos (on the backslash). */
static bool scan_escape(struct mf_scanner *sc)
{
    if (sc->pos + 1 >= sc->len)
        return fail(sc, "unterminated string");
    uint8_t e = sc->s[sc->pos + 1];
    if (e != 'u') {
        if (strchr("\"\\/bfnrt", e) == NULL || e == 0)
            return fail(sc, "invalid escape in a string");
        sc->pos += 2;
        return true;
    }
    /* Refusals point at the escape's backslash. */
    size_t start = sc->pos;
    unsigned u;
    if (!scan_u_escape(sc, &u))
        return fail(sc, "invalid \\u escape in a string");
    bool ok = true;
    const char *why = NULL;
    if (u == 0) {
        ok = false;
        why = "\\u0000 in a string";
    } else if (u >= 0xdc00 && u <= 0xdfff) {
        ok = false;
    } else if (u >= 0xd800 && u <= 0xdbff) {
        unsigned low;
        ok = sc->pos < sc->len && sc->s[sc->pos] == '\\' && scan_u_escape(sc, &low) &&
             low >= 0xdc00 && low <= 0xdfff;
    }
    if (!ok) {
        sc->pos = start;
        return fail(sc, why ? why : "unpaired surrogate in a string");
    }
    return true;
}

/* A string at pos (on the opening quote). UTF-8 was checked already. */
static bool scan_string(struct mf_scanner *sc)
{
    sc->pos++;
    for (;;) {
        if (sc->pos >= sc->len)
            return fail(sc, "unterminated string");
        uint8_t c = sc->s[sc->pos];
        if (c == '"') {
            sc->pos++;
            return true;
        }
        if (c < 0x20)
            return fail(sc, "control character in a string");
        if (c == '\\') {
            if (!scan_escape(sc))
                return false;
        } else {
            sc->pos++;
        }
    }
}

static size_t scan_digits(struct mf_scanner *sc)
{
    size_t n = 0;
    while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9') {
        sc->pos++;
        n++;
    }
    return n;
}

static bool at(const struct mf_scanner *sc, char c)
{
    return sc->pos < sc->len && sc->s[sc->pos] == (uint8_t)c;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at pos. */
static bool scan_number(struct mf_scanner *sc)
{
    size_t start = sc->pos;
    if (at(sc, '-'))
        sc->pos++;
    if (at(sc, '0')) {
        sc->pos++;
    } else if (scan_digits(sc) == 0) {
        return fail(sc, "invalid number");
    }
    if (at(sc, '.')) {
        sc->pos++;
        if (scan_digits(sc) == 0)
            return fail(sc, "invalid number");
    }
    if (at(sc, 'e') || at(sc, 'E')) {
        sc->pos++;
        if (at(sc, '+') || at(sc, '-'))
            sc->pos++;
        if (scan_digits(sc) == 0)
            return fail(sc, "invalid number");
    }
    if (sc->pos - start > MF_NUMBER_MAX) {
        sc->pos = start;
        return fail(sc, "a number longer than 32 characters");
    }
    return true;
}

static bool scan_literal(struct mf_scanner *sc, const char *word)
{
    size_t n = strlen(word);
    if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
        return fail(sc, "expected a value");
    sc->pos += n;
    return true;
}

/* A scalar value at pos. */
static bool scan_scalar(struct mf_scanner *sc)
{
    uint8_t c = sc->s[sc->pos];
    if (c == '"')
        return scan_string(sc);
    if (c == '-' || (c >= '0' && c <= '9'))
        return scan_number(sc);
    if (c == 't')
        return scan_literal(sc, "true");
    if (c == 'f')
        return scan_literal(sc, "false");
    if (c == 'n')
        return scan_literal(sc, "null");
    return fail(sc, "expected a value");
}

enum scan_state { WANT_VALUE, WANT_KEY, AFTER_VALUE };

struct scan_stack {
    unsigned depth;
    uint32_t objects;       /* bit d: the container at depth d+1 is an object */
    unsigned values;
};

/* A value (scalar, or the opening of a container) at pos. */
static bool scan_value(struct mf_scanner *sc, struct scan_stack *st, enum scan_state *state)
{
    if (sc->pos >= sc->len)
        return fail(sc, "expected a value");
    if (++st->values > TERN_MANIFEST_MAX_VALUES)
        return fail(sc, "more than 1024 values in the document");
    uint8_t c = sc->s[sc->pos];
    if (c != '{' && c != '[') {
        *state = AFTER_VALUE;
        return scan_scalar(sc);
    }
    if (st->depth == TERN_MANIFEST_MAX_DEPTH)
        return fail(sc, "nesting deeper than 16 levels");
    bool object = c == '{';
    if (object)
        st->objects |= 1u << st->depth;
    else
        st->objects &= ~(1u << st->depth);
    st->depth++;
    sc->pos++;
    skip_ws(sc);
    if (at(sc, object ? '}' : ']')) {
        sc->pos++;
        st->depth--;
        *state = AFTER_VALUE;
    } else {
        *state = object ? WANT_KEY : WANT_VALUE;
    }
    return true;
}

static bool scan_key(struct mf_scanner *sc, enum scan_state *state)
{
    if (!at(sc, '"'))
        return fail(sc, "expected a string key");
    if (!scan_string(sc))
        return false;
    skip_ws(sc);
    if (!at(sc, ':'))
        return fail(sc, "expected ':'");
    sc->pos++;
    *state = WANT_VALUE;
    return true;
}

/* After a value: ',' or the container's end; at depth 0 the end. */
static bool scan_after(struct mf_scanner *sc, struct scan_stack *st, enum scan_state *state,
                       bool *done)
{
    if (st->depth == 0) {
        if (sc->pos != sc->len)
            return fail(sc, "trailing data after the document");
        *done = true;
        return true;
    }
    bool object = (st->objects >> (st->depth - 1)) & 1u;
    if (at(sc, ',')) {
        sc->pos++;
        *state = object ? WANT_KEY : WANT_VALUE;
        return true;
    }
    if (at(sc, object ? '}' : ']')) {
        sc->pos++;
        st->depth--;
        return true;
    }
    return fail(sc, object ? "expected ',' or '}'" : "expected ',' or ']'");
}

static bool scan_document(struct mf_scanner *sc)
{
    struct scan_stack st = { 0 };
    enum scan_state state = WANT_VALUE;
    bool done = false;
    while (!done) {
        skip_ws(sc);
        bool ok;
        if (state == WANT_VALUE)
            ok = scan_value(sc, &st, &state);
        else if (state == WANT_KEY)
            ok = scan_key(sc, &state);
        else
            ok = scan_after(sc, &st, &state, &done);
        if (!ok)
            return false;
    }
    return true;
}

/* The first invalid UTF-8 byte's offset, or len. */
static size_t first_bad_utf8(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

static tern_result refuse_at(const uint8_t *s, size_t pos, const char *why,
                             struct tern_manifest_error *err)
{
    unsigned line = 1, column = 1;
    for (size_t i = 0; i < pos; i++) {
        if (s[i] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    tern_snprintf(err->path, sizeof(err->path), "$");
    tern_snprintf(err->msg, sizeof(err->msg), "%s at line %u column %u", why, line, column);
    return TERN_EINVAL;
}

tern_result mf_scan(const char *json, size_t len, struct tern_manifest_error *err)
{
    const uint8_t *s = (const uint8_t *)json;
    if (len > TERN_MANIFEST_MAX_BYTES) {
        tern_snprintf(err->path, sizeof(err->path), "$");
        tern_snprintf(err->msg, sizeof(err->msg), "expected at most %u bytes, got %zu",
                      (unsigned)TERN_MANIFEST_MAX_BYTES, len);
        return TERN_EINVAL;
    }
    const uint8_t *nul = memchr(s, 0, len);
    if (nul != NULL)
        return refuse_at(s, (size_t)(nul - s), "NUL byte", err);
    size_t bad = first_bad_utf8(s, len);
    if (bad < len)
        return refuse_at(s, bad, "invalid UTF-8", err);
    struct mf_scanner sc = { .s = s, .len = len };
    if (!scan_document(&sc))
        return refuse_at(s, sc.pos, sc.why, err);
    return TERN_OK;
}
