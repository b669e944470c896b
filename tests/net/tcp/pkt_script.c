/* Interface: see pkt_script.h. */
#include "pkt_script.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over one line; err is set once, by the first failure. */
struct cur {
    const char *p;
    char *err;
    size_t errlen;
    bool failed;
};

static bool fail(struct cur *c, const char *fmt, ...)
{
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
        c->failed = true;
    }
    return false;
}

static void skip_ws(struct cur *c)
{
    while (*c->p == ' ' || *c->p == '\t')
        c->p++;
}

static bool at_end(struct cur *c)
{
    skip_ws(c);
    return *c->p == '\0';
}

/* Takes word if it comes next (whole word). */
static bool take_word(struct cur *c, const char *word)
{
    skip_ws(c);
    size_t n = strlen(word);
    if (strncmp(c->p, word, n) != 0)
        return false;
    char next = c->p[n];
    if (isalnum((unsigned char)next) || next == '_')
        return false;
    c->p += n;
    return true;
}

/* Copies the next whitespace-delimited word (for messages and names). */
static void peek_word(struct cur *c, char *out, size_t len)
{
    skip_ws(c);
    size_t i = 0;
    while (c->p[i] && c->p[i] != ' ' && c->p[i] != '\t' && i + 1 < len) {
        out[i] = c->p[i];
        i++;
    }
    out[i] = '\0';
}

static bool read_u32(struct cur *c, uint32_t *v, const char *what)
{
    skip_ws(c);
    if (!isdigit((unsigned char)*c->p))
        return fail(c, "%s: expected a number at \"%.20s\"", what, c->p);
    uint64_t x = 0;
    while (isdigit((unsigned char)*c->p)) {
        x = x * 10 + (uint64_t)(*c->p - '0');
        if (x > UINT32_MAX)
            return fail(c, "%s: number too large", what);
        c->p++;
    }
    *v = (uint32_t)x;
    return true;
}

static bool read_num(struct cur *c, struct pkt_num *n, bool star_ok, const char *what)
{
    skip_ws(c);
    if (*c->p == '*') {
        if (!star_ok)
            return fail(c, "%s: '*' is only for expected (outbound) values", what);
        c->p++;
        n->any = true;
        n->v = 0;
        return true;
    }
    n->any = false;
    return read_u32(c, &n->v, what);
}

/* Seconds with up to 6 decimals, as microseconds. */
static bool read_seconds(struct cur *c, int64_t *us, const char *what)
{
    uint32_t whole;
    if (!read_u32(c, &whole, what))
        return false;
    int64_t frac = 0, scale = 100000;
    if (*c->p == '.') {
        c->p++;
        if (!isdigit((unsigned char)*c->p))
            return fail(c, "%s: digits expected after '.'", what);
        while (isdigit((unsigned char)*c->p)) {
            if (scale == 0)
                return fail(c, "%s: more than 6 decimals", what);
            frac += (*c->p - '0') * scale;
            scale /= 10;
            c->p++;
        }
    }
    *us = (int64_t)whole * 1000000 + frac;
    return true;
}

static bool parse_flags(struct cur *c, uint8_t *flags)
{
    skip_ws(c);
    *flags = 0;
    const char *start = c->p;
    while (*c->p && *c->p != ' ' && *c->p != '\t') {
        uint8_t bit;
        switch (*c->p) {
        case 'S': bit = PKT_SYN; break;
        case 'F': bit = PKT_FIN; break;
        case 'R': bit = PKT_RST; break;
        case 'P': bit = PKT_PSH; break;
        case '.': bit = PKT_ACK; break;
        default: return fail(c, "unknown flag '%c' (flags are S F R P .)", *c->p);
        }
        if (*flags & bit)
            return fail(c, "flag '%c' given twice", *c->p);
        *flags |= bit;
        c->p++;
    }
    if (c->p == start)
        return fail(c, "flags expected (S F R P .)");
    return true;
}

static bool parse_range(struct cur *c, struct pkt_seg *s, bool star_ok)
{
    if (!read_num(c, &s->start, star_ok, "sequence start"))
        return false;
    if (*c->p != ':')
        return fail(c, "expected START:END(LEN), ':' missing");
    c->p++;
    if (!read_num(c, &s->end, star_ok, "sequence end"))
        return false;
    if (*c->p != '(')
        return fail(c, "expected START:END(LEN), '(' missing");
    c->p++;
    if (!read_u32(c, &s->len, "length"))
        return false;
    if (*c->p != ')')
        return fail(c, "expected START:END(LEN), ')' missing");
    c->p++;
    if (!s->start.any && !s->end.any && s->end.v - s->start.v != s->len)
        return fail(c, "END - START is %u but LEN is %u", s->end.v - s->start.v, s->len);
    if (!star_ok && s->len > 9000)
        return fail(c, "length %u beyond 9000", s->len);
    return true;
}

