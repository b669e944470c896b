/*
 * Interface: see include/tern/boot_pkg.h (tern_update_endpoint_start):
 * the OS's update endpoint (docs/updates.md, "The update endpoint").
 *
 * PUT PATH with "Authorization: Bearer TOKEN" (SHA-256 of TOKEN compared
 * in constant time with the manifest's token_sha256) and a Content-Length
 * body of at most TERN_BOOT_PKG_MAX bytes: the body is taken into the
 * instance heap, checked as a boot would check it (signature, trusted
 * keys, the accepted counter, manifest), and only then written into the
 * inactive slot and staged; 202, then the restart into the trial (halt
 * 75: metal resets, tern-linux exits for its supervisor). A package that
 * is refused changes nothing on disk (422 with the reason); no or wrong
 * credentials: 401, counted and logged.
 */
#include <string.h>

#include "tern/boot_pkg.h"
#include "tern/fat.h"
#include "tern/fmt.h"
#include "tern/http.h"
#include "tern/manifest.h"
#include "tern/os.h"
#include "tern/pal.h"
#include "tern/services.h"
#include "tern/tls.h"
#include "tern/workload.h"
#include "workload_internal.h"

#define RESTART_DELAY_NS 200000000ull        /* the 202 drains first */

static void answer(struct tern_http_conn *c, int status, const char *text)
{
    size_t n = strlen(text);
    if (tern_http_resp_begin(c, status) != TERN_OK)
        return;
    if (status == 401)
        tern_http_resp_header(c, "WWW-Authenticate", "Bearer realm=\"tern-update\"");
    if (status == 405)
        tern_http_resp_header(c, "Allow", "PUT");
    tern_http_resp_header(c, "Content-Type", "text/plain; charset=utf-8");
    tern_http_resp_header(c, "Cache-Control", "no-store");
    tern_http_resp_body(c, (int64_t)n);
    size_t w;
    tern_http_resp_write(c, text, n, &w);
    tern_http_resp_end(c);
}

static void refuse(struct tern_update_endpoint *ep, struct tern_http_conn *c, int status,
                   const char *reason, const char *text)
{
    char token[48];
    tern_snprintf(token, sizeof token, "%s", reason);
    tern_log(ep->bp->os, TERN_LOG_WARN, "update", "PUT %s refused (%d): %s", ep->cfg.path, status,
             text);
    tern_marker(ep->bp->os, "TERN_UPDATE_REFUSED", "status=%d reason=%s", status,
                tern_token(token));
    c->resp_close = true;                   /* whatever the client still sends is not wanted */
    answer(c, status, text);
}

/* The Bearer token's SHA-256 equals the manifest's, compared in constant
 * time. */
static bool authorised(const struct tern_update_endpoint *ep, const struct tern_http_request *req)
{
    size_t len = 0;
    const char *v = tern_http_request_field(req, "authorization", &len);
    static const char scheme[] = "Bearer ";
    if (v == NULL || len <= sizeof scheme - 1)
        return false;
    for (size_t i = 0; i < sizeof scheme - 1; i++)
        if ((v[i] | (i < 6 ? 0x20 : 0)) != (scheme[i] | (i < 6 ? 0x20 : 0)))
            return false;
    uint8_t digest[32];
    tern_sha256(v + sizeof scheme - 1, len - (sizeof scheme - 1), digest);
    uint8_t diff = 0;
    for (unsigned i = 0; i < 32; i++)
        diff |= (uint8_t)(digest[i] ^ ep->cfg.token_sha256[i]);
    return diff == 0;
}

static void drop_body(struct tern_update_endpoint *ep)
{
    tern_free(ep->bp->os, ep->buf);
    ep->buf = NULL;
    ep->len = ep->cap = 0;
    ep->busy = false;
}

static void restart_now(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_update_endpoint *ep = arg;
    tern_log(ep->bp->os, TERN_LOG_WARN, "update", "restarting into the trial of slot %s",
             tern_update_slot_name(ep->slot));
    tern_os_halt(ep->bp->os, TERN_WORKLOAD_HALT_RESTART);
}

