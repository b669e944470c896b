/*
 * Interface: see include/tern/http.h (Server and connections, response
 * API).
 *
 * One request is answered at a time per connection; pipelined requests
 * wait in the transport (tern_http_conn_input consumes no further) until
 * the response in progress has ended and at least HEAD_RESERVE bytes of
 * the output buffer are free, so responses leave in request order and a
 * slow reader stops its own connection, never the others.
 *
 * Deadlines: the header deadline starts with the first byte of a request
 * and is not extended by later bytes (slowloris); the body deadline is
 * extended by each body piece; the idle deadline runs between requests;
 * the send deadline is extended by each drain of the output. One timer per
 * connection is armed no later than the earliest of them (rearm_at: moved
 * only earlier while requests come and go, set exactly when it fires).
 *
 * Access lines go into the log ring at once and reach the console in
 * batches (access_log).
 *
 * Held answers: a chunked request body is checked as it arrives, so the
 * answer of a route that does not read it (405, 404, a file) is held back
 * in the output (out_exposed) until the last chunk has been parsed; a
 * framing error, a body over the limit or the body deadline then replaces
 * it (drop_response) with 400, 413 or 408, as for any other framing error.
 * An answer that nothing of has left yet is replaced the same way; one
 * that has partly left cannot be, and the connection just ends.
 */
#include <string.h>

#include "tern/fmt.h"
#include "tern/http.h"
#include "tern/os.h"

#define HEAD_RESERVE 8192            /* free output needed to start a request */
#define CHUNK_OVERHEAD 12            /* "ffffffff\r\n" + "\r\n" */
#define LAST_CHUNK 5                 /* "0\r\n\r\n" */

void tern_http_config_default(struct tern_http_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->limits.max_request_line = 8000;
    cfg->limits.max_head = TERN_HTTP_HEAD_MAX;
    cfg->limits.max_headers = TERN_HTTP_MAX_HEADERS;
    cfg->limits.max_body = 1024 * 1024;
    cfg->header_timeout_ns = 10ull * 1000000000ull;
    cfg->body_timeout_ns = 30ull * 1000000000ull;
    cfg->idle_timeout_ns = 60ull * 1000000000ull;
    cfg->send_timeout_ns = 30ull * 1000000000ull;
    cfg->stall_evict_ns = 2ull * 1000000000ull;
    cfg->access_log = true;
}

static void on_timer(struct tern_timer *t, void *arg);
static void on_alog_timer(struct tern_timer *t, void *arg);

tern_result tern_http_server_init(struct tern_http_server *srv, struct tern_os *os,
                                  const struct tern_http_config *cfg,
                                  struct tern_http_conn *pool, uint32_t n,
                                  const struct tern_http_route *routes, size_t nroutes)
{
    if (!srv || !os || !pool || n == 0 || (nroutes && !routes))
        return TERN_EINVAL;
    memset(srv, 0, sizeof *srv);
    srv->os = os;
    if (cfg)
        srv->cfg = *cfg;
    else
        tern_http_config_default(&srv->cfg);
    srv->routes = routes;
    srv->nroutes = nroutes;
    srv->pool = pool;
    srv->pool_size = n;
    srv->pool_ready = 0;             /* prepared by tern_http_conn_open */
    tern_timer_init(&srv->alog_timer, on_alog_timer, srv);
    return TERN_OK;
}

/* ---- output buffer ---- */

static size_t out_free(const struct tern_http_conn *c)
{
    return TERN_HTTP_OUT_MAX - (c->out_len - c->out_off);
}

static void rearm(struct tern_http_conn *c);

/* Bytes the transport may take: all that is queued, or while the
 * response is held, only what was queued before its head. */
static size_t out_exposed(const struct tern_http_conn *c)
{
    return c->resp_held && c->resp_started ? c->before_resp : c->out_len - c->out_off;
}

/* The monotonic time. Inside tern_http_conn_input it is read once, on
 * entry: deadlines are seconds long and one pass over the input takes
 * microseconds, while a clock read is a visible part of a small request. */
static uint64_t now_ns(const struct tern_http_conn *c)
{
    return c->in_input ? c->input_ns : tern_now_ns(c->srv->os);
}

/* n contiguous bytes at the end of the output (n <= out_free(c)). */
static uint8_t *out_tail(struct tern_http_conn *c, size_t n)
{
    if (c->out_len + n > TERN_HTTP_OUT_MAX) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    return c->out + c->out_len;
}

/* The n bytes written at out_tail are output now. */
static void out_commit(struct tern_http_conn *c, size_t n)
{
    c->out_len += n;
    if (c->send_deadline == 0 && n > 0 && out_exposed(c) > 0) {
        c->send_deadline = now_ns(c) + c->srv->cfg.send_timeout_ns;
        rearm(c);
    }
}

static bool out_put(struct tern_http_conn *c, const void *data, size_t n)
{
    if (n > out_free(c))
        return false;
    memcpy(out_tail(c, n), data, n);
    out_commit(c, n);
    return true;
}

static bool out_str(struct tern_http_conn *c, const char *s)
{
    return out_put(c, s, strlen(s));
}