static bool parse_sack(struct cur *c, struct pkt_opt *o, bool star_ok)
{
    o->nblocks = 0;
    for (;;) {
        skip_ws(c);
        if (!isdigit((unsigned char)*c->p) && *c->p != '*')
            break;
        if (o->nblocks == PKT_SACK_MAX)
            return fail(c, "more than %d SACK blocks", PKT_SACK_MAX);
        if (!read_num(c, &o->blk[o->nblocks][0], star_ok, "sack block"))
            return false;
        if (*c->p != ':')
            return fail(c, "sack block: expected LEFT:RIGHT");
        c->p++;
        if (!read_num(c, &o->blk[o->nblocks][1], star_ok, "sack block"))
            return false;
        o->nblocks++;
    }
    if (o->nblocks == 0)
        return fail(c, "sack: at least one LEFT:RIGHT block");
    return true;
}

static bool parse_opt(struct cur *c, struct pkt_opt *o, bool star_ok)
{
    memset(o, 0, sizeof(*o));
    if (take_word(c, "mss")) {
        o->kind = PKT_OPT_MSS;
        return read_num(c, &o->a, star_ok, "mss");
    }
    if (take_word(c, "wscale")) {
        o->kind = PKT_OPT_WSCALE;
        if (!read_num(c, &o->a, star_ok, "wscale"))
            return false;
        return o->a.any || o->a.v <= 255 ? true : fail(c, "wscale %u beyond 255", o->a.v);
    }
    if (take_word(c, "sackOK")) {
        o->kind = PKT_OPT_SACKOK;
        return true;
    }
    if (take_word(c, "TS")) {
        o->kind = PKT_OPT_TS;
        if (!take_word(c, "val"))
            return fail(c, "TS: expected \"TS val N ecr N\"");
        if (!read_num(c, &o->a, star_ok, "TS val"))
            return false;
        if (!take_word(c, "ecr"))
            return fail(c, "TS: expected \"ecr N\" after the value");
        return read_num(c, &o->b, true, "TS ecr");
    }
    if (take_word(c, "sack")) {
        o->kind = PKT_OPT_SACK;
        return parse_sack(c, o, star_ok);
    }
    if (take_word(c, "nop")) {
        o->kind = PKT_OPT_NOP;
        return true;
    }
    if (take_word(c, "eol")) {
        o->kind = PKT_OPT_EOL;
        return true;
    }
    char w[24];
    peek_word(c, w, sizeof(w));
    return fail(c, "unknown option \"%s\" (mss, wscale, sackOK, TS, sack, nop, eol, ...)", w);
}

static bool parse_opts(struct cur *c, struct pkt_seg *s, bool outbound)
{
    c->p++; /* '<' */
    for (;;) {
        skip_ws(c);
        if (strncmp(c->p, "...", 3) == 0) {
            if (!outbound)
                return fail(c, "\"...\" is only for expected (outbound) options");
            c->p += 3;
            s->opts_more = true;
            skip_ws(c);
            if (*c->p != '>')
                return fail(c, "\"...\" must be the last option");
            break;
        }
        if (*c->p == '>' && s->nopts == 0)
            return fail(c, "empty option list: leave out \"<>\" for none");
        if (s->nopts == PKT_OPT_MAX)
            return fail(c, "more than %d options", PKT_OPT_MAX);
        if (!parse_opt(c, &s->opts[s->nopts], outbound))
            return false;
        s->nopts++;
        skip_ws(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p != '>')
            return fail(c, "options: expected ',' or '>' at \"%.20s\"", c->p);
        break;
    }
    c->p++; /* '>' */
    return true;
}