/* Writes the checked package into its slot and stages it. */
static tern_result write_and_stage(struct tern_update_endpoint *ep, unsigned slot,
                                   const struct tern_manifest *m)
{
    struct tern_boot_pkg *bp = ep->bp;
    struct tern_fat_file f;
    tern_result r = tern_update_slot_create(&bp->update, slot, &f);
    if (r == TERN_OK) {
        r = tern_fat_write(&f, ep->buf, ep->len);
        tern_result c = tern_fat_close(&f);
        r = r == TERN_OK ? c : r;
    }
    if (r == TERN_OK)
        r = tern_fat_sync(bp->data);
    char id[TERN_UPDATE_ID_MAX], key[TERN_KEY_HEX + 1] = "unsigned";
    if (ep->pkg.is_signed)
        tern_boot_key_hex(ep->pkg.key_id, key);
    size_t n = tern_snprintf(id, sizeof id, "%s %s key=%s", m->name, m->version, key);
    if (r == TERN_OK)
        r = tern_update_stage(&bp->update, slot, ep->cfg.tries, (const uint8_t *)id,
                              n < sizeof id ? n : sizeof id - 1);
    return r;
}

/* The whole body arrived: check it, write it, stage it, answer. */
static void install(struct tern_update_endpoint *ep, struct tern_http_conn *c)
{
    struct tern_boot_pkg *bp = ep->bp;
    static const char fmt[] = "refused: %s: %s\n";
    struct tern_pkg_trust trust = {
        .keys = bp->trust.keys, .key_count = bp->trust.count,
        .min_counter = tern_boot_pkg_min_counter(bp), .pal_major = TERN_PAL_ABI_MAJOR,
        .pal_minor = TERN_PAL_ABI_MINOR, .allow_unsigned = bp->trust.allow_unsigned,
    };
    struct tern_pkg_error err = { 0 };
    struct tern_manifest *m = ep->manifest;
    tern_result r = tern_pkg_parse(&ep->pkg, ep->buf, ep->len, &err);
    if (r == TERN_OK)
        r = tern_pkg_verify(&ep->pkg, &trust, &err);
    if (r == TERN_OK)
        r = workload_pkg_manifest(&ep->pkg, m, &err);
    if (r != TERN_OK) {
        char text[sizeof err.detail + 64];
        tern_snprintf(text, sizeof text, fmt, tern_pkg_reason_name(err.reason), err.detail);
        ep->stats.refused++;
        drop_body(ep);
        refuse(ep, c, r == TERN_ENOMEM ? 503 : 422, tern_pkg_reason_name(err.reason), text);
        return;
    }
    unsigned slot = TERN_SLOT_NONE;
    r = tern_update_install_slot(&bp->update, &slot);
    if (r == TERN_OK)
        r = write_and_stage(ep, slot, m);
    drop_body(ep);
    if (r != TERN_OK) {
        ep->stats.refused++;
        refuse(ep, c, r == TERN_EBUSY ? 409 : 500, tern_result_name(r),
               r == TERN_EBUSY ? "busy: a trial is running\n" : "the slot could not be written\n");
        return;
    }
    ep->stats.accepted++;
    ep->slot = slot;
    ep->staged = true;
    char body[160];
    tern_snprintf(body, sizeof body, "staged %s %s in slot %s: restarting into its trial\n",
                  m->name, m->version, tern_update_slot_name(slot));
    tern_marker(bp->os, "TERN_UPDATE_STAGED", "slot=%s name=%s version=%s counter=%llu",
                tern_update_slot_name(slot), m->name, m->version,
                (unsigned long long)ep->pkg.security_counter);
    c->resp_close = true;
    answer(c, 202, body);
    tern_timer_init(&ep->restart, restart_now, ep);
    (void)tern_timer_arm(bp->os, &ep->restart, tern_now_ns(bp->os) + RESTART_DELAY_NS);
}

static size_t on_body(struct tern_http_conn *c, const uint8_t *data, size_t len, void *arg)
{
    struct tern_update_endpoint *ep = arg;
    if (data == NULL) {
        install(ep, c);
        return 0;
    }
    if (ep->buf == NULL)
        return len;                          /* answered already: discard */
    if (len > ep->cap - ep->len)
        len = ep->cap - ep->len;             /* cannot happen: the length was announced */
    memcpy(ep->buf + ep->len, data, len);
    ep->len += len;
    return len;
}

static void on_abort(struct tern_http_conn *c, void *arg)
{
    (void)c;
    struct tern_update_endpoint *ep = arg;
    if (ep->buf)
        tern_log(ep->bp->os, TERN_LOG_WARN, "update", "PUT %s: the client went away after %zu bytes",
                 ep->cfg.path, ep->len);
    drop_body(ep);
}

