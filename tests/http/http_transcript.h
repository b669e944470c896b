/*
 * Interface: a parser driver for tests and the fuzz harness. Runs a
 * struct tern_http_parser over an input cut into pieces and writes a
 * transcript of its events ("HEAD GET /x 1.1 ka=1", "BODY <bytes>",
 * "DONE", "ERROR 400", one per line; consecutive body pieces merged), so
 * any two splits of the same input can be compared.
 */
#ifndef TERN_TEST_HTTP_TRANSCRIPT_H
#define TERN_TEST_HTTP_TRANSCRIPT_H

#include <stdio.h>
#include <string.h>

#include "tern/http.h"

struct transcript {
    char text[1 << 16];
    size_t len;
    bool in_body;
    bool stopped;
};

static inline void tr_put(struct transcript *t, const char *s, size_t n)
{
    if (t->len + n + 1 > sizeof t->text)
        n = sizeof t->text - 1 - t->len;
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = '\0';
}

static inline void tr_event(struct transcript *t, struct tern_http_parser *p,
                            const struct tern_http_event *ev)
{
    char line[256];
    if (ev->kind != TERN_HTTP_EV_BODY && t->in_body) {
        tr_put(t, "\n", 1);
        t->in_body = false;
    }
    switch (ev->kind) {
    case TERN_HTTP_EV_HEAD: {
        int n = snprintf(line, sizeof line, "HEAD %.*s %.*s 1.%u ka=%d%s\n", (int)p->method_len,
                         (const char *)p->head, (int)p->target_len,
                         (const char *)p->head + p->target_off, p->version_minor,
                         p->keep_alive, p->expect_continue ? " expect" : "");
        tr_put(t, line, (size_t)n);
        for (uint32_t i = 0; i < p->nfields; i++) {
            const struct tern_http_field *f = &p->fields[i];
            n = snprintf(line, sizeof line, " %.*s=[%.*s]\n", (int)f->name_len,
                         (const char *)p->head + f->name_off, (int)f->value_len,
                         (const char *)p->head + f->value_off);
            tr_put(t, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        }
        break;
    }
    case TERN_HTTP_EV_BODY:
        if (!t->in_body) {
            tr_put(t, "BODY ", 5);
            t->in_body = true;
        }
        tr_put(t, (const char *)ev->data, ev->len);
        break;
    case TERN_HTTP_EV_DONE:
        tr_put(t, "DONE\n", 5);
        tern_http_parser_reset(p);
        break;
    case TERN_HTTP_EV_ERROR: {
        int n = snprintf(line, sizeof line, "ERROR %d\n", ev->status);
        tr_put(t, line, (size_t)n);
        t->stopped = true;
        break;
    }
    case TERN_HTTP_EV_NONE:
        break;
    }
}

/* Feeds data[0..len) as pieces of at most step bytes, except that when
 * cut is non-zero the input is fed as [0, cut) and [cut, len). */
static inline void tr_run(struct transcript *t, struct tern_http_parser *p,
                          const struct tern_http_limits *lim, const uint8_t *data, size_t len,
                          size_t step, size_t cut)
{
    memset(t, 0, sizeof *t);
    tern_http_parser_init(p, lim);
    size_t off = 0;
    while (off < len && !t->stopped) {
        size_t n = cut ? (off < cut ? cut - off : len - off) : step;
        if (n > len - off)
            n = len - off;
        const uint8_t *piece = data + off;
        size_t done = 0;
        for (;;) {
            struct tern_http_event ev;
            size_t used;
            tern_http_parser_feed(p, piece + done, n - done, &used, &ev);
            done += used;
            if (ev.kind == TERN_HTTP_EV_NONE)
                break;
            tr_event(t, p, &ev);
            if (t->stopped)
                break;
        }
        off += n;
    }
    /* A message with no body ends without more input. */
    while (!t->stopped) {
        struct tern_http_event ev;
        size_t used;
        tern_http_parser_feed(p, NULL, 0, &used, &ev);
        if (ev.kind == TERN_HTTP_EV_NONE)
            break;
        tr_event(t, p, &ev);
    }
    if (t->in_body)
        tr_put(t, "\n", 1);
}

#endif