/* Header lines are composed by hand, not with tern_snprintf: they are on
 * every response, and formatting was a fifth of a small request's time.
 * line_add appends s (len bytes) to buf[*n], cap bytes in all, and fails
 * rather than truncate. */
static bool line_add(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
    if (len > cap - *n)
        return false;
    memcpy(buf + *n, s, len);
    *n += len;
    return true;
}

/* Appends v in decimal. */
static bool line_dec(char *buf, size_t cap, size_t *n, uint64_t v)
{
    char d[20];
    size_t k = sizeof d;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return line_add(buf, cap, n, d + k, sizeof d - k);
}

/* ---- deadlines ---- */

/* Sets the connection's timer for the earliest deadline. exact: put it
 * there. Otherwise the timer is only ever moved earlier: a deadline that
 * moves later (the next request's header deadline, idle after a response,
 * send after a drain) leaves it armed where it was; it then fires early,
 * on_timer finds nothing due and sets it exactly. A keep-alive request
 * thus costs no timer-heap operation once the timer sits at or before its
 * deadlines (one early firing per header timeout per connection instead). */
static void rearm_at(struct tern_http_conn *c, bool exact)
{
    uint64_t d = c->phase_deadline;
    if (c->send_deadline && (d == 0 || c->send_deadline < d))
        d = c->send_deadline;
    if (!exact && tern_timer_armed(&c->timer) && (d == 0 || c->timer.deadline_ns <= d))
        return;
    if (d == 0)
        tern_timer_disarm(c->srv->os, &c->timer);
    else if (tern_timer_arm(c->srv->os, &c->timer, d) != TERN_OK)
        c->aborted = true;       /* no timer, no deadline: refuse to keep it */
}

static void rearm(struct tern_http_conn *c)
{
    rearm_at(c, false);
}

static void set_phase(struct tern_http_conn *c, uint64_t timeout_ns)
{
    c->phase_deadline = timeout_ns ? now_ns(c) + timeout_ns : 0;
    rearm(c);
}

static void wake(struct tern_http_conn *c)
{
    if (!c->in_input && c->wake)
        c->wake(c, c->wake_arg);
}

/* ---- connection life ---- */

static void clear_exchange(struct tern_http_conn *c)
{
    c->status = 0;
    c->resp_started = c->resp_done = c->resp_chunked = c->resp_close = false;
    c->head_open = false;
    c->req_done = false;
    c->head_only = false;
    c->no_body = false;
    c->resp_held = c->resp_left = false;
    c->before_resp = 0;
    c->resp_remaining = 0;
    c->resp_body_bytes = 0;
    c->writable = NULL;
    c->on_body = NULL;
    c->on_abort = NULL;
    memset(&c->req, 0, sizeof c->req);
    c->path[0] = '\0';
    c->query[0] = '\0';
}

struct tern_http_conn *tern_http_conn_open(struct tern_http_server *srv,
                                           tern_http_wake_fn wake_fn, void *arg)
{
    for (uint32_t i = 0; i < srv->pool_size; i++) {
        struct tern_http_conn *c = &srv->pool[i];
        if (i == srv->pool_ready) {  /* every prepared one is in use */
            c->state = TERN_HTTP_C_FREE;
            c->srv = srv;
            tern_timer_init(&c->timer, on_timer, c);
            srv->pool_ready++;
        }
        if (c->state != TERN_HTTP_C_FREE)
            continue;
        c->wake = wake_fn;
        c->wake_arg = arg;
        c->out_off = c->out_len = 0;
        c->send_deadline = 0;
        c->phase_deadline = 0;
        c->aborted = false;
        c->in_input = false;
        c->quiet = false;
        clear_exchange(c);
        tern_http_parser_init(&c->parser, &srv->cfg.limits);
        c->state = TERN_HTTP_C_IDLE;
        c->served = 0;
        c->since_ns = tern_now_ns(srv->os);
        set_phase(c, srv->cfg.idle_timeout_ns);
        srv->counters.conns_accepted++;
        srv->counters.conns_active++;
        return c;
    }
    srv->counters.conns_refused_full++;
    return NULL;
}

/* Eviction rank: 1 idle after a response, 2 no request yet (silent or
 * sending its head), 3 sending a body that is not being answered yet or
 * was answered already, 4 a slow reader (output not drained for
 * stall_evict_ns); 0 never (output moving, or aborted). *since: when that
 * began (the oldest goes first). */
static int evict_rank(const struct tern_http_conn *c, uint64_t now, uint64_t *since)
{
    const struct tern_http_config *cfg = &c->srv->cfg;
    *since = c->since_ns;
    if (c->aborted || c->state == TERN_HTTP_C_FREE)
        return 0;
    if (c->state == TERN_HTTP_C_IDLE && c->served && !c->send_deadline)
        return 1;                            /* keep-alive, between requests */
    if ((c->state == TERN_HTTP_C_IDLE || c->state == TERN_HTTP_C_READ_HEAD) &&
        !c->send_deadline)
        return 2;                            /* no complete request yet */
    if (c->state == TERN_HTTP_C_ACTIVE && !c->req_done && (!c->resp_started || c->resp_done))
        return 3;
    if (c->send_deadline) {                  /* last drain: deadline - timeout */
        *since = c->send_deadline - cfg->send_timeout_ns;
        if (now >= *since + cfg->stall_evict_ns)
            return 4;
    }
    return 0;
}

