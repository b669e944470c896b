/*
 * Interface: what the PAL's files share. Each group of the table lives in
 * its own file (pal.c: logs, config, memory, time, random, status;
 * pal_thread.c: threads and events; pal_http.c and pal_http_pool.c:
 * routes; pal_sock.c: sockets; pal_file.c: files); this header has the handle table they all
 * use and the fillers that put each group into the table.
 */
#ifndef TERN_PAL_INTERNAL_H
#define TERN_PAL_INTERNAL_H

#include "tern/os.h"
#include "tern/pal_host.h"

enum pal_kind {
    PAL_H_FREE = 0,
    PAL_H_THREAD,
    PAL_H_EVENT,
    PAL_H_TCP_LISTEN,
    PAL_H_TCP,
    PAL_H_UDP,
    PAL_H_FILE,
    PAL_H_HTTP_POOL,
};

/* One handle: a kind and the object it names (from the instance heap,
 * owned by the group that made it). */
struct pal_handle {
    enum pal_kind kind;
    void *obj;
};

static inline struct tern_pal_app *pal_app(void *ctx)
{
    return (struct tern_pal_app *)ctx;
}

/* A free handle for obj of kind, or -1 (counted) when the table is full. */
tern_pal_handle pal_handle_new(struct tern_pal_app *app, enum pal_kind kind, void *obj);

/* The object of handle h if it is of kind (PAL_H_FREE: any kind in use),
 * else NULL. */
void *pal_handle_get(struct tern_pal_app *app, tern_pal_handle h, enum pal_kind kind);

/* The kind of handle h (PAL_H_FREE when h is not in use). */
enum pal_kind pal_handle_kind(struct tern_pal_app *app, tern_pal_handle h);

void pal_handle_release(struct tern_pal_app *app, tern_pal_handle h);

/* The core event behind event handle h, or NULL (for poll). */
struct tern_event *pal_event_of(struct tern_pal_app *app, tern_pal_handle h);

/* poll(): one waiting poll's registration on one polled object. Each
 * socket and event keeps a list of these and signals every ev on it
 * whenever it signals its own event, so one wait covers a whole set. */
struct pal_poll_link {
    struct tern_event *ev;             /* the poll's wake-up */
    struct pal_poll_link *next;
    struct pal_poll_link **head;       /* the list it is on (NULL: none) */
};

/* Puts link on the list at head / takes it off (harmless when not on). */
void pal_poll_link_add(struct pal_poll_link *link, struct pal_poll_link **head,
                       struct tern_event *ev);
void pal_poll_link_remove(struct pal_poll_link *link);

/* Signals every poll on the list. */
void pal_poll_wake(struct tern_os *os, struct pal_poll_link *head);

/* The poll list of event handle h, or NULL (pal_thread.c, for poll). */
struct pal_poll_link **pal_event_pollers(struct tern_pal_app *app, tern_pal_handle h);

/* True when the caller is one of the core's threads (blocking allowed). */
bool pal_on_thread(struct tern_pal_app *app);

/* Each group's members into the table. */
void pal_fill_basic(struct tern_pal *t);
void pal_fill_thread(struct tern_pal *t);
void pal_fill_http(struct tern_pal *t);
void pal_fill_sock(struct tern_pal *t);
void pal_fill_file(struct tern_pal *t);

/* The app ended (pal_app_ended): its HTTP worker pools stop taking work. */
void pal_http_app_ended(struct tern_pal_app *app);

/* Group teardown at finish (close what the app left open). */
void pal_http_finish(struct tern_pal_app *app);
void pal_sock_finish(struct tern_pal_app *app);
void pal_file_finish(struct tern_pal_app *app);
void pal_thread_finish(struct tern_pal_app *app);

/* TERN_APP_BIND proto=PROTO port=PORT: the app bound an endpoint. */
void pal_note_bind(struct tern_pal_app *app, const char *proto, uint16_t port);

/* The app's exit path shared by return, exit() and kill. */
void pal_app_ended(struct tern_pal_app *app, int code, const char *reason);

#endif