static bool parse_seg_cur(struct cur *c, char dir, struct pkt_seg *s)
{
    bool outbound = dir == '>';
    memset(s, 0, sizeof(*s));
    if (!parse_flags(c, &s->flags) || !parse_range(c, s, outbound))
        return false;
    if ((s->flags & (PKT_SYN | PKT_RST)) == (PKT_SYN | PKT_RST) && !outbound)
        return fail(c, "S and R together are refused by the stack: not a useful injection");
    bool has_ack = false;
    for (;;) {
        if (take_word(c, "ack")) {
            if (has_ack)
                return fail(c, "ack given twice");
            has_ack = true;
            if (!read_num(c, &s->ack, outbound, "ack"))
                return false;
        } else if (take_word(c, "win")) {
            if (s->has_win)
                return fail(c, "win given twice");
            s->has_win = true;
            if (!read_num(c, &s->win, outbound, "win"))
                return false;
            if (!s->win.any && s->win.v > 65535)
                return fail(c, "win %u beyond 65535 (the field, unscaled)", s->win.v);
        } else {
            break;
        }
    }
    if (has_ack != ((s->flags & PKT_ACK) != 0))
        return fail(c, has_ack ? "\"ack N\" without the '.' (ACK) flag"
                               : "the '.' (ACK) flag needs \"ack N\"");
    skip_ws(c);
    if (*c->p == '<' && !parse_opts(c, s, outbound))
        return false;
    if (!at_end(c))
        return fail(c, "unexpected text \"%.20s\" after the segment", c->p);
    return true;
}

bool pkt_parse_seg(const char *text, char dir, struct pkt_seg *seg, char *err, size_t errlen)
{
    struct cur c = { .p = text, .err = err, .errlen = errlen, .failed = false };
    return parse_seg_cur(&c, dir, seg);
}

static bool parse_addr_port(struct cur *c, struct pkt_event *e)
{
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t b;
        if (!read_u32(c, &b, "address") || b > 255)
            return fail(c, "connect: expected A.B.C.D:PORT");
        a = (a << 8) | b;
        if (*c->p != (i < 3 ? '.' : ':'))
            return fail(c, "connect: expected A.B.C.D:PORT");
        c->p++;
    }
    e->addr = a;
    if (!read_u32(c, &e->num, "port") || e->num == 0 || e->num > 65535)
        return fail(c, "connect: port 1-65535 expected");
    return true;
}

static bool read_name(struct cur *c, struct pkt_event *e, const char *what)
{
    peek_word(c, e->name, sizeof(e->name));
    if (!e->name[0])
        return fail(c, "%s: a name expected", what);
    c->p += strlen(e->name);
    return true;
}

static bool parse_expect(struct cur *c, struct pkt_event *e)
{
    if (take_word(c, "state")) {
        e->kind = PKT_EV_STATE;
        return read_name(c, e, "expect state");
    }
    if (take_word(c, "error")) {
        e->kind = PKT_EV_ERROR;
        if (!read_name(c, e, "expect error"))
            return false;
        static const char *const ok[] = { "none", "refused", "reset", "timeout" };
        for (size_t i = 0; i < 4; i++)
            if (strcmp(e->name, ok[i]) == 0)
                return true;
        return fail(c, "expect error: none, refused, reset or timeout, not \"%s\"", e->name);
    }
    if (take_word(c, "counter")) {
        e->kind = PKT_EV_COUNTER;
        return read_name(c, e, "expect counter") && read_u32(c, &e->num, "counter value");
    }
    return fail(c, "expect: state, error or counter");
}

static bool parse_icmp(struct cur *c, struct pkt_event *e)
{
    e->kind = PKT_EV_ICMP;
    if (take_word(c, "frag_needed")) {
        e->name[0] = '\0';
        strcpy(e->name, "frag_needed");
        return read_u32(c, &e->num, "frag_needed MTU");
    }
    if (!take_word(c, "unreachable"))
        return fail(c, "icmp: unreachable CODE or frag_needed MTU");
    static const char *const codes[] = { "net", "host", "protocol", "port" };
    for (uint32_t i = 0; i < 4; i++) {
        if (take_word(c, codes[i])) {
            e->num = i;
            strcpy(e->name, codes[i]);
            if (take_word(c, "seq")) {
                e->has_seq = true;
                return read_u32(c, &e->seq, "icmp seq");
            }
            return true;
        }
    }
    return fail(c, "icmp unreachable: net, host, protocol or port");
}

static bool parse_read(struct cur *c, struct pkt_event *e)
{
    e->kind = PKT_EV_READ;
    if (take_word(c, "eof")) {
        e->num = PKT_READ_EOF;
        return true;
    }
    if (take_word(c, "none")) {
        e->num = PKT_READ_NONE;
        return true;
    }
    if (take_word(c, "closed")) {
        e->num = PKT_READ_CLOSED;
        return true;
    }
    if (!read_u32(c, &e->num, "read") || e->num == 0 || e->num > 65536)
        return fail(c, "read: 1-65536 bytes, eof, none or closed");
    return true;
}

