/* HTTP connection engine and built-in service on the sim platform:
 * keep-alive, pipelining, HEAD, Expect, chunked upload, static files with
 * conditional and range requests, hostile inputs (right status, close,
 * engine still serving), slowloris / slow body / slow reader / idle
 * deadlines on the virtual clock, the connection cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_harness.h"

#define SEC 1000000000ull

static struct bench *B;

static int setup(void **state)
{
    (void)state;
    B = malloc(sizeof *B);
    bench_init(B, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* every connection went back to the pool, every file was closed */
    assert_int_equal(B->srv.counters.conns_active, 0);
    assert_int_equal(B->fs.open_handles, 0);
    bench_fini(B);
    free(B);
    return 0;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* A fresh connection gets 200 for /healthz: the engine still serves. */
static void assert_still_serving(void)
{
    struct client *cl = client_open(B);
    assert_false(cl->closed);
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(cl->got, "\r\n\r\nok"));
    client_free(cl);
}

static void test_healthz_headers(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_string_equal(cl->got, "HTTP/1.1 200 OK\r\n"
                                 "Server: tern\r\n"
                                 "X-Content-Type-Options: nosniff\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "Content-Length: 2\r\n"
                                 "\r\n"
                                 "ok");
    assert_false(cl->closed);
    /* with wall time known, a Date header */
    B->wall_s = 784111777;
    cl->got_len = 0;
    client_sends(cl, "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    assert_non_null(strstr(cl->got, "Content-Length: 2\r\n\r\n"));
    assert_true(cl->got[cl->got_len - 1] == '\n');       /* HEAD: no body */
    assert_false(cl->closed);
    client_free(cl);
    assert_int_equal(B->srv.counters.requests, 2);
    assert_int_equal(B->srv.counters.responses_2xx, 2);
}

static void test_pipelining_in_order(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "GET /status HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    char *s1 = strstr(cl->got, "HTTP/1.1 200 OK");
    char *s2 = strstr(cl->got, "HTTP/1.1 404 Not Found");
    char *s3 = s2 ? strstr(s2, "HTTP/1.1 200 OK") : NULL;
    assert_non_null(s1);
    assert_non_null(s2);
    assert_non_null(s3);
    assert_true(s1 < s2 && s2 < s3);
    assert_int_equal(count(cl->got, "HTTP/1.1 "), 3);    /* nothing after close */
    assert_non_null(strstr(s1, "\"backend\":\"sim\""));
    assert_non_null(strstr(s1, "\"addresses\":[\"192.0.2.10\"]"));
    assert_non_null(strstr(s1, "Content-Security-Policy: default-src 'none'"));
    assert_non_null(strstr(s3, "Connection: close\r\n"));
    assert_true(cl->closed);
    client_free(cl);
}

static void test_http10(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(cl->got, "Connection: close\r\n"));
    assert_true(cl->closed);
    client_free(cl);
    cl = client_open(B);
    client_sends(cl, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_non_null(strstr(cl->got, "Connection: keep-alive\r\n"));
    assert_false(cl->closed);
    /* unknown length to a 1.0 client: close-delimited, not chunked */
    cl->got_len = 0;
    client_sends(cl, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_null(strstr(cl->got, "chunked"));
    assert_non_null(strstr(cl->got, "\r\n\r\necho:"));
    assert_true(cl->closed);
    client_free(cl);
}

static void test_chunked_upload_and_expect(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
    assert_true(strncmp(cl->got, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42) == 0);
    client_sends(cl, "5;x=y\r\nhello\r\n");
    client_sends(cl, "6\r\n world\r\n0\r\nX-T: 1\r\n\r\n");
    assert_non_null(strstr(cl->got, "Transfer-Encoding: chunked\r\n\r\n"
                                    "5\r\necho:\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    /* the connection is reusable */
    cl->got_len = 0;
    client_sends(cl, "PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    assert_non_null(strstr(cl->got, "5\r\necho:\r\n3\r\nabc\r\n0\r\n\r\n"));
    assert_false(cl->closed);
    /* a refusal before the body: 405, the body is read and dropped */
    cl->got_len = 0;
    client_sends(cl, "PUT /small.txt HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                     "Content-Length: 4\r\n\r\nwxyzGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "405 Method Not Allowed"));
    assert_non_null(strstr(cl->got, "Allow: GET, HEAD"));
    assert_non_null(strstr(cl->got, "\r\n\r\nok"));
    client_free(cl);
    assert_int_equal(B->srv.counters.continues_sent, 2);
}

static void test_body_backpressure(void **state)
{
    (void)state;
    /* a 60 KB upload echoed through a 16 KiB output buffer, read slowly */
    static char req[70000], body[60000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 23);
    int n = snprintf(req, sizeof req, "PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n",
                     sizeof body);
    memcpy(req + n, body, sizeof body);
    struct client *cl = client_open(B);
    cl->drain_max = 999;
    client_send(cl, req, (size_t)n + sizeof body);
    /* de-chunk the response body */
    char *p = strstr(cl->got, "\r\n\r\n");
    assert_non_null(p);
    p += 4;
    static char got[70000];
    size_t gl = 0;
    for (;;) {
        size_t sz = strtoul(p, &p, 16);
        p += 2;
        if (sz == 0)
            break;
        memcpy(got + gl, p, sz);
        gl += sz;
        p += sz + 2;
    }
    assert_int_equal(gl, 5 + sizeof body);
    assert_memory_equal(got, "echo:", 5);
    assert_memory_equal(got + 5, body, sizeof body);
    assert_int_equal(cl->pending_len, 0);
    client_free(cl);
}

static void test_static_files(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(cl->got, "Content-Type: text/html; charset=utf-8\r\n"));
    assert_non_null(strstr(cl->got, "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    assert_non_null(strstr(cl->got, "ETag: \"e-2ebc98a1\"\r\n"));
    assert_non_null(strstr(cl->got, "\r\n\r\n<h1>tern</h1>\n"));
    cl->got_len = 0;
    client_sends(cl, "GET /dir HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 301 Moved Permanently\r\n"));
    assert_non_null(strstr(cl->got, "Location: /dir/\r\n"));
    cl->got_len = 0;
    client_sends(cl, "GET /dir/ HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 200 OK\r\n"));
    assert_null(strstr(cl->got, "Last-Modified"));        /* mtime unknown */
    cl->got_len = 0;
    client_sends(cl, "GET /di%72/./../small.txt?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "\r\n\r\n0123456789abcdefghijklmnopqrstuvwxyz"));
    assert_non_null(strstr(cl->got, "text/plain"));
    cl->got_len = 0;
    client_sends(cl, "GET http://example/small.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 200 OK\r\n"));
    cl->got_len = 0;
    client_sends(cl, "GET /missing.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 404 Not Found\r\n"));
    /* traversal and bad escapes: 400, and the connection stays usable */
    const char *bad[] = { "/../etc/passwd", "/%2e%2e/x", "/a%2fb", "/a%00", "/a%5c..%5cb",
                          "/a%zz" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", bad[i]);
        cl->got_len = 0;
        client_sends(cl, req);
        assert_non_null(strstr(cl->got, "HTTP/1.1 400 Bad Request\r\n"));
        assert_false(cl->closed);
    }
    client_free(cl);
}

