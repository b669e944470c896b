/*
 * Interface: result codes shared by the backend contract and every core
 * subsystem. Functions return a tern_result and pass outputs through
 * pointers; errno is never used. Each function documents the subset it
 * can return.
 */
#ifndef TERN_RESULT_H
#define TERN_RESULT_H

#include "tern/decls.h"

TERN_BEGIN_DECLS

typedef enum tern_result {
    TERN_OK = 0,        /* done */
    TERN_AGAIN,         /* nothing now; retry after the next wait */
    TERN_EINVAL,        /* caller passed something invalid */
    TERN_ENOENT,        /* no such device, file, entry or name */
    TERN_ENOMEM,        /* a heap or pool is exhausted */
    TERN_ENOSPC,        /* a fixed-size table or the medium is full */
    TERN_EIO,           /* the device or the data on it is bad */
    TERN_ENOTSUP,       /* this backend or build does not provide it */
    TERN_EBUSY,         /* in use */
    TERN_ETIMEDOUT,     /* a deadline passed first */
    TERN_ECLOSED,       /* the other side or the object was shut down */
    TERN_EEXIST,        /* already there */
    TERN_EROFS,         /* device or volume is read-only */
    TERN_EPROTO,        /* a peer broke the protocol */
    TERN_EACCES,        /* not permitted (the PAL's TERN_PAL_EACCES) */
    TERN_EVERSION,      /* built against an incompatible contract or ABI */
    TERN_RESULT_COUNT
} tern_result;

/* A short stable name for r ("ok", "again", "einval", ...); never NULL. */
const char *tern_result_name(tern_result r);

TERN_END_DECLS

#endif