static bool parse_action(struct cur *c, struct pkt_event *e)
{
    skip_ws(c);
    if (*c->p == '<' || *c->p == '>') {
        char dir = *c->p++;
        if (dir == '>' && take_word(c, "none")) {
            e->kind = PKT_EV_NONE;
            if (!take_word(c, "within"))
                return fail(c, "expected \"> none within SECONDS\"");
            return read_seconds(c, &e->within_us, "within");
        }
        e->kind = dir == '<' ? PKT_EV_IN : PKT_EV_OUT;
        return parse_seg_cur(c, dir, &e->seg);
    }
    if (take_word(c, "listen")) {
        e->kind = PKT_EV_LISTEN;
        if (!read_u32(c, &e->num, "listen") || e->num == 0 || e->num > 65535)
            return fail(c, "listen: port 1-65535 expected");
    } else if (take_word(c, "connect")) {
        e->kind = PKT_EV_CONNECT;
        if (!parse_addr_port(c, e))
            return false;
    } else if (take_word(c, "accept")) {
        e->kind = PKT_EV_ACCEPT;
    } else if (take_word(c, "write")) {
        e->kind = PKT_EV_WRITE;
        if (!read_u32(c, &e->num, "write") || e->num == 0 || e->num > 65536)
            return fail(c, "write: 1-65536 bytes expected");
    } else if (take_word(c, "read")) {
        if (!parse_read(c, e))
            return false;
    } else if (take_word(c, "close")) {
        e->kind = PKT_EV_CLOSE;
    } else if (take_word(c, "shutdown")) {
        e->kind = PKT_EV_SHUTDOWN;
    } else if (take_word(c, "abort")) {
        e->kind = PKT_EV_ABORT;
    } else if (take_word(c, "keepalive")) {
        e->kind = PKT_EV_KEEPALIVE;
    } else if (take_word(c, "nodelay")) {
        e->kind = PKT_EV_NODELAY;
    } else if (take_word(c, "expect")) {
        if (!parse_expect(c, e))
            return false;
    } else if (take_word(c, "icmp")) {
        if (!parse_icmp(c, e))
            return false;
    } else if (take_word(c, "peer_isn")) {
        e->kind = PKT_EV_PEER_ISN;
        if (!read_u32(c, &e->num, "peer_isn"))
            return false;
    } else {
        char w[24];
        peek_word(c, w, sizeof(w));
        return fail(c, "unknown action \"%s\"", w);
    }
    if (!at_end(c))
        return fail(c, "unexpected text \"%.20s\"", c->p);
    return true;
}

static bool parse_config(struct cur *c, struct pkt_config *cfg)
{
    static const struct {
        const char *name;
        size_t off;
    } keys[] = {
        { "rcvbuf", offsetof(struct pkt_config, rcvbuf) },
        { "sndbuf", offsetof(struct pkt_config, sndbuf) },
        { "msl_ms", offsetof(struct pkt_config, msl_ms) },
        { "challenge_acks_per_sec", offsetof(struct pkt_config, challenge_acks_per_sec) },
        { "keepalive_idle_ms", offsetof(struct pkt_config, keepalive_idle_ms) },
        { "keepalive_intvl_ms", offsetof(struct pkt_config, keepalive_intvl_ms) },
        { "keepalive_probes", offsetof(struct pkt_config, keepalive_probes) },
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (take_word(c, keys[i].name)) {
            uint32_t v;
            if (!read_u32(c, &v, keys[i].name) || v == 0)
                return fail(c, "config %s: a positive number expected", keys[i].name);
            memcpy((char *)cfg + keys[i].off, &v, sizeof(v));
            return at_end(c) ? true : fail(c, "unexpected text \"%.20s\"", c->p);
        }
    }
    return fail(c, "config: rcvbuf, sndbuf, msl_ms, challenge_acks_per_sec or keepalive_idle_ms/intvl_ms/probes");
}

static bool push_event(struct pkt_script *sc, const struct pkt_event *e)
{
    if (sc->n == sc->cap) {
        unsigned cap = sc->cap ? sc->cap * 2 : 32;
        struct pkt_event *ev = realloc(sc->ev, cap * sizeof(*ev));
        if (!ev)
            return false;
        sc->ev = ev;
        sc->cap = cap;
    }
    sc->ev[sc->n++] = *e;
    return true;
}