static void test_big_file_streams_through_small_reads(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    cl->drain_max = 777;                  /* the peer reads slowly */
    client_sends(cl, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    char *body = strstr(cl->got, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(cl->got, "Content-Length: 100000\r\n"));
    body += 4;
    assert_true(cl->got_len - (size_t)(body - cl->got) >= BIG_SIZE);
    assert_memory_equal(body, B->big, BIG_SIZE);
    assert_non_null(strstr(body + BIG_SIZE, "HTTP/1.1 200 OK"));  /* then the pipelined one */
    client_free(cl);
}

/* A peer that takes 100 bytes at a time: the file body is refilled in
 * batches of at least a quarter of the output buffer, not once per drain
 * (each refill may move all queued bytes to the buffer's front). */
static void test_slow_reader_refills_in_batches(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    cl->drain_max = 100;
    unsigned reads_before = B->fs.reads;
    client_sends(cl, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    char *body = strstr(cl->got, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_int_equal(cl->got_len - (size_t)(body - cl->got), BIG_SIZE);
    assert_memory_equal(body, B->big, BIG_SIZE);
    unsigned reads = B->fs.reads - reads_before;
    assert_true(reads <= BIG_SIZE / (TERN_HTTP_OUT_MAX / 4) + 4);
    client_free(cl);
}

/* No file handle free: 503 with Retry-After, the connection kept; a read
 * error stays 500. */
static void test_file_source_busy_is_503(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    B->fs.fail_opens = TERN_EBUSY;
    client_sends(cl, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(cl->got, "Retry-After: 1\r\n"));
    assert_false(cl->closed);
    cl->got_len = 0;
    B->fs.fail_opens = TERN_EIO;
    client_sends(cl, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 500 Internal Server Error\r\n"));
    B->fs.fail_opens = TERN_OK;
    client_free(cl);
}

static void test_conditional_and_ranges(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    struct {
        const char *fields;
        const char *want;
        const char *body;
    } cases[] = {
        { "If-None-Match: \"24-2ebc98a1\"\r\n", "HTTP/1.1 304 Not Modified", NULL },
        { "If-None-Match: \"x\", W/\"24-2ebc98a1\"\r\n", "HTTP/1.1 304 Not Modified", NULL },
        { "If-None-Match: *\r\n", "HTTP/1.1 304", NULL },
        { "If-None-Match: \"other\"\r\n", "HTTP/1.1 200 OK", "0123456789" },
        { "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "HTTP/1.1 304", NULL },
        { "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n", "HTTP/1.1 200", "0123" },
        { "If-Modified-Since: garbage\r\n", "HTTP/1.1 200", "0123" },
        /* If-None-Match wins over If-Modified-Since */
        { "If-None-Match: \"other\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
          "HTTP/1.1 200", "0123" },
        { "Range: bytes=10-19\r\n", "HTTP/1.1 206 Partial Content", "abcdefghij" },
        { "Range: bytes=30-\r\n", "Content-Range: bytes 30-35/36", "uvwxyz" },
        { "Range: bytes=-3\r\n", "Content-Range: bytes 33-35/36", "xyz" },
        { "Range: bytes=-100\r\n", "Content-Range: bytes 0-35/36", "0123" },
        { "Range: bytes=0-999\r\n", "Content-Range: bytes 0-35/36", "0123" },
        { "Range: bytes=36-\r\n", "HTTP/1.1 416 Range Not Satisfiable", NULL },
        { "Range: bytes=0-1,5-6\r\n", "HTTP/1.1 200 OK", "0123456789" },   /* multi: all */
        { "Range: bytes=5-2\r\n", "HTTP/1.1 200 OK", "0123456789" },      /* invalid: ignored */
        { "Range: lines=1-2\r\n", "HTTP/1.1 200 OK", "0123456789" },
        { "Range: bytes=10-19\r\nIf-Range: \"24-2ebc98a1\"\r\n", "HTTP/1.1 206", "abcdefghij" },
        { "Range: bytes=10-19\r\nIf-Range: \"stale\"\r\n", "HTTP/1.1 200", "0123456789" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "GET /small.txt HTTP/1.1\r\nHost: a\r\n%s\r\n",
                 cases[i].fields);
        cl->got_len = 0;
        cl->got[0] = '\0';
        client_sends(cl, req);
        if (!strstr(cl->got, cases[i].want) ||
            (cases[i].body && !strstr(cl->got, cases[i].body))) {
            print_error("case %zu: %s\n got: %s\n", i, cases[i].fields, cl->got);
            fail();
        }
        if (!cases[i].body) {
            const char *end = strstr(cl->got, "\r\n\r\n");
            assert_non_null(end);
            assert_int_equal(end + 4 - cl->got, (long)cl->got_len);  /* no body */
        }
        assert_false(cl->closed);
    }
    client_free(cl);
}

static void test_hostile_inputs(void **state)
{
    (void)state;
    static char long_line[9000], many[9000], big_field[10000];
    size_t n = (size_t)snprintf(long_line, sizeof long_line, "GET /");
    memset(long_line + n, 'a', 8500);
    strcpy(long_line + n + 8500, " HTTP/1.1\r\nHost: a\r\n\r\n");
    n = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "X-%d: %d\r\n", i, i);
    strcpy(many + n, "\r\n");
    n = (size_t)snprintf(big_field, sizeof big_field, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(big_field + n, 'x', 9000);
    strcpy(big_field + n + 9000, "\r\n\r\n");
    struct {
        const char *in;
        size_t len;
        const char *status;
    } cases[] = {
        { "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0\r\n\r\n", 0, "400" },
        { "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 0,
          "400" },
        { "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
          0, "400" },
        /* /echo answers at once, but nothing of it has left when the bad
         * chunk size arrives in the same input: it is replaced by 400 */
        { "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, "400" },
        { "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", 0, "400" },
        { "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 0, "400" },
        { "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 0, "400" },
        { "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 33, "400" },
        { "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 0, "400" },
        { long_line, 0, "414" },
        { many, 0, "431" },
        { big_field, 0, "431" },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 0, "413" },
        { "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, "505" },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, "501" },
        { "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11, "400" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct client *cl = client_open(B);
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        client_send(cl, cases[i].in, len);
        char want[32];
        snprintf(want, sizeof want, "HTTP/1.1 %s ", cases[i].status);
        if (strncmp(cl->got, want, strlen(want)) != 0 || !cl->closed) {
            print_error("case %zu: want %s and close, got (closed=%d): %.200s\n", i,
                        cases[i].status, cl->closed, cl->got);
            fail();
        }
        assert_non_null(strstr(cl->got, "Connection: close\r\n"));
        assert_int_equal(count(cl->got, "HTTP/1.1 "), 1);   /* the refusal alone */
        client_free(cl);
        assert_still_serving();
    }
    assert_int_equal(B->srv.counters.bad_request_400, 10);   /* 8 + 2 bad chunk sizes */
    assert_int_equal(B->srv.counters.responses_2xx, 16);     /* assert_still_serving's */
    assert_int_equal(B->srv.counters.uri_too_long_414, 1);
    assert_int_equal(B->srv.counters.fields_too_large_431, 2);
    assert_int_equal(B->srv.counters.too_large_413, 1);
    assert_int_equal(B->srv.counters.version_505, 1);
    assert_int_equal(B->srv.counters.not_implemented_501, 1);
}

/* Malformed chunked bodies to routes that do not read the body (a file
 * that is GET-only, /healthz, an unknown path) are answered 400 (413 over
 * the limit), never 405 or 404: the route's answer is held back until
 * the body's framing has been read, whatever the split of the input. The
 * connection closes after the 400 as after every other framing error. */
static void test_bad_chunks_400_whatever_the_route(void **state)
{
    (void)state;
    /* /nope twice: to the file route (405) and, without it, to no route (404) */
    static const struct {
        const char *path;
        size_t nroutes;
    } paths[] = { { "/small.txt", 4 }, { "/healthz", 4 }, { "/", 4 }, { "/nope", 4 },
                  { "/nope", 3 } };
    static const struct {
        const char *body;
        const char *status;
    } bodies[] = {
        { "zz\r\n", "400" },                     /* no hex digits */
        { "-5\r\n", "400" },                     /* a sign */
        { "0x5\r\nhello\r\n0\r\n\r\n", "400" },  /* a 0x prefix */
        { "5\r\nhello\r\n0\r\nX: 1\nY: 2\r\n\r\n", "400" },  /* bare LF in a trailer */
        { "1000000000000000\r\n", "400" },       /* 16 hex digits */
        { "5\r\nhelloXX0\r\n\r\n", "400" },      /* data not followed by CRLF */
        { "5;a\x01\r\nhello\r\n0\r\n\r\n", "400" },  /* control byte in an extension */
        { "200000\r\n", "413" },                 /* 2 MiB chunk: over the 1 MiB limit */
    };
    uint64_t r4xx = B->srv.counters.responses_4xx, r400 = B->srv.counters.bad_request_400;
    unsigned n4xx = 0, n400 = 0;
    for (size_t pi = 0; pi < sizeof paths / sizeof paths[0]; pi++) {
        B->srv.nroutes = paths[pi].nroutes;
        for (size_t bi = 0; bi < sizeof bodies / sizeof bodies[0]; bi++) {
            char req[512];
            int hl = snprintf(req, sizeof req,
                              "POST %s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                              paths[pi].path);
            int n = hl + snprintf(req + hl, sizeof req - (size_t)hl, "%s", bodies[bi].body);
            /* every split: head and body apart, or a body cut anywhere */
            for (int cut = 1; cut < n; cut++) {
                char want[32];
                snprintf(want, sizeof want, "HTTP/1.1 %s ", bodies[bi].status);
                struct client *cl = client_open(B);
                client_send(cl, req, (size_t)cut);
                /* the head is in: nothing out but the refusal itself */
                if (cl->got_len != 0 && strncmp(cl->got, want, strlen(want)) != 0) {
                    print_error("%s, body %zu, cut %d: early output: %.300s\n", paths[pi].path, bi,
                                cut, cl->got);
                    fail();
                }
                client_send(cl, req + cut, (size_t)(n - cut));
                if (strncmp(cl->got, want, strlen(want)) != 0 || !cl->closed ||
                    count(cl->got, "HTTP/1.1 ") != 1 ||
                    !strstr(cl->got, "Connection: close\r\n")) {
                    print_error("%s, body %zu, cut %d: want one %s and a close, got "
                                "(closed=%d): %.300s\n", paths[pi].path, bi, cut, bodies[bi].status,
                                cl->closed, cl->got);
                    fail();
                }
                n4xx++;
                n400 += strcmp(bodies[bi].status, "400") == 0;
                client_free(cl);
            }
        }
    }
    B->srv.nroutes = 4;
    /* each exchange counted once: the held 405/404/200 taken back */
    assert_int_equal(B->srv.counters.responses_4xx - r4xx, n4xx);
    assert_int_equal(B->srv.counters.bad_request_400 - r400, n400);
    assert_still_serving();
}

/* The held answer: a sound chunked body to a GET-only path gets its 405
 * only after the last chunk, "100 Continue" still goes at once, and the
 * connection stays usable; with Connection: close the body is read to its
 * end (and checked) before the 405 and the close. */
static void test_held_answer_after_sound_chunks(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "POST /small.txt HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
    assert_string_equal(cl->got, "HTTP/1.1 100 Continue\r\n\r\n");
    client_sends(cl, "5\r\nhello\r\n");
    assert_string_equal(cl->got, "HTTP/1.1 100 Continue\r\n\r\n");   /* still held */
    client_sends(cl, "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    char *a = strstr(cl->got, "HTTP/1.1 405 Method Not Allowed\r\n");
    assert_non_null(a);
    assert_non_null(strstr(a, "\r\n\r\nok"));
    assert_false(cl->closed);
    client_free(cl);

    B->srv.nroutes = 3;                     /* no file route: /nope is 404 */
    cl = client_open(B);
    client_sends(cl, "POST /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    assert_int_equal(cl->got_len, 0);
    assert_false(cl->closed);
    client_sends(cl, "0\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 404 Not Found\r\n"));
    assert_true(cl->closed);
    client_free(cl);

    cl = client_open(B);
    client_sends(cl, "POST /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nxyz\r\n");
    assert_true(strncmp(cl->got, "HTTP/1.1 400 ", 13) == 0);
    assert_int_equal(count(cl->got, "HTTP/1.1 "), 1);
    assert_true(cl->closed);
    client_free(cl);
    B->srv.nroutes = 4;

    /* a stalled chunked body: 408 replaces the held 405 (no send deadline
     * runs for a held answer) */
    cl = client_open(B);
    client_sends(cl, "POST /small.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nab");
    assert_int_equal(cl->got_len, 0);
    bench_advance(B, 31 * SEC);
    client_pump(cl);
    assert_true(strncmp(cl->got, "HTTP/1.1 408 ", 13) == 0);
    assert_int_equal(count(cl->got, "HTTP/1.1 "), 1);
    assert_true(cl->closed);
    client_free(cl);

    /* A route that reads the body streams: once its answer has partly
     * left, a bad chunk size can only end the connection. */
    cl = client_open(B);
    client_sends(cl, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_non_null(strstr(cl->got, "HTTP/1.1 200 OK\r\n"));
    client_sends(cl, "zz\r\n");
    assert_null(strstr(cl->got, "HTTP/1.1 400"));
    assert_true(cl->closed);
    client_free(cl);
    assert_still_serving();
}

static void test_slowloris_header_deadline(void **state)
{
    (void)state;
    struct client *slow = client_open(B);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\n";
    /* one byte a second: the header deadline (10 s) is not extended */
    for (size_t i = 0; i < strlen(req) && !slow->closed; i++) {
        client_send(slow, req + i, 1);
        bench_advance(B, SEC);
        client_pump(slow);
        if (i == 5)
            assert_still_serving();       /* others are not blocked */
    }
    assert_true(slow->closed);
    assert_true(strncmp(slow->got, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    assert_true(B->sim.now_ns >= 10 * SEC && B->sim.now_ns <= 11 * SEC + B->sim.now_ns % SEC);
    assert_true(slow->wakes > 0);
    client_free(slow);
    assert_int_equal(B->srv.counters.timeout_408, 1);
}

/* The connection timer is moved only earlier while requests come and go
 * (it fires early and is set again): a slow head on a connection that
 * already served requests still gets 408 10 s after its first byte. */
static void test_header_deadline_after_keepalive(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    for (int i = 0; i < 3; i++) {
        cl->got_len = 0;
        client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_non_null(strstr(cl->got, "200 OK"));
        bench_advance(B, SEC);
    }
    bench_advance(B, 4 * SEC);                  /* t = 7 s */
    uint64_t start = B->sim.now_ns;
    cl->got_len = 0;
    cl->got[0] = '\0';
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHo");
    while (!cl->closed && B->sim.now_ns < start + 20 * SEC) {
        bench_advance(B, SEC / 2);
        client_pump(cl);
    }
    assert_true(cl->closed);
    assert_true(strncmp(cl->got, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    assert_true(B->sim.now_ns >= start + 10 * SEC && B->sim.now_ns <= start + 11 * SEC);
    client_free(cl);

    /* and an idle keep-alive connection still closes 60 s after its last
     * response, however early its timer fired meanwhile */
    struct client *idle = client_open(B);
    client_sends(idle, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    start = B->sim.now_ns;
    while (!idle->closed && B->sim.now_ns < start + 70 * SEC) {
        bench_advance(B, SEC / 2);
        client_pump(idle);
    }
    assert_true(idle->closed);
    assert_true(B->sim.now_ns >= start + 60 * SEC && B->sim.now_ns <= start + 61 * SEC);
    client_free(idle);
}

/* Access lines: into the log ring at once (tern_log's record format), and
 * to the console (when it takes info) in one write per loop turn. */
static void test_access_log_ring_and_console_batch(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    client_sends(cl, "GET /nope?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    uint64_t cur = 0;                          /* the sim clock starts at 1 s */
    char line[TERN_LOG_LINE_MAX + 1];
    enum tern_log_level lv;
    bool seen_ok = false, seen_404 = false;
    while (tern_log_ring_read(&B->os.log, &cur, line, sizeof line, &lv, NULL) == TERN_OK) {
        if (strcmp(line, "[1.000] info http: GET /healthz 200 2") == 0 && lv == TERN_LOG_INFO)
            seen_ok = true;
        if (strcmp(line, "[1.000] info http: GET /nope 404 10") == 0)
            seen_404 = true;
    }
    assert_true(seen_ok);
    assert_true(seen_404);
    assert_false(sim_console_has(&B->sim, "info http:"));   /* console at warn */

    B->os.cfg.console_level = TERN_LOG_INFO;
    bench_advance(B, 1500 * 1000000ull);
    for (int i = 0; i < 3; i++)
        client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_false(sim_console_has(&B->sim, "info http:"));   /* batched ... */
    bench_advance(B, 0);                                       /* ... until the loop turns */
    assert_int_equal(count(B->sim.console, "[2.500] info http: GET /healthz 200 2\n"), 3);
    /* a long path is cut like any log record, never overflows */
    static char req[2048];
    int n = snprintf(req, sizeof req, "GET /");
    memset(req + n, 'p', 600);
    snprintf(req + n + 600, sizeof req - (size_t)n - 600, " HTTP/1.1\r\nHost: a\r\n\r\n");
    client_sends(cl, req);
    bench_advance(B, 0);
    cur = B->os.log.next_seq - 1;
    assert_int_equal(tern_log_ring_read(&B->os.log, &cur, line, sizeof line, NULL, NULL), TERN_OK);
    assert_int_equal(strlen(line), TERN_LOG_LINE_MAX);
    assert_true(strncmp(line, "[2.500] info http: GET /ppp", 27) == 0);
    client_free(cl);
}

static int header_results[10];

static void header_route(struct tern_http_conn *c, const struct tern_http_request *req, void *arg)
{
    (void)req;
    (void)arg;
    int k = 0;
    tern_http_resp_begin(c, 200);
    header_results[k++] = tern_http_resp_header(c, "X-A", "b\r\nInjected: 1");
    header_results[k++] = tern_http_resp_header(c, "X\nB", "v");
    header_results[k++] = tern_http_resp_header(c, "Content-Length", "5");
    header_results[k++] = tern_http_resp_header(c, "TRANSFER-ENCODING", "chunked");
    header_results[k++] = tern_http_resp_header(c, "connection", "close");
    header_results[k++] = tern_http_resp_header(c, "", "v");
    header_results[k++] = tern_http_resp_header(c, "Connectionx", "y");
    header_results[k++] = tern_http_resp_header(c, "X-Empty", "");
    tern_http_resp_body(c, 0);
    header_results[k++] = tern_http_resp_header(c, "X-Late", "1");
    tern_http_resp_end(c);
}

/* Handler header fields: CR/LF anywhere and the engine's framing fields
 * (any case) are refused, everything else goes out as "name: value". */
static void test_resp_header_refusals(void **state)
{
    (void)state;
    B->routes[0] = (struct tern_http_route){ "/h", true, header_route, NULL };
    struct client *cl = client_open(B);
    client_sends(cl, "GET /h HTTP/1.1\r\nHost: a\r\n\r\n");
    static const int want[] = { TERN_EINVAL, TERN_EINVAL, TERN_EINVAL, TERN_EINVAL,
                                TERN_EINVAL, TERN_EINVAL, TERN_OK, TERN_OK, TERN_EINVAL };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(header_results[i], want[i]);
    assert_non_null(strstr(cl->got, "\r\nConnectionx: y\r\nX-Empty: \r\nContent-Length: 0\r\n\r\n"));
    assert_null(strstr(cl->got, "Injected"));
    assert_int_equal(count(cl->got, "Content-Length"), 1);
    client_free(cl);
}

static int reserve_results[8];

static void reserve_route(struct tern_http_conn *c, const struct tern_http_request *req,
                          void *arg)
{
    (void)arg;
    uint8_t *buf;
    size_t room;
    int k = 0;
    tern_http_resp_begin(c, 200);
    reserve_results[k++] = tern_http_resp_reserve(c, &buf, &room);    /* head open */
    bool chunked = strcmp(req->query, "chunked") == 0;
    tern_http_resp_body(c, chunked ? -1 : 10);
    reserve_results[k++] = tern_http_resp_reserve(c, &buf, &room);
    if (reserve_results[k - 1] == TERN_OK) {
        reserve_results[k++] = room == (req->head_only ? 0 : 10) ? TERN_OK : TERN_EIO;
        memcpy(buf, "0123456789", 4);
        reserve_results[k++] = tern_http_resp_commit(c, 4);
        reserve_results[k++] = tern_http_resp_commit(c, 7);            /* past the length */
        tern_http_resp_reserve(c, &buf, &room);
        reserve_results[k++] = room == 6 ? TERN_OK : TERN_EIO;
        memcpy(buf, "456789", 6);
        reserve_results[k++] = tern_http_resp_commit(c, 6);
    } else {
        size_t w;
        tern_http_resp_write(c, "0123456789", 10, &w);
    }
    tern_http_resp_end(c);
}

/* In-place body writes: only for a Content-Length body that is sent,
 * never past the length; the bytes arrive as written. */
static void test_resp_reserve_commit(void **state)
{
    (void)state;
    B->routes[0] = (struct tern_http_route){ "/r", true, reserve_route, NULL };
    struct client *cl = client_open(B);
    client_sends(cl, "GET /r HTTP/1.1\r\nHost: a\r\n\r\n");
    static const int want[] = { TERN_EINVAL, TERN_OK, TERN_OK, TERN_OK,
                                TERN_EINVAL, TERN_OK, TERN_OK };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(reserve_results[i], want[i]);
    assert_non_null(strstr(cl->got, "Content-Length: 10\r\n\r\n0123456789"));
    assert_false(cl->closed);
    cl->got_len = 0;
    client_sends(cl, "GET /r?chunked HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(reserve_results[1], TERN_EINVAL);             /* chunked */
    assert_non_null(strstr(cl->got, "\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"));
    cl->got_len = 0;
    client_sends(cl, "HEAD /r HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(reserve_results[1], TERN_EINVAL);             /* HEAD: nothing sent */
    assert_true(cl->got_len > 4 && strcmp(cl->got + cl->got_len - 4, "\r\n\r\n") == 0);
    client_free(cl);
}

/* The Date line is kept per second and follows the wall clock. */
static void test_date_follows_wall_clock(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    B->wall_s = 784111777;
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    cl->got_len = 0;
    B->wall_s++;
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cl->got, "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n"));
    cl->got_len = 0;
    B->wall_s = 0;                             /* wall time lost: no Date */
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_null(strstr(cl->got, "Date:"));
    client_free(cl);
}

static void test_slow_body_and_idle(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    bench_advance(B, 29 * SEC);
    client_sends(cl, "d");                 /* progress extends the body deadline */
    bench_advance(B, 29 * SEC);
    client_pump(cl);
    assert_false(cl->closed);
    bench_advance(B, 2 * SEC);
    client_pump(cl);
    assert_true(cl->closed);                /* the response had started: just close */
    client_free(cl);

    struct client *nb = client_open(B);
    client_sends(nb, "POST /nothing HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    assert_non_null(strstr(nb->got, "405"));   /* answered at once, body still owed */
    bench_advance(B, 31 * SEC);
    client_pump(nb);
    assert_true(nb->closed);
    client_free(nb);

    /* idle keep-alive connections close silently after 60 s */
    struct client *idle = client_open(B);
    client_sends(idle, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    size_t before = idle->got_len;
    bench_advance(B, 59 * SEC);
    client_pump(idle);
    assert_false(idle->closed);
    bench_advance(B, 2 * SEC);
    client_pump(idle);
    assert_true(idle->closed);
    assert_int_equal(idle->got_len, before);
    client_free(idle);
    assert_int_equal(B->srv.counters.idle_closes, 1);
}

static void test_slow_reader_is_dropped(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    /* the peer never reads: the bytes stay in the engine */
    const char *req = "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(tern_http_conn_input(cl->c, (const uint8_t *)req, strlen(req)),
                     strlen(req));
    const uint8_t *out;
    size_t len;
    tern_http_conn_output(cl->c, &out, &len);
    assert_true(len > 0);
    assert_int_equal(B->fs.open_handles, 1);
    bench_advance(B, 29 * SEC);
    assert_false(tern_http_conn_should_close(cl->c));
    assert_still_serving();
    bench_advance(B, 2 * SEC);
    assert_true(tern_http_conn_should_close(cl->c));
    assert_int_equal(B->fs.open_handles, 0);   /* the file was released */
    tern_http_conn_close(cl->c);
    cl->closed = true;
    client_free(cl);
    assert_int_equal(B->srv.counters.send_timeouts, 1);
}

static void test_connection_cap(void **state)
{
    (void)state;
    struct client *cls[BENCH_POOL];
    for (int i = 0; i < BENCH_POOL; i++) {
        cls[i] = client_open(B);
        assert_false(cls[i]->closed);
    }
    struct client *extra = client_open(B);
    assert_true(extra->closed);
    assert_int_equal(B->srv.counters.conns_refused_full, 1);
    client_free(extra);
    client_free(cls[0]);
    assert_still_serving();
    for (int i = 1; i < BENCH_POOL; i++)
        client_free(cls[i]);
}

/* The pool may be uninitialised memory (the metal backend takes it from
 * the heap): garbage in it changes nothing, connections are prepared in
 * order as opens first need them, and an unused one is never written. */
static void test_pool_may_be_uninitialised(void **state)
{
    (void)state;
    struct tern_http_config cfg = B->srv.cfg;
    memset(B->pool, 0xa5, sizeof B->pool);
    assert_int_equal(tern_http_server_init(&B->srv, &B->os, &cfg, B->pool, BENCH_POOL,
                                           B->routes, 4),
                     TERN_OK);
    assert_int_equal(B->srv.pool_ready, 0);
    assert_false(tern_http_server_evict(&B->srv)); /* nothing prepared: nothing to evict */
    struct client *a = client_open(B);
    assert_false(a->closed);
    assert_int_equal(B->srv.pool_ready, 1);
    const uint8_t *untouched = (const uint8_t *)&B->pool[1];
    for (size_t i = 0; i < sizeof B->pool[1]; i++)
        assert_int_equal(untouched[i], 0xa5);
    client_sends(a, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(a->got, "\r\n\r\nok"));
    client_free(a);
    /* a freed connection is reused before a new one is prepared */
    a = client_open(B);
    assert_int_equal(B->srv.pool_ready, 1);
    /* the cap still holds once every connection was prepared */
    struct client *cls[BENCH_POOL - 1];
    for (int i = 0; i < BENCH_POOL - 1; i++) {
        cls[i] = client_open(B);
        assert_false(cls[i]->closed);
    }
    assert_int_equal(B->srv.pool_ready, BENCH_POOL);
    struct client *extra = client_open(B);
    assert_true(extra->closed);
    client_free(extra);
    client_sends(cls[BENCH_POOL - 2], "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cls[BENCH_POOL - 2]->got, "\r\n\r\nok"));
    assert_true(tern_http_server_evict(&B->srv)); /* the idle one after its response */
    client_pump(cls[BENCH_POOL - 2]);
    assert_true(cls[BENCH_POOL - 2]->closed);
    client_free(a);
    for (int i = 0; i < BENCH_POOL - 1; i++)
        client_free(cls[i]);
    assert_still_serving();
}

static void test_eviction_when_full(void **state)
{
    (void)state;
    struct client *cls[BENCH_POOL];
    for (int i = 0; i < BENCH_POOL; i++) {
        cls[i] = client_open(B);
        client_sends(cls[i], "GET /heal");        /* slow heads */
        bench_advance(B, SEC / 10);
    }
    /* one finished a request and waits idle: it goes first */
    client_sends(cls[2], "thz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_non_null(strstr(cls[2]->got, "\r\n\r\nok"));
    assert_true(tern_http_server_evict(&B->srv));
    client_pump(cls[2]);
    assert_true(cls[2]->closed);
    assert_true(cls[2]->wakes > 0);
    /* then the oldest slow head */
    assert_true(tern_http_server_evict(&B->srv));
    client_pump(cls[0]);
    assert_true(cls[0]->closed);
    for (int i = 1; i < BENCH_POOL; i++)
        if (i != 2)
            assert_false(cls[i]->closed);
    assert_int_equal(B->srv.counters.evictions, 2);
    assert_still_serving();
    for (int i = 0; i < BENCH_POOL; i++)
        client_free(cls[i]);

    /* connections being answered are never evicted */
    for (int i = 0; i < BENCH_POOL; i++) {
        cls[i] = client_open(B);
        const char *req = "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_int_equal(tern_http_conn_input(cls[i]->c, (const uint8_t *)req, strlen(req)),
                         strlen(req));
    }
    assert_false(tern_http_server_evict(&B->srv));
    for (int i = 0; i < BENCH_POOL; i++)
        client_free(cls[i]);
}

/* A full pool of slow readers: a response whose output has not drained
 * for stall_evict_ns (2 s) may go, the longest stalled first; one that
 * drained lately stays. */
static void test_eviction_of_stalled_slow_readers(void **state)
{
    (void)state;
    struct client *cls[BENCH_POOL];
    const char *req = "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n";
    for (int i = 0; i < BENCH_POOL; i++) {
        cls[i] = client_open(B);
        assert_int_equal(tern_http_conn_input(cls[i]->c, (const uint8_t *)req, strlen(req)),
                         strlen(req));
        bench_advance(B, SEC / 10);
    }
    /* a second later, client 1 reads a little */
    bench_advance(B, SEC);
    const uint8_t *out;
    size_t len;
    tern_http_conn_output(cls[1]->c, &out, &len);
    assert_true(len > 100);
    tern_http_conn_output_done(cls[1]->c, 100);
    bench_advance(B, SEC / 2);
    assert_false(tern_http_server_evict(&B->srv)); /* nobody stalled 2 s yet */
    bench_advance(B, SEC / 2);
    /* 2.1-2.4 s since the others drained: the oldest first */
    int order[] = { 0, 2, 3 };
    for (int k = 0; k < 3; k++) {
        int wakes = (int)cls[order[k]]->wakes;
        assert_true(tern_http_server_evict(&B->srv));
        assert_true(cls[order[k]]->c->aborted);
        assert_true(tern_http_conn_should_close(cls[order[k]]->c));
        assert_true((int)cls[order[k]]->wakes > wakes);
        for (int j = k + 1; j < 3; j++)
            assert_false(cls[order[j]]->c->aborted);
        assert_false(cls[1]->c->aborted);
    }
    /* client 1 drained 1 s ago: it stays */
    assert_false(tern_http_server_evict(&B->srv));
    assert_int_equal(B->srv.counters.evictions, 3);
    for (int i = 0; i < BENCH_POOL; i++)
        client_free(cls[i]);
    assert_still_serving();
}

/* A route that answers later, from outside the engine's input (as a
 * request handed to an app's worker thread is). Its writes do not wake
 * the transport (it must never run in the middle of a write); its flush
 * does, once the writable callback is set, and the drain then calls the
 * callback for the rest of a body larger than the output buffer. */
static struct tern_http_conn *late_conn;
static size_t late_off;

static void late_route(struct tern_http_conn *c, const struct tern_http_request *req, void *arg)
{
    (void)req, (void)arg;
    late_conn = c;                       /* answered by the test, later */
}

static void late_writable(struct tern_http_conn *c, void *arg)
{
    (void)arg;
    size_t w = 0;
    tern_http_resp_write(c, B->big + late_off, 3 * TERN_HTTP_OUT_MAX - late_off, &w);
    late_off += w;
    if (late_off == 3 * TERN_HTTP_OUT_MAX)
        tern_http_resp_end(c);
}

static void test_late_answer_flush(void **state)
{
    (void)state;
    struct tern_http_route saved = B->routes[0];
    B->routes[0] = (struct tern_http_route){ "/late", true, late_route, NULL };
    struct client *cl = client_open(B);
    client_sends(cl, "GET /late HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(cl->got_len, 0);
    bench_advance(B, 100 * SEC);         /* no deadline runs while the answer is due */
    assert_false(cl->closed);
    int wakes = cl->wakes;
    assert_int_equal(tern_http_resp_begin(late_conn, 200), TERN_OK);
    assert_int_equal(tern_http_resp_body(late_conn, 3 * TERN_HTTP_OUT_MAX), TERN_OK);
    late_off = 0;
    assert_int_equal(tern_http_resp_write(late_conn, B->big, 3 * TERN_HTTP_OUT_MAX, &late_off),
                     TERN_OK);
    assert_true(late_off > 0 && late_off < TERN_HTTP_OUT_MAX);   /* the buffer is full */
    assert_int_equal(cl->wakes, wakes);                          /* a write does not wake */
    tern_http_set_writable(late_conn, late_writable, NULL);
    tern_http_resp_flush(late_conn);
    assert_int_equal(cl->wakes, wakes + 1);
    client_pump(cl);                     /* what the woken transport does: drain it all */
    const char *body = strstr(cl->got, "\r\n\r\n");
    assert_non_null(body);
    assert_int_equal(cl->got_len - (size_t)(body + 4 - cl->got), 3 * TERN_HTTP_OUT_MAX);
    assert_memory_equal(body + 4, B->big, 3 * TERN_HTTP_OUT_MAX);
    wakes = cl->wakes;
    tern_http_resp_flush(late_conn);     /* ended: nothing to tell */
    assert_int_equal(cl->wakes, wakes);
    client_free(cl);
    B->routes[0] = saved;
}

static void test_peer_half_close(void **state)
{
    (void)state;
    struct client *cl = client_open(B);
    client_sends(cl, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    tern_http_conn_input_closed(cl->c);
    client_pump(cl);
    assert_true(cl->closed);
    client_free(cl);
    cl = client_open(B);
    client_sends(cl, "GET /heal");
    tern_http_conn_input_closed(cl->c);
    client_pump(cl);
    assert_true(cl->closed);
    assert_int_equal(cl->got_len, 0);
    client_free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_may_be_uninitialised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelining_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_upload_and_expect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_file_streams_through_small_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_refills_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_source_busy_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditional_and_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_chunks_400_whatever_the_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_answer_after_sound_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slowloris_header_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_deadline_after_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_log_ring_and_console_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_date_follows_wall_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_header_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_reserve_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_body_and_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_of_stalled_slow_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_answer_flush, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
