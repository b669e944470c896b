/* Unit tests of the packet-script parser, formatter and matcher
 * (pkt_script.h): good lines parse to what they say, printing gives the
 * notation back, matching honours wildcards, and malformed scripts are
 * refused with the line number and what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pkt_script.h"

#define RULE "// RFC 9293 3.5: test\n"

static void test_parses_events(void **state)
{
    (void)state;
    static const char text[] = RULE
        "config rcvbuf 4096\n"
        "config keepalive_probes 3\n"
        "0 listen 80   // a comment\n"
        "+0.1 < S 0:0(0) win 65535 <mss 1460,sackOK>\n"
        "+0 > S. 0:0(0) ack 1 win * <mss 1460,...>\n"
        "+0.25 connect 192.0.2.2:8080\n"
        "+0 read eof\n"
        "+0 read 10\n"
        "+0 > none within 1.5\n"
        "+0 expect counter drop_paws 2\n"
        "+0 icmp unreachable port seq 7\n"
        "+0 expect error refused\n"
        "+0 read closed\n";
    struct pkt_script sc;
    char err[256] = "";
    assert_true(pkt_parse_script(text, &sc, err, sizeof(err)));
    assert_string_equal(sc.rule, "RFC 9293 3.5: test");
    assert_int_equal(sc.cfg.rcvbuf, 4096);
    assert_int_equal(sc.cfg.keepalive_probes, 3);
    assert_int_equal(sc.n, 11);
    assert_int_equal(sc.ev[0].kind, PKT_EV_LISTEN);
    assert_int_equal(sc.ev[0].num, 80);
    assert_int_equal(sc.ev[0].line, 4);
    assert_int_equal(sc.ev[1].kind, PKT_EV_IN);
    assert_int_equal(sc.ev[1].time_us, 100000);
    assert_int_equal(sc.ev[1].seg.flags, PKT_SYN);
    assert_int_equal(sc.ev[1].seg.win.v, 65535);
    assert_int_equal(sc.ev[1].seg.nopts, 2);
    assert_int_equal(sc.ev[1].seg.opts[0].kind, PKT_OPT_MSS);
    assert_int_equal(sc.ev[1].seg.opts[0].a.v, 1460);
    assert_int_equal(sc.ev[1].seg.opts[1].kind, PKT_OPT_SACKOK);
    assert_int_equal(sc.ev[2].kind, PKT_EV_OUT);
    assert_int_equal(sc.ev[2].seg.flags, PKT_SYN | PKT_ACK);
    assert_true(sc.ev[2].seg.win.any);
    assert_true(sc.ev[2].seg.opts_more);
    assert_int_equal(sc.ev[3].kind, PKT_EV_CONNECT);
    assert_int_equal(sc.ev[3].time_us, 350000);
    assert_int_equal(sc.ev[3].addr, (192u << 24) | (2u << 8) | 2u);
    assert_int_equal(sc.ev[3].num, 8080);
    assert_int_equal(sc.ev[4].num, PKT_READ_EOF);
    assert_int_equal(sc.ev[5].num, 10);
    assert_int_equal(sc.ev[6].kind, PKT_EV_NONE);
    assert_int_equal(sc.ev[6].within_us, 1500000);
    /* the event after "none within" counts from its end */
    assert_int_equal(sc.ev[7].time_us, 1850000);
    assert_string_equal(sc.ev[7].name, "drop_paws");
    assert_int_equal(sc.ev[7].num, 2);
    assert_int_equal(sc.ev[8].kind, PKT_EV_ICMP);
    assert_int_equal(sc.ev[8].num, 3);
    assert_true(sc.ev[8].has_seq);
    assert_int_equal(sc.ev[8].seq, 7);
    assert_string_equal(sc.ev[9].name, "refused");
    assert_int_equal(sc.ev[10].num, PKT_READ_CLOSED);
    pkt_script_free(&sc);
}

static void expect_refused(const char *text, const char *msg)
{
    struct pkt_script sc;
    char err[256] = "";
    bool ok = pkt_parse_script(text, &sc, err, sizeof(err));
    if (ok)
        pkt_script_free(&sc);
    assert_false(ok);
    if (strstr(err, msg) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, msg);
}

