/*
 * Interface: see include/tern/http.h (Parser).
 *
 * The head is copied (without CR/LF) into p->head; each completed line is
 * checked at once, so no input split can change the outcome. Runs of
 * plain bytes within a line are scanned a word at a time and copied whole
 * (head_bytes); line ends, tabs and refused bytes take the byte-at-a-time
 * path (head_byte). Body bytes are handed out as slices of the input.
 *
 * Strictness (the request-smuggling defence of RFC 9112 section 6.3 and
 * 11.2): lines end with CRLF only (a bare CR or LF is 400), NUL and other
 * controls in the head are 400, obs-fold is 400, whitespace between a field
 * name and the colon is 400, a Content-Length with Transfer-Encoding is
 * 400, any repeated Content-Length (even equal) is 400, more than one
 * Transfer-Encoding field is 400, a coding other than a lone "chunked" is
 * 501 (unknown coding) or 400 (chunked not last), a missing or repeated
 * Host in HTTP/1.1 is 400, chunk sizes over 15 hex digits or without
 * digits are 400. Every error is final: the connection answers and closes.
 */
#include <string.h>

#include "tern/http.h"

static const struct tern_http_limits default_limits = {
    .max_request_line = 8000,
    .max_head = TERN_HTTP_HEAD_MAX,
    .max_headers = TERN_HTTP_MAX_HEADERS,
    .max_body = 1024 * 1024,
};

void tern_http_parser_init(struct tern_http_parser *p, const struct tern_http_limits *lim)
{
    memset(p, 0, offsetof(struct tern_http_parser, head));
    p->lim = lim ? *lim : default_limits;
    if (p->lim.max_head == 0 || p->lim.max_head > TERN_HTTP_HEAD_MAX)
        p->lim.max_head = TERN_HTTP_HEAD_MAX;
    if (p->lim.max_headers == 0 || p->lim.max_headers > TERN_HTTP_MAX_HEADERS)
        p->lim.max_headers = TERN_HTTP_MAX_HEADERS;
    if (p->lim.max_request_line == 0 || p->lim.max_request_line > p->lim.max_head)
        p->lim.max_request_line = p->lim.max_head;
    tern_http_parser_reset(p);
}

void tern_http_parser_unread_body(struct tern_http_parser *p, size_t n)
{
    if (n == 0)
        return;
    p->remaining += n;
    p->body_total -= n;
    if (p->state == TERN_HTTP_P_MSG_END)
        p->state = TERN_HTTP_P_BODY_CL;
    else if (p->state == TERN_HTTP_P_CHUNK_DATA_CR)
        p->state = TERN_HTTP_P_CHUNK_DATA;
}

void tern_http_parser_reset(struct tern_http_parser *p)
{
    struct tern_http_limits lim = p->lim;
    /* Everything but the head bytes (which head_len makes stale). */
    memset(p, 0, offsetof(struct tern_http_parser, head));
    memset((uint8_t *)p + offsetof(struct tern_http_parser, head_len), 0,
           sizeof *p - offsetof(struct tern_http_parser, head_len));
    p->lim = lim;
    p->state = TERN_HTTP_P_START;
}

/* tchar of RFC 9110 section 5.6.2: bit c%32 of tchar_map[c/32]. */
static const uint32_t tchar_map[8] = {
    0x00000000u,                     /* controls */
    0x03ff6cfau,                     /* ! # $ % & ' * + - . 0-9 */
    0xc7fffffeu,                     /* A-Z ^ _ */
    0x57ffffffu,                     /* ` a-z | ~ */
    0, 0, 0, 0,
};

static bool is_tchar(uint8_t c)
{
    return (tchar_map[c >> 5] >> (c & 31)) & 1u;
}

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* a[0..n) equals b[0..n) ignoring ASCII case; b is lower case. */
static bool ieq_lc(const uint8_t *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != (uint8_t)b[i])
            return false;
    return true;
}

static bool ieq(const uint8_t *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower(a[i]) != lower((uint8_t)b[i]))
            return false;
    return true;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void fail(struct tern_http_parser *p, int status)
{
    p->state = TERN_HTTP_P_ERROR;
    p->error_status = status;
}