/* One line (comment stripped): an event, a config line, or nothing. */
static bool parse_line(struct cur *c, unsigned lineno, struct pkt_script *sc, int64_t *now_us)
{
    if (at_end(c))
        return true;
    if (take_word(c, "config")) {
        if (sc->n)
            return fail(c, "config lines come before the first event");
        return parse_config(c, &sc->cfg);
    }
    struct pkt_event e;
    memset(&e, 0, sizeof(e));
    e.line = lineno;
    bool rel = *c->p == '+';
    if (rel)
        c->p++;
    int64_t t;
    if (!read_seconds(c, &t, "time (\"+SECONDS\" or \"SECONDS\")"))
        return false;
    e.time_us = rel ? *now_us + t : t;
    if (e.time_us < *now_us)
        return fail(c, "time goes backwards (%.6f s before the previous event)",
                    (double)(*now_us - e.time_us) / 1e6);
    if (!parse_action(c, &e))
        return false;
    *now_us = e.time_us + (e.kind == PKT_EV_NONE ? e.within_us : 0);
    if (!push_event(sc, &e))
        return fail(c, "out of memory");
    return true;
}

static bool first_line_names_rule(const char *line, size_t len, struct pkt_script *sc)
{
    if (len < 7 || strncmp(line, "// RFC ", 7) != 0)
        return false;
    size_t n = len - 3 < sizeof(sc->rule) - 1 ? len - 3 : sizeof(sc->rule) - 1;
    memcpy(sc->rule, line + 3, n);
    sc->rule[n] = '\0';
    return true;
}

bool pkt_parse_script(const char *text, struct pkt_script *sc, char *err, size_t errlen)
{
    memset(sc, 0, sizeof(*sc));
    char line[512];
    unsigned lineno = 0;
    int64_t now_us = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len && p[len - 1] == '\r')
            len--;
        struct cur c = { .p = line, .err = err, .errlen = errlen, .failed = false };
        if (len >= sizeof(line)) {
            snprintf(err, errlen, "line %u: longer than %zu characters", lineno, sizeof(line) - 1);
            goto refuse;
        }
        if (lineno == 1 && !first_line_names_rule(p, len, sc)) {
            snprintf(err, errlen, "line 1: must be a comment naming the rule checked, \"// RFC ...\"");
            goto refuse;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        char *comment = strstr(line, "//");
        if (comment)
            *comment = '\0';
        if (!parse_line(&c, lineno, sc, &now_us)) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", err);
            snprintf(err, errlen, "line %u: %s", lineno, msg);
            goto refuse;
        }
        p = nl ? nl + 1 : p + strlen(p);
    }
    if (lineno == 0) {
        snprintf(err, errlen, "line 1: empty script");
        goto refuse;
    }
    if (sc->n == 0) {
        snprintf(err, errlen, "line %u: no events", lineno);
        goto refuse;
    }
    return true;
refuse:
    pkt_script_free(sc);
    return false;
}

void pkt_script_free(struct pkt_script *sc)
{
    free(sc->ev);
    sc->ev = NULL;
    sc->n = sc->cap = 0;
}

/* ---- printing ---- */

struct out {
    char *buf;
    size_t len, at;
};