/* What may be refused before a byte of the body is read. NULL: go on. */
static const char *early_refusal(struct tern_update_endpoint *ep,
                                 const struct tern_http_request *req, int *status)
{
    const struct tern_http_parser *p = req->parser;
    unsigned slot;
    *status = 409;
    if (ep->busy || ep->staged)
        return "busy: another update is in progress\n";
    if (tern_update_install_slot(&ep->bp->update, &slot) != TERN_OK)
        return "busy: a trial is running (it must confirm first)\n";
    *status = 411;
    if (p->chunked || !p->has_length)
        return "a Content-Length is required\n";
    *status = 413;
    if (p->content_length > TERN_BOOT_PKG_MAX || p->content_length == 0)
        return "the package is empty or larger than the package cap\n";
    return NULL;
}

static void update_route(struct tern_http_conn *c, const struct tern_http_request *req,
                         void *arg)
{
    struct tern_update_endpoint *ep = arg;
    int status = 405;
    if (req->method != TERN_HTTP_PUT) {
        answer(c, 405, "PUT a package here\n");
        return;
    }
    if (!authorised(ep, req)) {
        ep->stats.unauthorized++;
        refuse(ep, c, 401, "unauthorized", "unauthorized\n");
        return;
    }
    const char *why = early_refusal(ep, req, &status);
    if (why != NULL) {
        ep->stats.refused++;
        refuse(ep, c, status, status == 409 ? "busy" : status == 411 ? "no-length" : "over-cap",
               why);
        return;
    }
    ep->cap = (size_t)req->parser->content_length;
    ep->buf = tern_alloc(ep->bp->os, ep->cap);
    if (ep->buf == NULL) {
        ep->stats.refused++;
        refuse(ep, c, 503, "no-memory", "no memory for the package\n");
        return;
    }
    ep->busy = true;
    ep->len = 0;
    tern_log(ep->bp->os, TERN_LOG_INFO, "update", "PUT %s: receiving %zu bytes", ep->cfg.path,
             ep->cap);
    tern_http_set_on_abort(c, on_abort, ep);
    tern_http_set_on_body(c, on_body, ep);
}

/* Why the endpoint stays off for bp's workload, or NULL when it may run. */
static const char *off_reason(const struct tern_boot_pkg *bp, const struct tern_services *s)
{
    if (!bp->have_update || s == NULL)
        return "no-slots";              /* no data volume's record, or no HTTP */
    if (!bp->is_pkg || bp->slot == TERN_SLOT_NONE)
        return "not-from-a-slot";       /* --package, --manifest, the boot volume */
    return NULL;
}

tern_result tern_update_endpoint_start(struct tern_boot_pkg *bp, struct tern_services *s,
                                       const struct tern_manifest *m, const char *source)
{
    struct tern_update_endpoint *ep = &bp->endpoint;
    if (!m->update.enabled)
        return TERN_OK;
    memset(ep, 0, sizeof *ep);
    ep->bp = bp;
    ep->cfg = m->update;
    ep->off = off_reason(bp, s);
    if (ep->off != NULL && strcmp(ep->off, "no-slots") == 0) {
        tern_log(bp->os, TERN_LOG_WARN, "update",
                 "the manifest's update endpoint needs the data volume's slots and HTTP: off");
        return TERN_OK;
    }
    if (ep->off != NULL) {
        tern_log(bp->os, TERN_LOG_WARN, "update",
                 "the manifest's update endpoint is off: the workload is from %s, not from a "
                 "slot, and an update would be staged into a slot the next start does not boot",
                 source ? source : "the command line");
        return TERN_OK;
    }
    if (ep->cfg.tries == 0)
        ep->cfg.tries = TERN_UPDATE_TRIES_DEFAULT;
    ep->manifest = tern_alloc(bp->os, sizeof *ep->manifest);
    if (ep->manifest == NULL)
        return TERN_ENOMEM;
    struct tern_http_route route = { ep->cfg.path, true, update_route, ep };
    tern_result r = tern_services_add_route(s, &route);
    if (r != TERN_OK) {
        tern_free(bp->os, ep->manifest);
        return r;
    }
    if (s->srv.cfg.limits.max_body < TERN_BOOT_PKG_MAX)
        s->srv.cfg.limits.max_body = TERN_BOOT_PKG_MAX;   /* a package is larger than 1 MiB */
    ep->on = true;
    tern_log(bp->os, TERN_LOG_INFO, "update", "endpoint: PUT %s (bearer token, %u trial boots)",
             ep->cfg.path, (unsigned)ep->cfg.tries);
    return TERN_OK;
}