static const struct {
    const char *name;
    enum tern_http_method m;
} methods[] = {
    { "GET", TERN_HTTP_GET },       { "HEAD", TERN_HTTP_HEAD },
    { "POST", TERN_HTTP_POST },     { "PUT", TERN_HTTP_PUT },
    { "DELETE", TERN_HTTP_DELETE }, { "OPTIONS", TERN_HTTP_OPTIONS },
};

/* method SP request-target SP HTTP-version (RFC 9112 section 3). */
static void parse_request_line(struct tern_http_parser *p, const uint8_t *l, uint32_t n)
{
    uint32_t i = 0;
    while (i < n && is_tchar(l[i]))
        i++;
    if (i == 0 || i > 32 || i >= n || l[i] != ' ')
        { fail(p, 400); return; }
    p->method_len = (uint16_t)i;
    p->method = TERN_HTTP_OTHER;
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
        if (strlen(methods[k].name) == i && memcmp(methods[k].name, l, i) == 0)
            p->method = methods[k].m;
    uint32_t t = ++i;
    while (i < n && l[i] > 0x20 && l[i] < 0x7f)
        i++;
    if (i == t || i >= n || l[i] != ' ')
        { fail(p, 400); return; }
    p->target_off = (uint16_t)t;
    p->target_len = (uint16_t)(i - t);
    i++;
    if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 || l[i + 6] != '.' ||
        l[i + 5] < '0' || l[i + 5] > '9' || l[i + 7] < '0' || l[i + 7] > '9')
        { fail(p, 400); return; }
    if (l[i + 5] != '1')
        { fail(p, 505); return; }
    p->version_minor = (uint8_t)(l[i + 7] - '0');
}

/* field-name ":" OWS field-value OWS (RFC 9112 section 5). */
static void parse_field_line(struct tern_http_parser *p, uint32_t off, uint32_t n)
{
    const uint8_t *l = p->head + off;
    if (l[0] == ' ' || l[0] == '\t')
        { fail(p, 400); return; }                 /* obs-fold */
    uint32_t i = 0;
    while (i < n && is_tchar(l[i]))
        i++;
    if (i == 0 || i >= n || l[i] != ':')
        { fail(p, 400); return; }
    if (p->nfields >= p->lim.max_headers)
        { fail(p, 431); return; }
    uint32_t v = i + 1, e = n;
    while (v < e && (l[v] == ' ' || l[v] == '\t'))
        v++;
    while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t'))
        e--;
    struct tern_http_field *f = &p->fields[p->nfields++];
    f->name_off = (uint16_t)off;
    f->name_len = (uint16_t)i;
    f->value_off = (uint16_t)(off + v);
    f->value_len = (uint16_t)(e - v);
}

/* Calls fn on each comma-separated token of a field value, trimmed. */
static bool has_token(const uint8_t *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && ieq(v + s, e - s, tok))
            return true;
    }
    return false;
}

