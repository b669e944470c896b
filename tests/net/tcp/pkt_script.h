/*
 * Interface: Tern's TCP packet scripts (docs/tcp.md, "Conformance
 * scripts"): the parser of the text format, the formatter that prints a
 * segment in the same notation, and the matcher of an expected segment
 * against an actual one. Pure: no TCP instance, no clock; the runner
 * (script_runner.c) executes what is parsed here.
 *
 * A script is one event per line, "TIME ACTION", TIME "+S" (seconds after
 * the previous event) or "S" (seconds after the start); "//" starts a
 * comment; the first line must be a comment naming the RFC rule
 * ("// RFC ..."). Segments are "< FLAGS START:END(LEN) [ack N] [win N]
 * [<OPTIONS>]" (inbound, injected) and "> ..." (expected outbound, '*'
 * for a free value, "<...>" or a trailing ",..." for options not
 * checked). Sequence numbers are relative to the sender's ISN, ack
 * numbers and SACK blocks to the other side's.
 *
 *   struct pkt_script sc;
 *   if (!pkt_parse_script(text, &sc, err, sizeof(err))) refuse(err);
 *   ... sc.ev[i] ...; pkt_script_free(&sc);
 */
#ifndef TERN_PKT_SCRIPT_H
#define TERN_PKT_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10

#define PKT_OPT_MAX 12
#define PKT_SACK_MAX 4

/* A number in a segment line: a value, or '*' (any; inbound TS ecr '*'
 * means "echo the last TSval the stack sent"). */
struct pkt_num {
    bool any;
    uint32_t v;
};

enum pkt_opt_kind {
    PKT_OPT_EOL = 0,
    PKT_OPT_NOP = 1,
    PKT_OPT_MSS = 2,
    PKT_OPT_WSCALE = 3,
    PKT_OPT_SACKOK = 4,
    PKT_OPT_SACK = 5,
    PKT_OPT_TS = 8,
};

struct pkt_opt {
    enum pkt_opt_kind kind;
    struct pkt_num a, b;            /* mss / wscale / TS val, ecr */
    unsigned nblocks;               /* sack */
    struct pkt_num blk[PKT_SACK_MAX][2];
};

struct pkt_seg {
    uint8_t flags;
    struct pkt_num start, end;
    uint32_t len;
    struct pkt_num ack;             /* meaningful with PKT_ACK */
    bool has_win;
    struct pkt_num win;
    unsigned nopts;
    struct pkt_opt opts[PKT_OPT_MAX];
    bool opts_more;                 /* "..." : other options allowed */
};

enum pkt_kind {
    PKT_EV_IN,          /* < segment */
    PKT_EV_OUT,         /* > segment */
    PKT_EV_NONE,        /* > none within SECONDS */
    PKT_EV_LISTEN,      /* listen PORT */
    PKT_EV_CONNECT,     /* connect A.B.C.D:PORT */
    PKT_EV_ACCEPT,      /* accept */
    PKT_EV_WRITE,       /* write N */
    PKT_EV_READ,        /* read N | read eof | read none | read closed */
    PKT_EV_CLOSE,       /* close */
    PKT_EV_SHUTDOWN,    /* shutdown */
    PKT_EV_ABORT,       /* abort */
    PKT_EV_KEEPALIVE,   /* keepalive (on) */
    PKT_EV_NODELAY,     /* nodelay (Nagle off) */
    PKT_EV_STATE,       /* expect state NAME */
    PKT_EV_ERROR,       /* expect error none|refused|reset|timeout */
    PKT_EV_COUNTER,     /* expect counter NAME N */
    PKT_EV_ICMP,        /* icmp unreachable net|host|protocol|port [seq N] | icmp frag_needed MTU */
    PKT_EV_PEER_ISN,    /* peer_isn N : the peer's ISN (before its first segment) */
};

#define PKT_READ_EOF  UINT32_MAX        /* read eof */
#define PKT_READ_NONE (UINT32_MAX - 1)  /* read none (nothing readable) */
#define PKT_READ_CLOSED (UINT32_MAX - 2) /* read closed (reset or failed) */

struct pkt_event {
    unsigned line;
    int64_t time_us;                /* from the start, resolved */
    enum pkt_kind kind;
    struct pkt_seg seg;             /* IN, OUT */
    uint32_t num;                   /* port, bytes, counter value, MTU, ICMP code, ISN */
    uint32_t addr;                  /* connect */
    bool has_seq;                   /* icmp seq N */
    uint32_t seq;
    int64_t within_us;              /* NONE */
    char name[40];                  /* state, error, counter name */
};

/* config lines (before the first event): "config NAME VALUE". */
struct pkt_config {
    uint32_t rcvbuf, sndbuf, msl_ms, challenge_acks_per_sec; /* 0: runner default */
    uint32_t keepalive_idle_ms, keepalive_intvl_ms, keepalive_probes;
};

struct pkt_script {
    struct pkt_event *ev;
    unsigned n, cap;
    struct pkt_config cfg;
    char rule[240];                 /* the first comment line, without "// " */
};

/* Parses a whole script. true, and *sc filled (free with
 * pkt_script_free); false with err holding "line N: what is wrong" and
 * nothing to free. Refuses a script without the RFC comment first, with
 * no events, or with any line it cannot read completely. */
bool pkt_parse_script(const char *text, struct pkt_script *sc, char *err, size_t errlen);
void pkt_script_free(struct pkt_script *sc);

/* Parses one segment after its direction ('<' inbound, '>' outbound):
 * "FLAGS START:END(LEN) [ack N] [win N] [<OPTS>]". false with err set. */
bool pkt_parse_seg(const char *text, char dir, struct pkt_seg *seg, char *err, size_t errlen);

/* Prints "DIR FLAGS START:END(LEN) ack N win N <OPTS>" into buf. */
void pkt_format_seg(char dir, const struct pkt_seg *seg, char *buf, size_t len);

/* True when actual (all values concrete, nops included) matches what
 * exp allows; otherwise false and why names the first differing field. */
bool pkt_seg_match(const struct pkt_seg *exp, const struct pkt_seg *actual, char *why,
                   size_t whylen);

#endif
