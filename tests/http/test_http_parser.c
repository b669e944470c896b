/* HTTP request parser: known answers (valid requests, pipelining,
 * chunked bodies with extensions and trailers) and every hostile input of
 * shared/testing.md, each fed whole, byte by byte and split at every
 * offset; plus path decoding and HTTP dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_transcript.h"
#include "tern/http.h"

struct kat {
    const char *name;
    const char *in;
    const char *want;
};

static const struct kat kats[] = {
    { "simple GET", "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
      "HEAD GET /healthz 1.1 ka=1\n Host=[a]\nDONE\n" },
    { "OWS trimmed, empty value, obs-text",
      "GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v v \t\r\nX-B:\r\nX-C: \xe9t\xe9\r\n\r\n",
      "HEAD GET / 1.1 ka=1\n Host=[a]\n X-A=[v v]\n X-B=[]\n X-C=[\xe9t\xe9]\nDONE\n" },
    { "leading empty line ignored", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "HEAD GET / 1.1 ka=1\n Host=[a]\nDONE\n" },
    { "HTTP/1.0 default close", "GET / HTTP/1.0\r\n\r\n", "HEAD GET / 1.0 ka=0\nDONE\n" },
    { "HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
      "HEAD GET / 1.0 ka=1\n Connection=[Keep-Alive]\nDONE\n" },
    { "Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
      "HEAD GET / 1.1 ka=0\n Host=[a]\n Connection=[foo, close]\nDONE\n" },
    { "Content-Length body",
      "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
      "HEAD POST /u 1.1 ka=1\n Host=[a]\n Content-Length=[5]\nBODY hello\nDONE\n" },
    { "pipelined, body then GET",
      "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: "
      "a\r\n\r\n",
      "HEAD POST /u 1.1 ka=1\n Host=[a]\n Content-Length=[3]\nBODY abc\nDONE\n"
      "HEAD GET /b 1.1 ka=1\n Host=[a]\nDONE\n" },
    { "chunked with extensions and trailers",
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=\"v;x\"\r\nhello\r\n6 ; a=b\r\n world\r\nA\r\n0123456789\r\n0\r\n"
      "X-Sum: 1\r\nX-T: 2\r\n\r\n",
      "HEAD POST /c 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\n"
      "BODY hello world0123456789\nDONE\n" },
    { "chunked, upper-case hex, no trailer, pipelined",
      "PUT /c HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n"
      "1F\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "HEAD PUT /c 1.1 ka=1\n Host=[a]\n transfer-encoding=[Chunked]\n"
      "BODY 0123456789abcdef0123456789abcde\nDONE\nHEAD GET / 1.1 ka=1\n Host=[a]\nDONE\n" },
    { "expect 100-continue",
      "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
      "HEAD PUT /x 1.1 ka=1 expect\n Host=[a]\n Expect=[100-continue]\n "
      "Content-Length=[2]\nBODY hi\nDONE\n" },
    { "absolute-form and unknown method",
      "BREW http://a/pot?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
      "HEAD BREW http://a/pot?x=1 1.1 ka=1\n Host=[a]\nDONE\n" },
    { "Content-Length: 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Content-Length=[0]\nDONE\n" },

    /* ---- hostile: framing (smuggling) ---- */
    { "CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n0\r\n\r\n",
      "ERROR 400\n" },
    { "TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Length: 3\r\n\r\n",
      "ERROR 400\n" },
    { "repeated equal CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                           "Content-Length: 3\r\n\r\nabc",
      "ERROR 400\n" },
    { "differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      "Content-Length: 4\r\n\r\nabcd",
      "ERROR 400\n" },
    { "CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
      "ERROR 400\n" },
    { "CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", "ERROR 400\n" },
    { "CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", "ERROR 400\n" },
    { "CL huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "ERROR 400\n" },
    { "CL too big", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n",
      "ERROR 413\n" },
    { "TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "ERROR 400\n" },
    { "TE chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "ERROR 400\n" },
    { "TE unknown coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "ERROR 501\n" },
    { "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "ERROR 400\n" },
    { "TE with junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
      "ERROR 400\n" },
    { "chunk size no digits", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "\r\nabc\r\n0\r\n\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nERROR 400\n" },
    { "chunk size not hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "g\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nERROR 400\n" },
    { "chunk size negative", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "-1\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nERROR 400\n" },
    { "chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "10000000000000000\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nERROR 400\n" },
    { "chunk too big for body limit",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFF\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nERROR 413\n" },
    { "chunk data without CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                 "\r\n3\r\nabcX\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nBODY abc\nERROR 400\n" },
    { "chunk size bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\nabc\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nERROR 400\n" },
    { "trailer obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "0\r\nX: a\r\n b\r\n\r\n",
      "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\nERROR 400\n" },

    /* ---- hostile: bytes in the head ---- */
    { "bare LF ends a field", "GET / HTTP/1.1\nHost: a\n\n", "ERROR 400\n" },
    { "bare LF in field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", "ERROR 400\n" },
    { "bare CR in field", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "ERROR 400\n" },
    { "NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", "ERROR 400\n" },
    { "NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\0: a\r\n\r\n", "ERROR 400\n" },
    { "DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", "ERROR 400\n" },
    { "obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", "ERROR 400\n" },
    { "space before colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc",
      "ERROR 400\n" },
    { "no colon", "GET / HTTP/1.1\r\nHost: a\r\nXYZ\r\n\r\n", "ERROR 400\n" },
    { "empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", "ERROR 400\n" },
    { "missing Host", "GET / HTTP/1.1\r\n\r\n", "ERROR 400\n" },
    { "two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "ERROR 400\n" },
    { "bad request line", "GET /\r\n\r\n", "ERROR 400\n" },
    { "two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "ERROR 400\n" },
    { "lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", "ERROR 400\n" },
    { "HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "ERROR 505\n" },
    { "HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", "ERROR 400\n" },
    { "control in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "ERROR 400\n" },
    { "high byte in target", "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", "ERROR 400\n" },
    { "garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "ERROR 400\n" },
    { "too many empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", "ERROR 400\n" },
    { "unsupported expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n",
      "ERROR 417\n" },
};

static void check_all_splits(const char *name, const uint8_t *in, size_t len, const char *want,
                             const struct tern_http_limits *lim)
{
    static struct transcript t;
    static struct tern_http_parser p;
    tr_run(&t, &p, lim, in, len, len ? len : 1, 0);
    if (strcmp(t.text, want) != 0) {
        print_error("%s: whole feed\n got: [%s]\nwant: [%s]\n", name, t.text, want);
        fail();
    }
    tr_run(&t, &p, lim, in, len, 1, 0);
    if (strcmp(t.text, want) != 0) {
        print_error("%s: byte by byte\n got: [%s]\nwant: [%s]\n", name, t.text, want);
        fail();
    }
    for (size_t cut = 1; cut < len; cut++) {
        tr_run(&t, &p, lim, in, len, 0, cut);
        if (strcmp(t.text, want) != 0) {
            print_error("%s: split at %zu\n got: [%s]\nwant: [%s]\n", name, cut, t.text, want);
            fail();
        }
    }
}

static void test_known_answers_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        size_t len = strlen(kats[i].in);
        /* Inputs with an embedded NUL: count up to the marker. */
        if (strstr(kats[i].name, "NUL"))
            len = strlen(kats[i].in) + 1 + strlen(kats[i].in + strlen(kats[i].in) + 1);
        check_all_splits(kats[i].name, (const uint8_t *)kats[i].in, len, kats[i].want, NULL);
    }
}

static void test_request_line_limit_414(void **state)
{
    (void)state;
    static char in[10000];
    int n = snprintf(in, sizeof in, "GET /");
    memset(in + n, 'a', 8100);
    strcpy(in + n + 8100, " HTTP/1.1\r\nHost: a\r\n\r\n");
    check_all_splits("long target", (const uint8_t *)in, strlen(in), "ERROR 414\n", NULL);
    /* just under the limit is fine */
    struct tern_http_limits lim = { 64, 8192, 64, 100 };
    const char *ok = "GET /0123456789012345678901234567890123456789012345 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(strlen("GET /0123456789012345678901234567890123456789012345 HTTP/1.1"), 60);
    check_all_splits("60 of 64", (const uint8_t *)ok, strlen(ok),
                     "HEAD GET /0123456789012345678901234567890123456789012345 1.1 ka=1\n Host=[a]\nDONE\n",
                     &lim);
}

static void test_header_limits_431(void **state)
{
    (void)state;
    static char in[20000];
    /* too many fields */
    size_t n = (size_t)snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(in + n, sizeof in - n, "X-%d: v\r\n", i);
    n += (size_t)snprintf(in + n, sizeof in - n, "\r\n");
    check_all_splits("65 fields", (const uint8_t *)in, n, "ERROR 431\n", NULL);
    /* one huge field */
    n = (size_t)snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(in + n, 'b', 9000);
    n += 9000;
    n += (size_t)snprintf(in + n, sizeof in - n, "\r\n\r\n");
    check_all_splits("huge field", (const uint8_t *)in, n, "ERROR 431\n", NULL);
    /* a flood of fields without end stays bounded and refused */
    n = (size_t)snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\n");
    while (n < sizeof in - 16)
        n += (size_t)snprintf(in + n, sizeof in - n, "A:b\r\n");
    static struct transcript t;
    static struct tern_http_parser p;
    tr_run(&t, &p, NULL, (const uint8_t *)in, n, 7, 0);
    assert_string_equal(t.text, "ERROR 431\n");
}

static void test_body_limits_413(void **state)
{
    (void)state;
    struct tern_http_limits lim = { 8000, 8192, 64, 10 };
    const char *cl = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890";
    check_all_splits("CL 11 of 10", (const uint8_t *)cl, strlen(cl), "ERROR 413\n", &lim);
    const char *ch = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "6\r\n012345\r\n5\r\n01234\r\n0\r\n\r\n";
    check_all_splits("chunks 11 of 10", (const uint8_t *)ch, strlen(ch),
                     "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\n"
                     "BODY 012345\nERROR 413\n",
                     &lim);
    const char *ok = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "6\r\n012345\r\n4\r\n0123\r\n0\r\n\r\n";
    check_all_splits("chunks 10 of 10", (const uint8_t *)ok, strlen(ok),
                     "HEAD POST / 1.1 ka=1\n Host=[a]\n Transfer-Encoding=[chunked]\n"
                     "BODY 0123450123\nDONE\n",
                     &lim);
}

/* The head scanner takes runs of plain bytes eight at a time: every
 * refused byte must still be found wherever it sits in a word, and the
 * bytes next to the ones it looks for (space, '~', obs-text) must pass. */
static void test_fast_scan_refusals_at_every_position(void **state)
{
    (void)state;
    static const uint8_t bad[] = { 0x00, 0x01, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f, 0x7f,
                                   '\r', '\n' };
    char in[128];
    for (size_t b = 0; b < sizeof bad; b++) {
        for (size_t pos = 0; pos < 17; pos++) {
            /* in a field value */
            int n = snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ");
            memset(in + n, 'v', 20);
            in[n + (int)pos] = (char)bad[b];
            n += 20;
            n += snprintf(in + n, sizeof in - (size_t)n, "\r\n\r\n");
            char name[64];
            snprintf(name, sizeof name, "byte %02x at %zu of a value", bad[b], pos);
            check_all_splits(name, (const uint8_t *)in, (size_t)n, "ERROR 400\n", NULL);
            /* in the request target */
            n = snprintf(in, sizeof in, "GET /");
            memset(in + n, 't', 20);
            in[n + (int)pos] = (char)bad[b];
            n += 20;
            n += snprintf(in + n, sizeof in - (size_t)n, " HTTP/1.1\r\nHost: a\r\n\r\n");
            snprintf(name, sizeof name, "byte %02x at %zu of the target", bad[b], pos);
            check_all_splits(name, (const uint8_t *)in, (size_t)n, "ERROR 400\n", NULL);
        }
    }
    /* Neighbours of the refused ranges are plain bytes (HT is allowed in
     * values and goes the slow way). */
    const char *ok = "GET / HTTP/1.1\r\nHost: a\r\nX: ~ !\x80\x9f\xa0\xff\x7e\x20\t\x21"
                     "0123456789abcdef~\r\n\r\n";
    check_all_splits("bytes next to the refused ones", (const uint8_t *)ok, strlen(ok),
                     "HEAD GET / 1.1 ka=1\n Host=[a]\n X=[~ !\x80\x9f\xa0\xff~ \t!"
                     "0123456789abcdef~]\nDONE\n",
                     NULL);
}

/* A browser-sized head: long lines cross every split point and word
 * boundary; names are matched case-insensitively whatever their length. */
static void test_fast_scan_long_head(void **state)
{
    (void)state;
    const char *in =
        "GET /static/app.0123456789abcdef.js?v=42&x=%20y HTTP/1.1\r\n"
        "host: example.test\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        "CONNECTION: close\r\n"
        "CoNtEnT-LeNgTh: 4\r\n"
        "\r\nbody";
    check_all_splits("long head", (const uint8_t *)in, strlen(in),
                     "HEAD GET /static/app.0123456789abcdef.js?v=42&x=%20y 1.1 ka=0\n"
                     " host=[example.test]\n"
                     " User-Agent=[Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 "
                     "Firefox/120.0]\n"
                     " Accept=[text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8]\n"
                     " CONNECTION=[close]\n CoNtEnT-LeNgTh=[4]\nBODY body\nDONE\n",
                     NULL);
    /* A name of a known length that is not the known name is just a field. */
    const char *other = "GET / HTTP/1.1\r\nHost: a\r\nHoss: 1\r\nContent-Lengtx: 9\r\n\r\n";
    check_all_splits("near names", (const uint8_t *)other, strlen(other),
                     "HEAD GET / 1.1 ka=1\n Host=[a]\n Hoss=[1]\n Content-Lengtx=[9]\nDONE\n",
                     NULL);
}

/* The scanner stops at the limits exactly where byte-at-a-time did: a
 * line of exactly the limit passes, one byte more is refused, and a
 * control byte at the limit is still a 400. */
static void test_fast_scan_limits_exact(void **state)
{
    (void)state;
    struct tern_http_limits lim = { 64, 128, 64, 100 };
    char in[256], want[256];
    int n = snprintf(in, sizeof in, "GET /");
    memset(in + n, 'a', 50);
    n += 50;
    n += snprintf(in + n, sizeof in - (size_t)n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(strchr(in, '\r') - in, 64);
    snprintf(want, sizeof want, "HEAD GET /%.50s 1.1 ka=1\n Host=[a]\nDONE\n", in + 5);
    check_all_splits("request line of 64 of 64", (const uint8_t *)in, (size_t)n, want, &lim);
    n = snprintf(in, sizeof in, "GET /");
    memset(in + n, 'a', 51);
    n += 51;
    n += snprintf(in + n, sizeof in - (size_t)n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    check_all_splits("request line of 65 of 64", (const uint8_t *)in, (size_t)n, "ERROR 414\n",
                     &lim);
    n = snprintf(in, sizeof in, "GET /");
    memset(in + n, 'a', 59);
    in[n + 59] = '\x01';
    n += 60;
    n += snprintf(in + n, sizeof in - (size_t)n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    check_all_splits("control byte at the request line limit", (const uint8_t *)in, (size_t)n,
                     "ERROR 400\n", &lim);
    /* The head limit counts request line and fields without CRLFs:
     * 14 + 7 + 107 = 128 fits, 129 does not. */
    n = snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(in + n, 'x', 104);
    n += 104;
    n += snprintf(in + n, sizeof in - (size_t)n, "\r\n\r\n");
    snprintf(want, sizeof want, "HEAD GET / 1.1 ka=1\n Host=[a]\n X=[%.104s]\nDONE\n",
             in + (n - 108));
    check_all_splits("head of 128 of 128", (const uint8_t *)in, (size_t)n, want, &lim);
    n = snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(in + n, 'x', 105);
    n += 105;
    n += snprintf(in + n, sizeof in - (size_t)n, "\r\n\r\n");
    check_all_splits("head of 129 of 128", (const uint8_t *)in, (size_t)n, "ERROR 431\n", &lim);
}

static void test_error_is_sticky(void **state)
{
    (void)state;
    struct tern_http_parser p;
    tern_http_parser_init(&p, NULL);
    struct tern_http_event ev;
    size_t used;
    const uint8_t bad[] = "GET / HTTP/1.1\nHost: a\r\n\r\n";
    tern_http_parser_feed(&p, bad, sizeof bad - 1, &used, &ev);
    assert_int_equal(ev.kind, TERN_HTTP_EV_ERROR);
    assert_int_equal(ev.status, 400);
    const uint8_t good[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    tern_http_parser_feed(&p, good, sizeof good - 1, &used, &ev);
    assert_int_equal(ev.kind, TERN_HTTP_EV_ERROR);
    assert_int_equal(used, 0);
}

static void test_field_lookup(void **state)
{
    (void)state;
    struct tern_http_parser p;
    tern_http_parser_init(&p, NULL);
    const uint8_t in[] = "GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match:  \"x\" \r\n\r\n";
    struct tern_http_event ev;
    size_t used, len;
    tern_http_parser_feed(&p, in, sizeof in - 1, &used, &ev);
    assert_int_equal(ev.kind, TERN_HTTP_EV_HEAD);
    const char *v = tern_http_parser_field(&p, "if-none-match", &len);
    assert_non_null(v);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "\"x\"", 3);
    assert_null(tern_http_parser_field(&p, "range", &len));
}

struct path_case {
    const char *in;
    tern_result r;
    const char *out;
};

static void test_decode_path(void **state)
{
    (void)state;
    static const struct path_case cases[] = {
        { "/", TERN_OK, "/" },
        { "/a/b", TERN_OK, "/a/b" },
        { "/a/b/", TERN_OK, "/a/b/" },
        { "/a%20b", TERN_OK, "/a b" },
        { "/%41%62", TERN_OK, "/Ab" },
        { "/a?x=/../..", TERN_OK, "/a" },
        { "/a/./b", TERN_OK, "/a/b" },
        { "/a/../b", TERN_OK, "/b" },
        { "/a/b/..", TERN_OK, "/a/" },
        { "/a/.", TERN_OK, "/a/" },
        { "//a//b", TERN_OK, "/a/b" },
        { "/a/%2e%2e/b", TERN_OK, "/b" },
        { "/..", TERN_EINVAL, NULL },
        { "/../etc/passwd", TERN_EINVAL, NULL },
        { "/a/../../b", TERN_EINVAL, NULL },
        { "/%2e%2e/x", TERN_EINVAL, NULL },
        { "/a%2fb", TERN_EINVAL, NULL },
        { "/a%2Fb", TERN_EINVAL, NULL },
        { "/a%00b", TERN_EINVAL, NULL },
        { "/a%5cb", TERN_EINVAL, NULL },
        { "/a%0a", TERN_EINVAL, NULL },
        { "/a%", TERN_EINVAL, NULL },
        { "/a%4", TERN_EINVAL, NULL },
        { "/a%4/", TERN_EINVAL, NULL },
        { "/a%zz", TERN_EINVAL, NULL },
        { "a/b", TERN_EINVAL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        tern_result r = tern_http_decode_path(cases[i].in, strlen(cases[i].in), out, sizeof out);
        if (r != cases[i].r || (r == TERN_OK && strcmp(out, cases[i].out) != 0)) {
            print_error("path %s: got %d [%s], want %d [%s]\n", cases[i].in, r,
                        r == TERN_OK ? out : "", cases[i].r, cases[i].out ? cases[i].out : "");
            fail();
        }
    }
    char small[4];
    assert_int_equal(tern_http_decode_path("/abcdef", 7, small, sizeof small), TERN_ENOSPC);
}

static void test_dates(void **state)
{
    (void)state;
    char buf[40];
    tern_http_format_date(784111777, buf, sizeof buf);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    tern_http_format_date(0, buf, sizeof buf);
    assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    tern_http_format_date(951782400, buf, sizeof buf);  /* leap day 2000 */
    assert_string_equal(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
    tern_http_format_date(253402300799, buf, sizeof buf); /* the last second of 9999 */
    assert_string_equal(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    tern_http_format_date(253402300800, buf, sizeof buf); /* five-digit years widen */
    assert_string_equal(buf, "Sat, 01 Jan 10000 00:00:00 GMT");
    tern_http_format_date(-5, buf, sizeof buf);
    assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    char tiny[8];
    tern_http_format_date(784111777, tiny, sizeof tiny); /* truncated, terminated */
    assert_string_equal(tiny, "Sun, 06");
    int64_t s;
    const char *d1 = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *d2 = "Sunday, 06-Nov-94 08:49:37 GMT";
    const char *d3 = "Sun Nov  6 08:49:37 1994";
    assert_int_equal(tern_http_parse_date(d1, strlen(d1), &s), TERN_OK);
    assert_int_equal(s, 784111777);
    assert_int_equal(tern_http_parse_date(d2, strlen(d2), &s), TERN_OK);
    assert_int_equal(s, 784111777);
    assert_int_equal(tern_http_parse_date(d3, strlen(d3), &s), TERN_OK);
    assert_int_equal(s, 784111777);
    const char *bad[] = { "", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "yesterday" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tern_http_parse_date(bad[i], strlen(bad[i]), &s), TERN_EINVAL);
    /* round trip over a range of days */
    for (int64_t t = 0; t < 4102444800; t += 86400 * 37 + 3671) {
        tern_http_format_date(t, buf, sizeof buf);
        assert_int_equal(tern_http_parse_date(buf, strlen(buf), &s), TERN_OK);
        assert_int_equal(s, t);
    }
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(tern_http_content_type("/index.html"), "text/html; charset=utf-8");
    assert_string_equal(tern_http_content_type("/A.PNG"), "image/png");
    assert_string_equal(tern_http_content_type("/x.tar.gz"), "application/gzip");
    assert_string_equal(tern_http_content_type("/dir.d/file"), "application/octet-stream");
    assert_string_equal(tern_http_content_type("/noext"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers_every_split),
        cmocka_unit_test(test_request_line_limit_414),
        cmocka_unit_test(test_header_limits_431),
        cmocka_unit_test(test_body_limits_413),
        cmocka_unit_test(test_fast_scan_refusals_at_every_position),
        cmocka_unit_test(test_fast_scan_long_head),
        cmocka_unit_test(test_fast_scan_limits_exact),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_field_lookup),
        cmocka_unit_test(test_decode_path),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_content_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