/* Decides framing and connection options once the head is complete. */
static void finish_head(struct tern_http_parser *p)
{
    unsigned hosts = 0, cls = 0, tes = 0;
    const uint8_t *te = NULL;
    size_t te_len = 0;
    p->keep_alive = p->version_minor >= 1;
    for (uint32_t k = 0; k < p->nfields; k++) {
        const struct tern_http_field *f = &p->fields[k];
        const uint8_t *name = p->head + f->name_off;
        const uint8_t *val = p->head + f->value_off;
        /* Only five names matter here: compare those of the same length. */
        const char *known;
        switch (f->name_len) {
        case 4: known = "host"; break;
        case 6: known = "expect"; break;
        case 10: known = "connection"; break;
        case 14: known = "content-length"; break;
        case 17: known = "transfer-encoding"; break;
        default: continue;
        }
        if (!ieq_lc(name, known, f->name_len))
            continue;
        if (f->name_len == 4) {
            hosts++;
        } else if (f->name_len == 14) {
            if (++cls > 1 || f->value_len == 0 || f->value_len > 18)
                { fail(p, 400); return; }
            uint64_t v = 0;
            for (uint32_t j = 0; j < f->value_len; j++) {
                if (val[j] < '0' || val[j] > '9')
                    { fail(p, 400); return; }
                v = v * 10 + (uint64_t)(val[j] - '0');
            }
            p->content_length = v;
            p->has_length = true;
        } else if (f->name_len == 17) {
            if (++tes > 1)
                { fail(p, 400); return; }
            te = val;
            te_len = f->value_len;
        } else if (f->name_len == 10) {
            if (has_token(val, f->value_len, "close"))
                p->keep_alive = false;
            else if (p->version_minor == 0 && has_token(val, f->value_len, "keep-alive"))
                p->keep_alive = true;
        } else {                             /* expect */
            if (!ieq(val, f->value_len, "100-continue"))
                { fail(p, 417); return; }
            p->expect_continue = p->version_minor >= 1;
        }
    }
    if (p->version_minor >= 1 ? hosts != 1 : hosts > 1)
        { fail(p, 400); return; }
    if (tes) {
        if (cls || p->version_minor == 0)
            { fail(p, 400); return; }
        /* The last coding must be chunked; we implement no other. */
        size_t e = te_len, s;
        while (e > 0 && (te[e - 1] == ' ' || te[e - 1] == '\t'))
            e--;
        s = e;
        while (s > 0 && te[s - 1] != ',')
            s--;
        size_t ts = s;
        while (ts < e && (te[ts] == ' ' || te[ts] == '\t'))
            ts++;
        if (!ieq(te + ts, e - ts, "chunked"))
            { fail(p, 400); return; }
        if (s != 0)
            { fail(p, 501); return; }
        p->chunked = true;
        p->state = TERN_HTTP_P_CHUNK_SIZE;
        return;
    }
    if (p->has_length && p->content_length > p->lim.max_body)
        { fail(p, 413); return; }
    if (p->has_length && p->content_length > 0) {
        p->remaining = p->content_length;
        p->state = TERN_HTTP_P_BODY_CL;
    } else {
        p->expect_continue = false;
        p->state = TERN_HTTP_P_MSG_END;
    }
}

/* One byte of the head. Returns true when the head is complete. */
static bool head_byte(struct tern_http_parser *p, uint8_t c)
{
    if (p->state == TERN_HTTP_P_START) {
        /* RFC 9112 section 2.2: ignore empty lines before the request. */
        if (p->saw_cr) {
            if (c != '\n')
                return fail(p, 400), false;
            p->saw_cr = false;
            if (++p->leading_crlf > 4)
                fail(p, 400);
            return false;
        }
        if (c == '\r') {
            p->saw_cr = true;
            return false;
        }
        p->state = TERN_HTTP_P_HEAD;
    }
    bool in_request_line = p->method_len == 0;
    if (p->saw_cr) {
        if (c != '\n')
            return fail(p, 400), false;
        p->saw_cr = false;
        uint32_t n = p->head_len - p->line_start;
        if (in_request_line) {
            parse_request_line(p, p->head, n);
        } else if (n == 0) {
            finish_head(p);
            return p->state != TERN_HTTP_P_ERROR;
        } else {
            parse_field_line(p, p->line_start, n);
        }
        p->line_start = p->head_len;
        return false;
    }
    if (c == '\r') {
        p->saw_cr = true;
        return false;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f)
        return fail(p, 400), false;          /* bare LF, NUL, controls */
    if (in_request_line && p->head_len >= p->lim.max_request_line)
        return fail(p, 414), false;
    if (p->head_len >= p->lim.max_head)
        return fail(p, 431), false;
    p->head[p->head_len++] = c;
    return false;
}

/* How many leading bytes of s[0..n) are plain head bytes: not a control
 * (CR, LF and HT included), not DEL. Eight bytes at a time: a word with
 * none of them below 0x20 and none equal to 0x7f is taken whole (the
 * "has less than" and "has zero byte" tests are exact for "any byte"); the
 * word that has one is finished byte by byte. */