bool tern_http_server_evict(struct tern_http_server *srv)
{
    struct tern_http_conn *victim = NULL;
    int vr = 0;
    uint64_t vs = 0, now = tern_now_ns(srv->os);
    for (uint32_t i = 0; i < srv->pool_ready; i++) {
        struct tern_http_conn *c = &srv->pool[i];
        uint64_t since;
        int r = evict_rank(c, now, &since);
        if (r && (!victim || r < vr || (r == vr && since < vs))) {
            victim = c;
            vr = r;
            vs = since;
        }
    }
    if (!victim)
        return false;
    srv->counters.evictions++;
    if (victim->state == TERN_HTTP_C_ACTIVE && !victim->resp_done && victim->on_abort)
        victim->on_abort(victim, victim->on_abort_arg);
    victim->resp_done = true;
    victim->aborted = true;
    victim->state = TERN_HTTP_C_CLOSING;
    if (victim->wake)
        victim->wake(victim, victim->wake_arg);
    return true;
}

void tern_http_conn_close(struct tern_http_conn *c)
{
    if (c->state == TERN_HTTP_C_FREE)
        return;
    if (c->resp_started && !c->resp_done && c->on_abort)
        c->on_abort(c, c->on_abort_arg);
    else if (c->state == TERN_HTTP_C_ACTIVE && !c->resp_done && c->on_abort)
        c->on_abort(c, c->on_abort_arg);
    tern_timer_disarm(c->srv->os, &c->timer);
    c->state = TERN_HTTP_C_FREE;
    c->srv->counters.conns_active--;
}

bool tern_http_conn_should_close(const struct tern_http_conn *c)
{
    return c->aborted || (c->state == TERN_HTTP_C_CLOSING && c->out_len == c->out_off);
}

static void drop_response(struct tern_http_conn *c);

static void go_closing(struct tern_http_conn *c)
{
    if (c->resp_held)
        drop_response(c);        /* never let an unchecked answer out */
    c->state = TERN_HTTP_C_CLOSING;
    c->writable = NULL;
    c->on_body = NULL;
    set_phase(c, c->srv->cfg.send_timeout_ns);
}

/* Counts status (d 1), or takes a count back (d (uint64_t)-1: a held
 * answer replaced before anything of it left). */
static void count_status_by(struct tern_http_server *srv, int status, uint64_t d)
{
    struct tern_http_counters *k = &srv->counters;
    if (status >= 500)
        k->responses_5xx += d;
    else if (status >= 400)
        k->responses_4xx += d;
    else if (status >= 300)
        k->responses_3xx += d;
    else if (status >= 200)
        k->responses_2xx += d;
    switch (status) {
    case 400: k->bad_request_400 += d; break;
    case 408: k->timeout_408 += d; break;
    case 413: k->too_large_413 += d; break;
    case 414: k->uri_too_long_414 += d; break;
    case 417: k->expectation_417 += d; break;
    case 431: k->fields_too_large_431 += d; break;
    case 501: k->not_implemented_501 += d; break;
    case 505: k->version_505 += d; break;
    default: break;
    }
}

static void count_status(struct tern_http_server *srv, int status)
{
    count_status_by(srv, status, 1);
}

/* Takes back the response in progress, nothing of which has left: its
 * bytes leave the output and its status the counters. The caller then
 * clears the exchange and answers otherwise (or closes). */
static void drop_response(struct tern_http_conn *c)
{
    if (!c->resp_started || c->resp_left)
        return;
    count_status_by(c->srv, c->status, (uint64_t)-1);
    c->out_len = c->out_off + c->before_resp;
    c->resp_held = false;
    c->resp_started = false;
}

/* The held response may go: the request body has ended well. */
static void release_held(struct tern_http_conn *c)
{
    if (!c->resp_held)
        return;
    c->resp_held = false;
    if (c->send_deadline == 0 && out_exposed(c) > 0) {
        c->send_deadline = now_ns(c) + c->srv->cfg.send_timeout_ns;
        rearm(c);
    }
}

/* ---- access log ---- */

/* Appends s, cutting it at the end of buf (log lines are cut, not lost). */
static void cut_add(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
    if (len > cap - *n)
        len = cap - *n;
    memcpy(buf + *n, s, len);
    *n += len;
}

static void cut_dec(char *buf, size_t cap, size_t *n, uint64_t v, size_t min_digits)
{
    char d[20];
    size_t k = sizeof d;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v || sizeof d - k < min_digits);
    cut_add(buf, cap, n, d + k, sizeof d - k);
}

static void alog_flush(struct tern_http_server *srv)
{
    struct tern_os *os = srv->os;
    tern_timer_disarm(os, &srv->alog_timer);
    if (srv->alog_len)
        os->plat.ops->console_write(os->plat.ctx, srv->alog, srv->alog_len);
    srv->alog_len = 0;
}

static void on_alog_timer(struct tern_timer *t, void *arg)
{
    (void)t;
    alog_flush(arg);
}

/* One "info http: METHOD PATH STATUS BYTES" line per response, composed
 * by hand (tern_log's formatting and a console write per request were
 * most of a keep-alive request's logging cost). It goes into the log ring
 * at once, in tern_log's record format; when the console threshold lets
 * info through, it also joins the server's batch, which reaches the
 * console in one write when full or when the loop next runs its timers
 * (a timer due now): a busy server writes once per loop turn, not once
 * per request. */