static void put(struct out *o, const char *fmt, ...)
{
    if (o->at >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->at, o->len - o->at, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->at += (size_t)n;
}

static void put_num(struct out *o, struct pkt_num n)
{
    if (n.any)
        put(o, "*");
    else
        put(o, "%u", n.v);
}

static void put_opt(struct out *o, const struct pkt_opt *op)
{
    switch (op->kind) {
    case PKT_OPT_EOL: put(o, "eol"); break;
    case PKT_OPT_NOP: put(o, "nop"); break;
    case PKT_OPT_MSS: put(o, "mss "); put_num(o, op->a); break;
    case PKT_OPT_WSCALE: put(o, "wscale "); put_num(o, op->a); break;
    case PKT_OPT_SACKOK: put(o, "sackOK"); break;
    case PKT_OPT_TS:
        put(o, "TS val ");
        put_num(o, op->a);
        put(o, " ecr ");
        put_num(o, op->b);
        break;
    case PKT_OPT_SACK:
        put(o, "sack");
        for (unsigned i = 0; i < op->nblocks; i++) {
            put(o, " ");
            put_num(o, op->blk[i][0]);
            put(o, ":");
            put_num(o, op->blk[i][1]);
        }
        break;
    }
}

void pkt_format_seg(char dir, const struct pkt_seg *seg, char *buf, size_t len)
{
    struct out o = { buf, len, 0 };
    buf[0] = '\0';
    put(&o, "%c ", dir);
    static const struct {
        uint8_t bit;
        char c;
    } order[] = { { PKT_SYN, 'S' }, { PKT_FIN, 'F' }, { PKT_RST, 'R' }, { PKT_PSH, 'P' },
                  { PKT_ACK, '.' } };
    for (size_t i = 0; i < 5; i++)
        if (seg->flags & order[i].bit)
            put(&o, "%c", order[i].c);
    put(&o, " ");
    put_num(&o, seg->start);
    put(&o, ":");
    put_num(&o, seg->end);
    put(&o, "(%u)", seg->len);
    if (seg->flags & PKT_ACK) {
        put(&o, " ack ");
        put_num(&o, seg->ack);
    }
    if (seg->has_win) {
        put(&o, " win ");
        put_num(&o, seg->win);
    }
    if (seg->nopts || seg->opts_more) {
        put(&o, " <");
        for (unsigned i = 0; i < seg->nopts; i++) {
            if (i)
                put(&o, ",");
            put_opt(&o, &seg->opts[i]);
        }
        put(&o, "%s>", seg->opts_more ? (seg->nopts ? ",..." : "...") : "");
    }
}

/* ---- matching ---- */

static bool num_ok(struct pkt_num exp, uint32_t v)
{
    return exp.any || exp.v == v;
}

static bool opt_ok(const struct pkt_opt *e, const struct pkt_opt *a)
{
    if (e->kind != a->kind)
        return false;
    switch (e->kind) {
    case PKT_OPT_MSS:
    case PKT_OPT_WSCALE: return num_ok(e->a, a->a.v);
    case PKT_OPT_TS: return num_ok(e->a, a->a.v) && num_ok(e->b, a->b.v);
    case PKT_OPT_SACK:
        if (e->nblocks != a->nblocks)
            return false;
        for (unsigned i = 0; i < e->nblocks; i++)
            if (!num_ok(e->blk[i][0], a->blk[i][0].v) || !num_ok(e->blk[i][1], a->blk[i][1].v))
                return false;
        return true;
    default: return true;
    }
}

static bool is_padding(const struct pkt_opt *o)
{
    return o->kind == PKT_OPT_NOP || o->kind == PKT_OPT_EOL;
}

/* Options in any order (the order is the sender's choice), padding
 * ignored, SACK blocks in their order (RFC 2018 4 makes it meaningful). */
static bool opts_match(const struct pkt_seg *exp, const struct pkt_seg *act, char *why,
                       size_t whylen)
{
    bool used[PKT_OPT_MAX] = { false };
    for (unsigned i = 0; i < exp->nopts; i++) {
        if (is_padding(&exp->opts[i]))
            continue;
        bool found = false;
        for (unsigned j = 0; j < act->nopts && !found; j++) {
            if (!used[j] && opt_ok(&exp->opts[i], &act->opts[j])) {
                used[j] = found = true;
            }
        }
        if (!found) {
            char o[96];
            struct out ob = { o, sizeof(o), 0 };
            put_opt(&ob, &exp->opts[i]);
            snprintf(why, whylen, "option \"%s\" missing or different", o);
            return false;
        }
    }
    if (exp->opts_more)
        return true;
    for (unsigned j = 0; j < act->nopts; j++) {
        if (!used[j] && !is_padding(&act->opts[j])) {
            char o[96];
            struct out ob = { o, sizeof(o), 0 };
            put_opt(&ob, &act->opts[j]);
            snprintf(why, whylen, "option \"%s\" not expected", o);
            return false;
        }
    }
    return true;
}

bool pkt_seg_match(const struct pkt_seg *exp, const struct pkt_seg *act, char *why,
                   size_t whylen)
{
    if (exp->flags != act->flags)
        return snprintf(why, whylen, "flags differ"), false;
    if (!num_ok(exp->start, act->start.v) || !num_ok(exp->end, act->end.v))
        return snprintf(why, whylen, "sequence numbers differ"), false;
    if (exp->len != act->len)
        return snprintf(why, whylen, "length differs"), false;
    if ((exp->flags & PKT_ACK) && !num_ok(exp->ack, act->ack.v))
        return snprintf(why, whylen, "ack differs"), false;
    if (exp->has_win && !num_ok(exp->win, act->win.v))
        return snprintf(why, whylen, "window differs"), false;
    return opts_match(exp, act, why, whylen);
}