static size_t plain_run(const uint8_t *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, x;
        memcpy(&w, s + i, 8);
        x = w ^ (ones * 0x7f);
        if (((w - ones * 0x20) & ~w & highs) | ((x - ones) & ~x & highs))
            break;
    }
    while (i < n && s[i] >= 0x20 && s[i] != 0x7f)
        i++;
    return i;
}

/* Head bytes from d[0..n): runs of plain bytes inside a line are checked
 * and copied whole, everything else (CR, LF, HT, the bytes that end or
 * refuse a line, the first byte of a request) goes through head_byte, so
 * the outcome is the byte-at-a-time one for any split. Returns how many
 * were consumed; *complete when the head ended with the last of them. */
static size_t head_bytes(struct tern_http_parser *p, const uint8_t *d, size_t n, bool *complete)
{
    size_t i = 0;
    *complete = false;
    while (i < n && p->state != TERN_HTTP_P_ERROR) {
        if (p->state == TERN_HTTP_P_HEAD && !p->saw_cr) {
            /* Room before the limit head_byte would refuse at. */
            uint32_t lim = p->method_len == 0 ? p->lim.max_request_line : p->lim.max_head;
            size_t room = p->head_len < lim ? lim - p->head_len : 0;
            size_t k = plain_run(d + i, n - i < room ? n - i : room);
            memcpy(p->head + p->head_len, d + i, k);
            p->head_len += (uint32_t)k;
            i += k;
            if (i == n)
                break;
        }
        if (head_byte(p, d[i++])) {
            *complete = true;
            break;
        }
    }
    return i;
}

static void set_ev(struct tern_http_event *ev, enum tern_http_event_kind k)
{
    ev->kind = k;
    ev->data = NULL;
    ev->len = 0;
    ev->status = 0;
}

/* A run of body bytes (Content-Length or one chunk's data) as one
 * event; the body's end moves to the message end or the chunk's CRLF.
 * Returns the bytes used. */
static size_t body_run(struct tern_http_parser *p, const uint8_t *d, size_t n,
                       struct tern_http_event *ev)
{
    if (n > p->remaining)
        n = (size_t)p->remaining;
    ev->kind = TERN_HTTP_EV_BODY;
    ev->data = d;
    ev->len = n;
    p->remaining -= n;
    p->body_total += n;
    if (p->remaining == 0)
        p->state = p->state == TERN_HTTP_P_BODY_CL ? TERN_HTTP_P_MSG_END : TERN_HTTP_P_CHUNK_DATA_CR;
    return n;
}

/* One byte of a chunk-size line: hex digits, then an extension or CR. */
static void chunk_size_byte(struct tern_http_parser *p, uint8_t c)
{
    int h = hexval(c);
    if (h >= 0) {
        if (++p->chunk_digits > 15)
            fail(p, 400);
        p->remaining = (p->remaining << 4) | (uint64_t)h;
    } else if (p->chunk_digits == 0) {
        fail(p, 400);
    } else if (c == ';' || c == ' ' || c == '\t') {
        p->ext_len = 0;
        p->state = TERN_HTTP_P_CHUNK_EXT;
    } else if (c == '\r') {
        p->state = TERN_HTTP_P_CHUNK_SIZE_LF;
    } else {
        fail(p, 400);
    }
}

/* The LF ending a chunk-size line: the last chunk leads to the trailer,
 * another one to its data unless it would pass the body limit. */
static void chunk_size_lf(struct tern_http_parser *p, uint8_t c)
{
    if (c != '\n') {
        fail(p, 400);
    } else if (p->remaining == 0) {
        p->trailer_len = 0;
        p->trailer_total = 0;
        p->trailer_cr = false;
        p->state = TERN_HTTP_P_TRAILER;
    } else if (p->remaining > p->lim.max_body - p->body_total) {
        fail(p, 413);
    } else {
        p->state = TERN_HTTP_P_CHUNK_DATA;
    }
}