static void access_log(struct tern_http_conn *c)
{
    struct tern_http_server *srv = c->srv;
    struct tern_os *os = srv->os;
    if (!srv->cfg.access_log || c->quiet)
        return;
    const struct tern_http_request *r = &c->req;
    char line[TERN_LOG_LINE_MAX];
    size_t n = 0, cap = sizeof line;
    uint64_t now = now_ns(c);
    uint64_t ms = now > os->cfg.boot_start_ns ? (now - os->cfg.boot_start_ns) / 1000000u : 0;
    cut_add(line, cap, &n, "[", 1);
    cut_dec(line, cap, &n, ms / 1000, 1);
    cut_add(line, cap, &n, ".", 1);
    cut_dec(line, cap, &n, ms % 1000, 3);
    cut_add(line, cap, &n, "] info http: ", 13);
    if (r->method_str)
        cut_add(line, cap, &n, r->method_str, r->method_len);
    else
        cut_add(line, cap, &n, "-", 1);
    cut_add(line, cap, &n, " ", 1);
    cut_add(line, cap, &n, c->path[0] ? c->path : "-", c->path[0] ? strlen(c->path) : 1);
    cut_add(line, cap, &n, " ", 1);
    if (c->status < 0)
        cut_add(line, cap, &n, "-", 1);
    cut_dec(line, cap, &n, (uint64_t)(c->status < 0 ? -(int64_t)c->status : c->status), 1);
    cut_add(line, cap, &n, " ", 1);
    cut_dec(line, cap, &n, c->resp_body_bytes, 1);
    tern_log_ring_push(&os->log, TERN_LOG_INFO, line, n);
    if (TERN_LOG_INFO < os->cfg.console_level)
        return;
    if (srv->alog_len + n + 1 > sizeof srv->alog)
        alog_flush(srv);
    memcpy(srv->alog + srv->alog_len, line, n);
    srv->alog[srv->alog_len + n] = '\n';
    srv->alog_len += n + 1;
    if (!tern_timer_armed(&srv->alog_timer) &&
        tern_timer_arm(os, &srv->alog_timer, now) != TERN_OK)
        alog_flush(srv);                     /* no timer: write it now */
}

/* The request and its response are both complete. */
static void finish_exchange(struct tern_http_conn *c)
{
    access_log(c);
    if (c->resp_close || !c->parser.keep_alive) {
        go_closing(c);
        return;
    }
    clear_exchange(c);
    tern_http_parser_reset(&c->parser);
    c->served++;
    c->since_ns = now_ns(c);
    c->state = TERN_HTTP_C_IDLE;
    set_phase(c, c->srv->cfg.idle_timeout_ns);
}

/* ---- response API ---- */

/* "Date: <IMF-fixdate>\r\n" for wall time secs, formatted once per second
 * and kept in the server. */
static const char *date_line(struct tern_http_server *srv, int64_t secs, size_t *len)
{
    if (srv->date_len == 0 || srv->date_secs != secs) {
        char date[40];
        tern_http_format_date(secs, date, sizeof date);
        size_t n = 0;
        if (!line_add(srv->date_line, sizeof srv->date_line, &n, "Date: ", 6) ||
            !line_add(srv->date_line, sizeof srv->date_line, &n, date, strlen(date)) ||
            !line_add(srv->date_line, sizeof srv->date_line, &n, "\r\n", 2))
            n = 0;
        srv->date_len = n;
        srv->date_secs = secs;
    }
    *len = srv->date_len;
    return srv->date_line;
}

static tern_result begin(struct tern_http_conn *c, int status)
{
    static const char fixed[] = "Server: tern\r\nX-Content-Type-Options: nosniff\r\n";
    char line[192];
    c->status = status;
    c->resp_started = true;
    c->resp_left = false;
    c->before_resp = c->out_len - c->out_off;
    c->head_open = true;
    count_status(c->srv, status);
    const char *reason = tern_http_reason(status);
    size_t n = 0, dl = 0;
    const char *date = NULL;
    const struct tern_platform *pl = &c->srv->os->plat;
    int64_t wall;
    if (pl->ops->wall_ns && pl->ops->wall_ns(pl->ctx, &wall) == TERN_OK)
        date = date_line(c->srv, wall / 1000000000, &dl);
    /* Status line, Date, Server and nosniff go out in one piece. */
    if (!line_add(line, sizeof line, &n, "HTTP/1.1 ", 9) ||
        !line_dec(line, sizeof line, &n, (uint64_t)(status < 0 ? 0 : status)) ||
        !line_add(line, sizeof line, &n, " ", 1) ||
        !line_add(line, sizeof line, &n, reason, strlen(reason)) ||
        !line_add(line, sizeof line, &n, "\r\n", 2) ||
        (date && !line_add(line, sizeof line, &n, date, dl)) ||
        !line_add(line, sizeof line, &n, fixed, sizeof fixed - 1) || !out_put(c, line, n))
        return TERN_ENOSPC;
    return TERN_OK;
}