static void test_refuses_malformed_scripts(void **state)
{
    (void)state;
    expect_refused("", "line 1: empty script");
    expect_refused("0 listen 80\n", "line 1: must be a comment naming the rule");
    expect_refused("// not an RFC\n0 listen 80\n", "line 1: must be a comment");
    expect_refused(RULE, "no events");
    expect_refused(RULE "listen 80\n", "line 2: time");
    expect_refused(RULE "0 lisen 80\n", "line 2: unknown action \"lisen\"");
    expect_refused(RULE "0 listen 0\n", "listen: port 1-65535");
    expect_refused(RULE "0 listen 80 90\n", "unexpected text");
    expect_refused(RULE "1 listen 80\n0.5 accept\n", "line 3: time goes backwards");
    expect_refused(RULE "0 < X 0:0(0)\n", "unknown flag 'X'");
    expect_refused(RULE "0 < SS 0:0(0)\n", "flag 'S' given twice");
    expect_refused(RULE "0 < S 0:5(3)\n", "END - START is 5 but LEN is 3");
    expect_refused(RULE "0 < S 0:0\n", "'(' missing");
    expect_refused(RULE "0 < S *:*(0)\n", "'*' is only for expected");
    expect_refused(RULE "0 < . 1:1(0) win 10\n", "needs \"ack N\"");
    expect_refused(RULE "0 < S 0:0(0) ack 1\n", "without the '.' (ACK) flag");
    expect_refused(RULE "0 < S 0:0(0) win 70000\n", "beyond 65535");
    expect_refused(RULE "0 < S 0:0(0) <mss 1460\n", "expected ',' or '>'");
    expect_refused(RULE "0 < S 0:0(0) <foo 3>\n", "unknown option \"foo");
    expect_refused(RULE "0 < S 0:0(0) <mss 1460,...>\n", "only for expected (outbound) options");
    expect_refused(RULE "0 > S 0:0(0) <...,mss 1460>\n", "must be the last option");
    expect_refused(RULE "0 < S 0:0(0) <TS val 1>\n", "ecr N");
    expect_refused(RULE "0 < . 1:1(0) ack 1 <sack 1:2 3:4 5:6 7:8 9:10>\n",
                   "more than 4 SACK blocks");
    expect_refused(RULE "0 < SR 0:0(0)\n", "S and R together");
    expect_refused(RULE "0 connect 192.0.2:80\n", "A.B.C.D:PORT");
    expect_refused(RULE "0 expect error weird\n", "none, refused, reset or timeout");
    expect_refused(RULE "0 expect colour red\n", "expect: state, error or counter");
    expect_refused(RULE "0 icmp unreachable moon\n", "net, host, protocol or port");
    expect_refused(RULE "0 read 0\n", "read: 1-65536 bytes");
    expect_refused(RULE "0 > none\n", "within SECONDS");
    expect_refused(RULE "0.1234567 accept\n", "more than 6 decimals");
    expect_refused(RULE "0 accept\nconfig rcvbuf 10\n", "line 3: config lines come before");
    expect_refused(RULE "config window 10\n", "config: rcvbuf");
}

static void test_format_round_trip(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "> S. 0:0(0) ack 1 win * <mss 1460,sackOK,TS val * ecr 100,nop,wscale 7,...>",
        "> P. 1:101(100) ack 1 win 512",
        "> R 5:5(0)",
        "> . 1:1(0) ack 1 <sack 11:13 21:23>",
        "> F. *:*(0) ack * win * <...>",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct pkt_seg s;
        char err[128], buf[256];
        assert_true(pkt_parse_seg(lines[i] + 2, '>', &s, err, sizeof(err)));
        pkt_format_seg('>', &s, buf, sizeof(buf));
        assert_string_equal(buf, lines[i]);
    }
}

static void seg(const char *text, char dir, struct pkt_seg *s)
{
    char err[128];
    if (!pkt_parse_seg(text, dir, s, err, sizeof(err)))
        fail_msg("%s: %s", text, err);
}

static void test_match_wildcards_and_order(void **state)
{
    (void)state;
    struct pkt_seg e, a;
    char why[128];
    /* options in another order, padding ignored, '*' values */
    seg("S. 0:0(0) ack 1 win * <mss 1460,wscale *,TS val * ecr 5>", '>', &e);
    seg("S. 0:0(0) ack 1 win 1000 <nop,wscale 7,TS val 99 ecr 5,mss 1460>", '<', &a);
    assert_true(pkt_seg_match(&e, &a, why, sizeof(why)));
    /* a value differs */
    seg("S. 0:0(0) ack 1 win 1000 <nop,wscale 7,TS val 99 ecr 6,mss 1460>", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    assert_string_equal(why, "option \"TS val * ecr 5\" missing or different");
    /* an extra option refused unless "..." */
    seg("S. 0:0(0) ack 1 win 1000 <wscale 7,TS val 99 ecr 5,mss 1460,sackOK>", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    assert_string_equal(why, "option \"sackOK\" not expected");
    /* no options written: none allowed */
    seg(". 1:1(0) ack 1", '>', &e);
    seg(". 1:1(0) ack 1 win 5 <sack 2:3>", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    /* SACK block order is checked */
    seg(". 1:1(0) ack 1 <sack 2:3 5:6>", '>', &e);
    seg(". 1:1(0) ack 1 win 5 <nop,nop,sack 5:6 2:3>", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    seg(". 1:1(0) ack 1 win 5 <nop,nop,sack 2:3 5:6>", '<', &a);
    assert_true(pkt_seg_match(&e, &a, why, sizeof(why)));
    /* flags, ack, sequence, window */
    seg("R. 1:1(0) ack 1", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    assert_string_equal(why, "flags differ");
    seg(". 1:1(0) ack 2 win 5 <sack 2:3 5:6>", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    assert_string_equal(why, "ack differs");
    seg(". 2:2(0) ack 1 win 5 <sack 2:3 5:6>", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    assert_string_equal(why, "sequence numbers differ");
    seg(". 1:1(0) ack 1 win 7", '>', &e);
    seg(". 1:1(0) ack 1 win 5", '<', &a);
    assert_false(pkt_seg_match(&e, &a, why, sizeof(why)));
    assert_string_equal(why, "window differs");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_events),
        cmocka_unit_test(test_refuses_malformed_scripts),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_match_wildcards_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