/* One trailer byte. Trailer fields are checked for bytes and size, then
 * dropped (RFC 9110 section 6.5.1 lets a recipient discard them). */
static void trailer_byte(struct tern_http_parser *p, uint8_t c)
{
    if (p->trailer_cr) {
        p->trailer_cr = false;
        if (c != '\n')
            fail(p, 400);
        else if (p->trailer_len == 0)
            p->state = TERN_HTTP_P_MSG_END;
        else
            p->trailer_len = 0;
    } else if (c == '\r') {
        p->trailer_cr = true;
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
        fail(p, 400);
    } else if (p->trailer_len == 0 && (c == ' ' || c == '\t')) {
        fail(p, 400);                /* obs-fold */
    } else if (++p->trailer_total > p->lim.max_head) {
        fail(p, 431);
    } else {
        p->trailer_len++;
    }
}

/* One byte of chunked framing (everything of a chunked body but data). */
static void framing_byte(struct tern_http_parser *p, uint8_t c)
{
    switch (p->state) {
    case TERN_HTTP_P_CHUNK_SIZE:
        chunk_size_byte(p, c);
        break;
    case TERN_HTTP_P_CHUNK_EXT:
        /* chunk-ext is skipped, but kept to its grammar's bytes. */
        if (c == '\r')
            p->state = TERN_HTTP_P_CHUNK_SIZE_LF;
        else if ((c < 0x20 && c != '\t') || c == 0x7f || ++p->ext_len > 4096)
            fail(p, 400);
        break;
    case TERN_HTTP_P_CHUNK_SIZE_LF:
        chunk_size_lf(p, c);
        break;
    case TERN_HTTP_P_CHUNK_DATA_CR:
        if (c != '\r')
            fail(p, 400);
        else
            p->state = TERN_HTTP_P_CHUNK_DATA_LF;
        break;
    case TERN_HTTP_P_CHUNK_DATA_LF:
        if (c != '\n') {
            fail(p, 400);
        } else {
            p->chunk_digits = 0;
            p->remaining = 0;
            p->state = TERN_HTTP_P_CHUNK_SIZE;
        }
        break;
    case TERN_HTTP_P_TRAILER:
        trailer_byte(p, c);
        break;
    default:
        fail(p, 500);               /* not a framing state: a parser bug */
        break;
    }
}

void tern_http_parser_feed(struct tern_http_parser *p, const uint8_t *data, size_t len,
                           size_t *used, struct tern_http_event *ev)
{
    size_t i = 0;
    set_ev(ev, TERN_HTTP_EV_NONE);
    while (p->state != TERN_HTTP_P_ERROR && p->state != TERN_HTTP_P_DONE) {
        if (p->state == TERN_HTTP_P_MSG_END) {
            p->state = TERN_HTTP_P_DONE;
            ev->kind = TERN_HTTP_EV_DONE;
            break;
        }
        if (i >= len)
            break;
        if (p->state == TERN_HTTP_P_START || p->state == TERN_HTTP_P_HEAD) {
            bool complete;
            i += head_bytes(p, data + i, len - i, &complete);
            if (complete) {
                ev->kind = TERN_HTTP_EV_HEAD;
                break;
            }
        } else if (p->state == TERN_HTTP_P_BODY_CL || p->state == TERN_HTTP_P_CHUNK_DATA) {
            i += body_run(p, data + i, len - i, ev);
            break;
        } else {
            framing_byte(p, data[i++]);
        }
    }
    if (p->state == TERN_HTTP_P_ERROR) {
        set_ev(ev, TERN_HTTP_EV_ERROR);
        ev->status = p->error_status;
    }
    *used = i;
}

const char *tern_http_parser_field(const struct tern_http_parser *p, const char *name,
                                   size_t *len)
{
    for (uint32_t k = 0; k < p->nfields; k++) {
        const struct tern_http_field *f = &p->fields[k];
        if (ieq(p->head + f->name_off, f->name_len, name)) {
            if (len)
                *len = f->value_len;
            return (const char *)p->head + f->value_off;
        }
    }
    if (len)
        *len = 0;
    return NULL;
}