tern_result tern_http_resp_begin(struct tern_http_conn *c, int status)
{
    if (c->state != TERN_HTTP_C_ACTIVE || c->resp_started || status < 200 || status > 599)
        return TERN_EINVAL;
    return begin(c, status);
}

/* A framing field (Content-Length, Transfer-Encoding, Connection): the
 * engine's alone. */
static bool framing_name(const char *name, size_t n)
{
    static const char *const names[] = { "content-length", "transfer-encoding", "connection" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strlen(names[k]) != n)
            continue;
        size_t i = 0;
        while (i < n && (name[i] | 0x20) == names[k][i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

tern_result tern_http_resp_header(struct tern_http_conn *c, const char *name,
                                  const char *value)
{
    if (!c->head_open || !*name)
        return TERN_EINVAL;
    size_t nl = strlen(name), vl = strlen(value);
    if (memchr(name, '\r', nl) || memchr(name, '\n', nl) || memchr(value, '\r', vl) ||
        memchr(value, '\n', vl) || framing_name(name, nl))
        return TERN_EINVAL;
    if (nl + vl + 4 > out_free(c))
        return TERN_ENOSPC;
    uint8_t *p = out_tail(c, nl + vl + 4);
    memcpy(p, name, nl);
    p[nl] = ':';
    p[nl + 1] = ' ';
    memcpy(p + nl + 2, value, vl);
    p[nl + 2 + vl] = '\r';
    p[nl + 3 + vl] = '\n';
    out_commit(c, nl + vl + 4);
    return TERN_OK;
}

tern_result tern_http_resp_body(struct tern_http_conn *c, int64_t length)
{
    char line[64];
    if (!c->head_open)
        return TERN_EINVAL;
    c->head_open = false;
    if (!c->parser.keep_alive)
        c->resp_close = true;
    bool bodiless = c->status == 204 || c->status == 304 || (c->status >= 100 && c->status < 200);
    if (bodiless) {
        c->no_body = true;
    } else if (length >= 0) {
        size_t n = 0;
        if (!line_add(line, sizeof line, &n, "Content-Length: ", 16) ||
            !line_dec(line, sizeof line, &n, (uint64_t)length) ||
            !line_add(line, sizeof line, &n, "\r\n", 2) || !out_put(c, line, n))
            return TERN_ENOSPC;
        c->resp_remaining = (uint64_t)length;
    } else if (c->req.version_minor >= 1) {
        if (!out_str(c, "Transfer-Encoding: chunked\r\n"))
            return TERN_ENOSPC;
        c->resp_chunked = !c->head_only;
    } else {
        c->resp_close = true;                /* HTTP/1.0: close-delimited */
        c->resp_remaining = UINT64_MAX;
    }
    if (c->head_only)
        c->no_body = true;
    if (c->resp_close) {
        if (!out_str(c, "Connection: close\r\n"))
            return TERN_ENOSPC;
    } else if (c->req.version_minor == 0) {
        if (!out_str(c, "Connection: keep-alive\r\n"))
            return TERN_ENOSPC;
    }
    if (!out_str(c, "\r\n"))
        return TERN_ENOSPC;
    return TERN_OK;
}

size_t tern_http_resp_room(const struct tern_http_conn *c)
{
    size_t f = out_free(c);
    if (c->resp_chunked)
        return f > CHUNK_OVERHEAD + LAST_CHUNK ? f - CHUNK_OVERHEAD - LAST_CHUNK : 0;
    return f;
}

tern_result tern_http_resp_write(struct tern_http_conn *c, const void *data, size_t len,
                                 size_t *wrote)
{
    *wrote = 0;
    if (!c->resp_started || c->head_open || c->resp_done)
        return TERN_EINVAL;
    if (!c->resp_chunked && c->resp_remaining != UINT64_MAX && len > c->resp_remaining)
        return TERN_EINVAL;
    if (c->no_body) {
        *wrote = len;
        if (c->resp_remaining != UINT64_MAX && !c->resp_chunked)
            c->resp_remaining -= len;
        return TERN_OK;
    }
    size_t n = len, room = tern_http_resp_room(c);
    if (n > room)
        n = room;
    if (n == 0)
        return TERN_OK;
    if (c->resp_chunked) {
        char sz[16];
        tern_snprintf(sz, sizeof sz, "%zx\r\n", n);
        out_str(c, sz);
        out_put(c, data, n);
        out_put(c, "\r\n", 2);
    } else {
        out_put(c, data, n);
        if (c->resp_remaining != UINT64_MAX)
            c->resp_remaining -= n;
    }
    c->resp_body_bytes += n;
    *wrote = n;
    return TERN_OK;
}

tern_result tern_http_resp_reserve(struct tern_http_conn *c, uint8_t **buf, size_t *room)
{
    *buf = NULL;
    *room = 0;
    if (!c->resp_started || c->head_open || c->resp_done || c->resp_chunked || c->no_body ||
        c->resp_remaining == UINT64_MAX)
        return TERN_EINVAL;
    size_t n = out_free(c);
    if (n > c->resp_remaining)
        n = (size_t)c->resp_remaining;
    *buf = out_tail(c, n);
    *room = n;
    return TERN_OK;
}

tern_result tern_http_resp_commit(struct tern_http_conn *c, size_t n)
{
    if (!c->resp_started || c->head_open || c->resp_done || c->resp_chunked || c->no_body ||
        c->resp_remaining == UINT64_MAX || n > c->resp_remaining || n > out_free(c) ||
        c->out_len + n > TERN_HTTP_OUT_MAX)
        return TERN_EINVAL;
    out_commit(c, n);
    c->resp_remaining -= n;
    c->resp_body_bytes += n;
    return TERN_OK;
}

tern_result tern_http_resp_end(struct tern_http_conn *c)
{
    if (!c->resp_started || c->head_open || c->resp_done)
        return TERN_EINVAL;
    if (c->resp_chunked)
        out_put(c, "0\r\n\r\n", LAST_CHUNK);
    else if (!c->no_body && c->resp_remaining != 0 && c->resp_remaining != UINT64_MAX)
        c->resp_close = true;                /* short body: the peer sees EOF */
    c->resp_done = true;
    c->writable = NULL;
    if (c->state != TERN_HTTP_C_ACTIVE)
        return TERN_OK;
    if (c->req_done)
        finish_exchange(c);
    else if (c->resp_close && !c->resp_held) {
        access_log(c);
        go_closing(c);
    }                                    /* held: closes at the body's end */
    wake(c);
    return TERN_OK;
}

void tern_http_resp_flush(struct tern_http_conn *c)
{
    if (c->state == TERN_HTTP_C_ACTIVE && c->resp_started && !c->resp_done)
        wake(c);
}

tern_result tern_http_resp_simple(struct tern_http_conn *c, int status,
                                  const char *content_type, const void *body, size_t len)
{
    tern_result r = tern_http_resp_begin(c, status);
    if (r == TERN_OK && content_type)
        r = tern_http_resp_header(c, "Content-Type", content_type);
    if (r == TERN_OK)
        r = tern_http_resp_body(c, (int64_t)len);
    size_t w = 0;
    if (r == TERN_OK)
        r = tern_http_resp_write(c, body, len, &w);
    if (r == TERN_OK && w != len)
        r = TERN_ENOSPC;
    if (r != TERN_OK) {
        c->resp_close = true;
        c->aborted = true;                   /* a broken response: drop it */
    }
    tern_http_resp_end(c);
    return r;
}

void tern_http_set_writable(struct tern_http_conn *c,
                            void (*fn)(struct tern_http_conn *c, void *arg), void *arg)
{
    c->writable = fn;
    c->writable_arg = arg;
}

void tern_http_set_on_body(struct tern_http_conn *c,
                           size_t (*fn)(struct tern_http_conn *c, const uint8_t *data,
                                        size_t len, void *arg),
                           void *arg)
{
    c->on_body = fn;
    c->on_body_arg = arg;
}

void tern_http_set_on_abort(struct tern_http_conn *c,
                            void (*fn)(struct tern_http_conn *c, void *arg), void *arg)
{
    c->on_abort = fn;
    c->on_abort_arg = arg;
}

void *tern_http_scratch(struct tern_http_conn *c)
{
    return c->scratch;
}

const char *tern_http_request_field(const struct tern_http_request *req, const char *name,
                                    size_t *len)
{
    return tern_http_parser_field(req->parser, name, len);
}

/* ---- errors and dispatch ---- */

/* Answers status with a short text body and closes after it. */
static void send_error(struct tern_http_conn *c, int status)
{
    char body[80];
    size_t n = tern_snprintf(body, sizeof body, "%d %s\n", status, tern_http_reason(status));
    c->state = TERN_HTTP_C_ACTIVE;
    c->head_only = c->parser.method == TERN_HTTP_HEAD && c->parser.method_len;
    c->resp_close = true;
    c->req_done = true;
    if (begin(c, status) != TERN_OK ||
        tern_http_resp_header(c, "Content-Type", "text/plain; charset=utf-8") != TERN_OK ||
        tern_http_resp_body(c, (int64_t)n) != TERN_OK) {
        c->aborted = true;
    } else {
        size_t w;
        tern_http_resp_write(c, body, n, &w);
    }
    c->resp_done = true;
    access_log(c);
    go_closing(c);
}

static bool route_matches(const struct tern_http_route *r, const char *path)
{
    size_t n = strlen(r->prefix);
    if (r->exact)
        return strcmp(path, r->prefix) == 0;
    if (strncmp(path, r->prefix, n) != 0)
        return false;
    return n == 0 || r->prefix[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
}

static void dispatch(struct tern_http_conn *c)
{
    struct tern_http_parser *p = &c->parser;
    struct tern_http_request *r = &c->req;
    struct tern_http_server *srv = c->srv;
    srv->counters.requests++;
    c->state = TERN_HTTP_C_ACTIVE;
    c->since_ns = now_ns(c);
    memset(c->scratch, 0, sizeof c->scratch);
    r->method = p->method;
    r->method_str = (const char *)p->head;
    r->method_len = p->method_len;
    r->version_minor = p->version_minor;
    r->head_only = p->method == TERN_HTTP_HEAD;
    r->parser = p;
    c->head_only = r->head_only;
    bool has_body = p->chunked || (p->has_length && p->content_length > 0);
    c->req_done = false;
    set_phase(c, has_body ? srv->cfg.body_timeout_ns : 0);
    if (p->expect_continue && has_body) {
        out_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
        srv->counters.continues_sent++;
    }

    /* The target: origin-form, absolute-form (RFC 9112 section 3.2.2) or
     * asterisk-form for OPTIONS. */
    const char *t = (const char *)p->head + p->target_off;
    size_t tl = p->target_len;
    if (tl >= 7 && (memcmp(t, "http://", 7) == 0 || (tl >= 8 && memcmp(t, "https://", 8) == 0))) {
        size_t k = t[4] == 's' ? 8 : 7;
        while (k < tl && t[k] != '/' && t[k] != '?')
            k++;
        if (k < tl && t[k] == '/') {
            t += k;
            tl -= k;
        } else {
            t = "/";
            tl = 1;
        }
    }
    if (tl == 1 && t[0] == '*' && p->method == TERN_HTTP_OPTIONS) {
        memcpy(c->path, "*", 2);
        r->path = c->path;
        r->query = c->query;
        tern_http_resp_begin(c, 204);
        tern_http_resp_header(c, "Allow", "GET, HEAD");
        tern_http_resp_body(c, 0);
        tern_http_resp_end(c);
        return;
    }
    tern_result dr = tern_http_decode_path(t, tl, c->path, sizeof c->path);
    size_t q = 0;
    while (q < tl && t[q] != '?')
        q++;
    if (q < tl) {
        size_t ql = tl - q - 1;
        if (ql >= sizeof c->query)
            dr = TERN_ENOSPC;
        else {
            memcpy(c->query, t + q + 1, ql);
            c->query[ql] = '\0';
        }
    }
    r->path = c->path;
    r->query = c->query;
    if (dr != TERN_OK) {
        if (c->path[0] == '\0')
            memcpy(c->path, "-", 2);
        static const char msg[] = "bad request target\n";
        tern_http_resp_simple(c, dr == TERN_ENOSPC ? 414 : 400, "text/plain; charset=utf-8",
                              msg, sizeof msg - 1);
        return;
    }
    for (size_t i = 0; i < srv->nroutes; i++) {
        if (route_matches(&srv->routes[i], c->path)) {
            srv->routes[i].fn(c, r, srv->routes[i].arg);
            return;
        }
    }
    static const char nf[] = "not found\n";
    tern_http_resp_simple(c, 404, "text/plain; charset=utf-8", nf, sizeof nf - 1);
}

/* After the route ran: a chunked body is held back for (resp_held, set
 * before the route) unless the route reads the body itself, and then
 * its answer streams as it is written. */
static void after_dispatch(struct tern_http_conn *c)
{
    if (!c->resp_held || !c->on_body)
        return;
    release_held(c);
    if (c->state == TERN_HTTP_C_ACTIVE && c->resp_done && c->resp_close && !c->req_done) {
        access_log(c);                   /* what tern_http_resp_end put off */
        go_closing(c);
    }
}

/* A framing or limit error in the request (status): answered with status
 * unless part of the answer has already left; then the connection ends. */
static void request_error(struct tern_http_conn *c, int status)
{
    if (c->state == TERN_HTTP_C_ACTIVE && c->resp_started && c->resp_left) {
        /* The answer already went out: just end the connection. */
        count_status(c->srv, status);
        if (!c->resp_done && c->on_abort)
            c->on_abort(c, c->on_abort_arg);
        c->resp_done = true;
        c->resp_close = true;
        go_closing(c);
        return;
    }
    if (c->state == TERN_HTTP_C_ACTIVE) {
        drop_response(c);                /* held, or nothing of it sent */
        if (!c->resp_done && c->on_abort)
            c->on_abort(c, c->on_abort_arg);
    }
    clear_exchange(c);
    send_error(c, status);
}

/* Feeds what may be fed now; returns bytes consumed. */
static size_t pump(struct tern_http_conn *c, const uint8_t *data, size_t len)
{
    size_t done = 0;
    for (;;) {
        if (c->aborted || c->state == TERN_HTTP_C_CLOSING || c->state == TERN_HTTP_C_FREE)
            return len;                      /* closing: the rest is dropped */
        if (c->state == TERN_HTTP_C_ACTIVE && c->req_done)
            return done;                     /* wait for the response */
        if ((c->state == TERN_HTTP_C_IDLE || c->state == TERN_HTTP_C_READ_HEAD) &&
            out_free(c) < HEAD_RESERVE)
            return done;                     /* let the peer read first */
        struct tern_http_event ev;
        size_t used;
        tern_http_parser_feed(&c->parser, data + done, len - done, &used, &ev);
        if (used && c->state == TERN_HTTP_C_IDLE) {
            c->state = TERN_HTTP_C_READ_HEAD;
            c->since_ns = now_ns(c);
            set_phase(c, c->srv->cfg.header_timeout_ns);
        }
        done += used;
        switch (ev.kind) {
        case TERN_HTTP_EV_NONE:
            return done;
        case TERN_HTTP_EV_HEAD:
            c->resp_held = c->parser.chunked;
            dispatch(c);
            after_dispatch(c);
            break;
        case TERN_HTTP_EV_BODY: {
            size_t took = ev.len;
            if (c->on_body && !c->resp_done)
                took = c->on_body(c, ev.data, ev.len, c->on_body_arg);
            if (c->state == TERN_HTTP_C_ACTIVE && took)
                set_phase(c, c->srv->cfg.body_timeout_ns);
            if (took < ev.len && c->state == TERN_HTTP_C_ACTIVE) {
                /* The handler is full: the rest waits with the transport. */
                tern_http_parser_unread_body(&c->parser, ev.len - took);
                return done - (ev.len - took);
            }
            break;
        }
        case TERN_HTTP_EV_DONE:
            c->req_done = true;
            release_held(c);             /* the body's framing was sound */
            if (c->state == TERN_HTTP_C_ACTIVE) {
                set_phase(c, 0);
                if (c->on_body && !c->resp_done)
                    c->on_body(c, NULL, 0, c->on_body_arg);
                if (c->resp_done)
                    finish_exchange(c);
            }
            break;
        case TERN_HTTP_EV_ERROR:
            request_error(c, ev.status);
            return len;
        }
    }
}

size_t tern_http_conn_input(struct tern_http_conn *c, const uint8_t *data, size_t len)
{
    c->input_ns = tern_now_ns(c->srv->os);
    c->in_input = true;
    size_t n = pump(c, data, len);
    c->in_input = false;
    c->srv->counters.bytes_in += n;
    return n;
}

void tern_http_conn_input_closed(struct tern_http_conn *c)
{
    switch (c->state) {
    case TERN_HTTP_C_IDLE:
    case TERN_HTTP_C_READ_HEAD:
        go_closing(c);
        break;
    case TERN_HTTP_C_ACTIVE:
        if (!c->req_done) {
            if (!c->resp_done && c->on_abort)
                c->on_abort(c, c->on_abort_arg);
            c->resp_done = true;
            go_closing(c);
        } else {
            c->resp_close = true;
        }
        break;
    default:
        break;
    }
}

/* A streaming response is refilled once a quarter of the output buffer is
 * free (or all of it went out), not after every few bytes a slow reader
 * takes: each refill may move the queued bytes to the buffer's front
 * (out_tail), so refilling in small steps costs a 16 KiB move per step. */
#define REFILL_LOW_WATER (TERN_HTTP_OUT_MAX / 4)

static bool refill_due(const struct tern_http_conn *c)
{
    size_t room = tern_http_resp_room(c);
    return room >= REFILL_LOW_WATER || (room > 0 && out_exposed(c) == 0);
}

void tern_http_conn_output(struct tern_http_conn *c, const uint8_t **data, size_t *len)
{
    *data = c->out + c->out_off;
    *len = c->aborted ? 0 : out_exposed(c);
}

void tern_http_conn_output_done(struct tern_http_conn *c, size_t n)
{
    if (n > out_exposed(c))
        n = out_exposed(c);
    if (c->resp_started) {
        if (n > c->before_resp)
            c->resp_left = true;         /* it can no longer be taken back */
        c->before_resp -= n < c->before_resp ? n : c->before_resp;
    }
    c->out_off += n;
    c->srv->counters.bytes_out += n;
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (out_exposed(c) == 0) {
        c->send_deadline = 0;            /* nothing to send, or all held */
    } else if (n) {
        c->send_deadline = tern_now_ns(c->srv->os) + c->srv->cfg.send_timeout_ns;
    }
    rearm(c);
    if (c->writable && c->state == TERN_HTTP_C_ACTIVE && !c->resp_done && refill_due(c))
        c->writable(c, c->writable_arg);
}

static void on_timer(struct tern_timer *t, void *arg)
{
    struct tern_http_conn *c = arg;
    struct tern_http_server *srv = c->srv;
    (void)t;
    uint64_t now = tern_now_ns(srv->os);
    if (c->send_deadline && now >= c->send_deadline) {
        srv->counters.send_timeouts++;
        c->aborted = true;                   /* slow reader: give up */
        if (c->state == TERN_HTTP_C_ACTIVE && !c->resp_done && c->on_abort)
            c->on_abort(c, c->on_abort_arg);
        c->resp_done = true;
        c->state = TERN_HTTP_C_CLOSING;
        wake(c);
        return;
    }
    if (c->phase_deadline && now >= c->phase_deadline) {
        c->phase_deadline = 0;
        switch (c->state) {
        case TERN_HTTP_C_IDLE:
            srv->counters.idle_closes++;
            go_closing(c);
            break;
        case TERN_HTTP_C_READ_HEAD:
            send_error(c, 408);
            break;
        case TERN_HTTP_C_ACTIVE:
            if (!c->resp_started || !c->resp_left) {
                drop_response(c);        /* held, or nothing of it sent */
                if (!c->resp_done && c->on_abort)
                    c->on_abort(c, c->on_abort_arg);
                clear_exchange(c);
                send_error(c, 408);
            } else {
                count_status(srv, 408);
                if (!c->resp_done && c->on_abort)
                    c->on_abort(c, c->on_abort_arg);
                c->resp_done = true;
                go_closing(c);
            }
            break;
        case TERN_HTTP_C_CLOSING:
            c->aborted = true;               /* linger over */
            break;
        default:
            break;
        }
        wake(c);
        return;
    }
    rearm_at(c, true);                       /* early: nothing due yet */
}
