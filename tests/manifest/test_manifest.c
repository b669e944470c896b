/* core/manifest: the schema accepted whole, defaults, every refusal with
 * its path and message, truncations and mutations of a valid document,
 * duplicate keys at each level, limits, cJSON running out of memory, and
 * the memory one parse takes. Fixtures: fixtures/manifests/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cJSON.h>

#include "sim_platform.h"
#include "tern/manifest.h"
#include "tern/os.h"

#ifndef FIXTURES_DIR
#error "FIXTURES_DIR must name fixtures/manifests"
#endif

/* The smallest valid document's fields, to build variants from. */
#define HEAD "\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0\",\"app\":{\"path\":\"a.elf\"}"
#define EP_WEB "{\"name\":\"web\",\"proto\":\"http\",\"port\":80}"

static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    char *buf = malloc(TERN_MANIFEST_MAX_BYTES + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, TERN_MANIFEST_MAX_BYTES + 1, f);
    fclose(f);
    return buf;
}

/* Parses text from an exact-size heap copy (so ASan sees any read past
 * len); returns the result and fills m and err. */
static tern_result parse_exact(const char *text, size_t len, struct tern_manifest *m,
                               struct tern_manifest_error *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    tern_result r = tern_manifest_parse(copy, len, m, err);
    free(copy);
    return r;
}

static void expect_ok(const char *text)
{
    struct tern_manifest m;
    struct tern_manifest_error err;
    tern_result r = parse_exact(text, strlen(text), &m, &err);
    if (r != TERN_OK)
        fail_msg("refused %s: %s: %s", text, err.path, err.msg);
}

static void expect_refusal_n(const char *text, size_t len, const char *path, const char *msg)
{
    struct tern_manifest m;
    struct tern_manifest_error err;
    tern_result r = parse_exact(text, len, &m, &err);
    if (r != TERN_EINVAL || strcmp(err.path, path) != 0 || strcmp(err.msg, msg) != 0)
        fail_msg("%.*s\n  want EINVAL %s: %s\n  got  %s %s: %s", (int)(len > 300 ? 300 : len),
                 text, path, msg, tern_result_name(r), err.path, err.msg);
}

static void expect_refusal(const char *text, const char *path, const char *msg)
{
    expect_refusal_n(text, strlen(text), path, msg);
}

/* ---- accepted ---- */

static void test_full_example(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("full.json", &len);
    struct tern_manifest m;
    struct tern_manifest_error err;
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    free(text);
    assert_string_equal(m.name, "shop-front.v2");
    assert_string_equal(m.version, "2.10.3-rc.1+build.7");
    assert_string_equal(m.app_path, "bin/shop.elf");
    assert_int_equal(m.args_count, 3);
    assert_string_equal(m.args[0], "--flag");
    assert_string_equal(m.args[1], "--level=3");
    assert_string_equal(m.args[2], "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"); /* été 😀 */
    assert_int_equal(m.env_count, 3);
    assert_string_equal(m.env[0].name, "GREETING");
    assert_string_equal(tern_manifest_env(&m, "GREETING"), "hi");
    assert_string_equal(tern_manifest_env(&m, "_UNDER"), "");
    assert_string_equal(tern_manifest_env(&m, "Mixed_9"), "a \"quoted\" value\n");
    assert_null(tern_manifest_env(&m, "greeting"));
    assert_int_equal(m.endpoints_count, 4);
    const struct tern_manifest_endpoint *web = tern_manifest_endpoint(&m, "web");
    assert_non_null(web);
    assert_int_equal(web->proto, TERN_MANIFEST_HTTP);
    assert_int_equal(web->port, 8080);
    assert_string_equal(web->cert, "");
    const struct tern_manifest_endpoint *sec = tern_manifest_endpoint(&m, "secure");
    assert_int_equal(sec->proto, TERN_MANIFEST_HTTPS);
    assert_int_equal(sec->port, 443);
    assert_string_equal(sec->cert, "tls/cert.pem");
    assert_string_equal(sec->key, "tls/key.pem");
    assert_int_equal(tern_manifest_endpoint(&m, "raw")->proto, TERN_MANIFEST_TCP);
    assert_int_equal(tern_manifest_endpoint(&m, "dns-udp")->proto, TERN_MANIFEST_UDP);
    assert_int_equal(tern_manifest_endpoint(&m, "dns-udp")->port, 8080);
    assert_null(tern_manifest_endpoint(&m, "nope"));
    assert_int_equal(m.network.mode, TERN_MANIFEST_NET_STATIC);
    assert_int_equal(m.network.address, 0xc0000202u);
    assert_int_equal(m.network.prefix_len, 24);
    assert_int_equal(m.network.gateway, 0xc0000201u);
    assert_int_equal(m.network.dns_count, 2);
    assert_int_equal(m.network.dns[0], 0xc0000201u);
    assert_int_equal(m.network.dns[1], 0xc6336435u);
    assert_string_equal(m.network.hostname, "web1.example");
    assert_int_equal(m.mounts_count, 2);
    assert_string_equal(m.mounts[0].volume, "data");
    assert_string_equal(m.mounts[0].path, "/data");
    assert_false(m.mounts[0].read_only);
    assert_string_equal(m.mounts[1].volume, "boot");
    assert_true(m.mounts[1].read_only);
    assert_int_equal(m.resources.memory_mib, 64);
    assert_int_equal(m.resources.threads, 32);
    assert_int_equal(m.resources.stack_kib, 128);
    assert_int_equal(m.resources.tcp_connections, 1024);
    assert_int_equal(m.health.kind, TERN_MANIFEST_HEALTH_HTTP);
    assert_string_equal(m.health.http_path, "/healthz?deep=1");
    assert_int_equal(m.health.port, 8080);
    assert_int_equal(m.health.interval_ms, 500);
    assert_int_equal(m.health.deadline_ms, 20000);
    assert_int_equal(m.health.failures, 5);
    assert_int_equal(m.log_level, TERN_MANIFEST_LOG_DEBUG);
    assert_int_equal(m.restart, TERN_MANIFEST_RESTART_NEVER);
    assert_int_equal(m.overridable, TERN_MANIFEST_OVR_PORTS | TERN_MANIFEST_OVR_ENV |
                                        TERN_MANIFEST_OVR_LOG_LEVEL | TERN_MANIFEST_OVR_NETWORK);
}

static void test_defaults(void **state)
{
    (void)state;
    const char *text = "{" HEAD "}";
    struct tern_manifest m;
    struct tern_manifest_error err;
    memset(&m, 0xa5, sizeof(m));
    assert_int_equal(parse_exact(text, strlen(text), &m, &err), TERN_OK);
    assert_string_equal(m.name, "a");
    assert_int_equal(m.args_count, 0);
    assert_int_equal(m.env_count, 0);
    assert_int_equal(m.endpoints_count, 0);
    assert_int_equal(m.network.mode, TERN_MANIFEST_NET_DHCP);
    assert_int_equal(m.network.address, 0);
    assert_string_equal(m.network.hostname, "");
    assert_int_equal(m.mounts_count, 0);
    assert_int_equal(m.resources.memory_mib, 16);
    assert_int_equal(m.resources.threads, 16);
    assert_int_equal(m.resources.stack_kib, 256);
    assert_int_equal(m.resources.tcp_connections, 0);    /* absent: the OS's default pool */
    assert_int_equal(m.health.kind, TERN_MANIFEST_HEALTH_NONE);
    assert_int_equal(m.health.port, 0);
    assert_int_equal(m.health.interval_ms, 1000);
    assert_int_equal(m.health.deadline_ms, 10000);
    assert_int_equal(m.health.failures, 3);
    assert_int_equal(m.log_level, TERN_MANIFEST_LOG_INFO);
    assert_int_equal(m.restart, TERN_MANIFEST_RESTART_ON_FAILURE);
    assert_int_equal(m.overridable, TERN_MANIFEST_OVR_PORTS | TERN_MANIFEST_OVR_ENV |
                                        TERN_MANIFEST_OVR_LOG_LEVEL);
    /* A parse fills the whole struct: two parses of one text are equal. */
    struct tern_manifest again;
    memset(&again, 0x5a, sizeof(again));
    assert_int_equal(parse_exact(text, strlen(text), &again, &err), TERN_OK);
    assert_memory_equal(&m, &again, sizeof(m));
    /* Empty lists, "none" and an empty overridable list are all fine. */
    expect_ok("{" HEAD ",\"endpoints\":[],\"mounts\":[],\"overridable\":[],\"health\":\"none\","
              "\"resources\":{},\"network\":{\"mode\":\"dhcp\",\"hostname\":\"h\"}}");
    /* Integral numbers in any JSON spelling, whitespace anywhere. */
    expect_ok(" \t\r\n{ \"tern_manifest\" : 1.0e0 , \"name\":\"a\",\"version\":\"0.0.0\","
              "\"app\":{\"path\":\"a\"},\"resources\":{\"threads\":2E1}} \n");
}

static void test_fixtures(void **state)
{
    (void)state;
    struct tern_manifest m, def;
    struct tern_manifest_error err;
    size_t len;
    char *text = read_fixture("hello.json", &len);
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    free(text);
    tern_manifest_default(&def);
    assert_memory_equal(&m, &def, sizeof(m)); /* the default is hello.json */

    text = read_fixture("kv.json", &len);
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    free(text);
    assert_string_equal(m.name, "kv");
    assert_string_equal(m.app_path, "kv.elf");
    assert_int_equal(m.endpoints_count, 1);
    assert_int_equal(m.endpoints[0].proto, TERN_MANIFEST_HTTP);
    assert_int_equal(m.endpoints[0].port, 80);
    assert_int_equal(m.mounts_count, 1);
    assert_string_equal(m.mounts[0].volume, "data");
    assert_string_equal(m.mounts[0].path, "/data");
    assert_false(m.mounts[0].read_only);
    assert_int_equal(m.health.kind, TERN_MANIFEST_HEALTH_HTTP);
    assert_string_equal(m.health.http_path, "/healthz");
    assert_int_equal(m.health.port, 80);
    assert_int_equal(m.restart, TERN_MANIFEST_RESTART_ALWAYS);

    text = read_fixture("echo.json", &len);
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    free(text);
    assert_string_equal(m.name, "echo");
    assert_int_equal(m.endpoints[0].proto, TERN_MANIFEST_TCP);
    assert_int_equal(m.endpoints[0].port, 7);
    assert_int_equal(m.health.kind, TERN_MANIFEST_HEALTH_TCP);
    assert_int_equal(m.health.port, 7);
}

/* ---- refused: syntax (the scan before cJSON) ---- */

static void test_refused_syntax(void **state)
{
    (void)state;
    expect_refusal("", "$", "expected a value at line 1 column 1");
    expect_refusal("   ", "$", "expected a value at line 1 column 4");
    expect_refusal("{} x", "$", "trailing data after the document at line 1 column 4");
    expect_refusal("{}\n{}", "$", "trailing data after the document at line 2 column 1");
    expect_refusal("{\"a\":1,}", "$", "expected a string key at line 1 column 8");
    expect_refusal("{\n  \"a\": 1,\n}", "$", "expected a string key at line 3 column 1");
    expect_refusal("{'a':1}", "$", "expected a string key at line 1 column 2");
    expect_refusal("[1,]", "$", "expected a value at line 1 column 4");
    expect_refusal("{\"a\" 1}", "$", "expected ':' at line 1 column 6");
    expect_refusal("{\"a\":1 \"b\":2}", "$", "expected ',' or '}' at line 1 column 8");
    expect_refusal("[1 2]", "$", "expected ',' or ']' at line 1 column 4");
    expect_refusal("{\"a\":1", "$", "expected ',' or '}' at line 1 column 7");
    expect_refusal("{\"a\":+1}", "$", "expected a value at line 1 column 6");
    expect_refusal("{\"a\":.5}", "$", "expected a value at line 1 column 6");
    expect_refusal("{\"a\":01}", "$", "expected ',' or '}' at line 1 column 7");
    expect_refusal("{\"a\":1.}", "$", "invalid number at line 1 column 8");
    expect_refusal("{\"a\":-}", "$", "invalid number at line 1 column 7");
    expect_refusal("{\"a\":1e}", "$", "invalid number at line 1 column 8");
    expect_refusal("{\"a\":NaN}", "$", "expected a value at line 1 column 6");
    expect_refusal("{\"a\":tru}", "$", "expected a value at line 1 column 6");
    expect_refusal("{\"a\":1} // c", "$", "trailing data after the document at line 1 column 9");
    expect_refusal("{\"a\":\"x\ty\"}", "$", "control character in a string at line 1 column 8");
    expect_refusal("{\"a\":\"\\x\"}", "$", "invalid escape in a string at line 1 column 7");
    expect_refusal("{\"a\":\"\\u12G4\"}", "$",
                   "invalid \\u escape in a string at line 1 column 7");
    expect_refusal("{\"a\":\"x\\u0000\"}", "$", "\\u0000 in a string at line 1 column 8");
    expect_refusal("{\"a\":\"\\ud800\"}", "$",
                   "unpaired surrogate in a string at line 1 column 7");
    expect_refusal("{\"a\":\"\\ud800\\u0041\"}", "$",
                   "unpaired surrogate in a string at line 1 column 7");
    expect_refusal("{\"a\":\"\\ud800\\ud800\"}", "$",
                   "unpaired surrogate in a string at line 1 column 7");
    expect_refusal("{\"a\":\"\\udc00\\ud800\"}", "$",
                   "unpaired surrogate in a string at line 1 column 7");
    expect_ok("{" HEAD ",\"log_level\":\"\\u0069\\u006e\\u0066\\u006F\"}"); /* "info" */
    expect_refusal("{\"a\":\"abc", "$", "unterminated string at line 1 column 10");
    expect_refusal("{\"a\":\"abc\\", "$", "unterminated string at line 1 column 10");
    expect_refusal_n("{\"a\"\0:1}", 8, "$", "NUL byte at line 1 column 5");
    expect_refusal_n("{\"a\":\"\0\"}", 9, "$", "NUL byte at line 1 column 7");
    expect_refusal("{\"a\":\"\xff\"}", "$", "invalid UTF-8 at line 1 column 7");
    expect_refusal("{\"a\":\"\xc0\xaf\"}", "$", "invalid UTF-8 at line 1 column 7");  /* overlong */
    expect_refusal("{\"a\":\"\xed\xa0\x80\"}", "$", "invalid UTF-8 at line 1 column 7"); /* surrogate */
    expect_refusal("{\"a\":\"\xf4\x90\x80\x80\"}", "$",
                   "invalid UTF-8 at line 1 column 7"); /* above U+10FFFF */
    expect_refusal("{\"a\":\"\xe2\x82", "$", "invalid UTF-8 at line 1 column 7"); /* cut */
    expect_refusal("\xef\xbb\xbf{}", "$", "expected a value at line 1 column 1"); /* BOM */
    char num[64];
    snprintf(num, sizeof(num), "{\"a\":%s}", "123456789012345678901234567890123");
    expect_refusal(num, "$", "a number longer than 32 characters at line 1 column 6");
}

static void test_refused_limits_of_syntax(void **state)
{
    (void)state;
    /* 16 nested containers pass the scan (the schema refuses them), 17 not. */
    char deep[64];
    memset(deep, 0, sizeof(deep));
    memset(deep, '[', 16);
    memset(deep + 16, ']', 16);
    expect_refusal(deep, "$", "expected an object");
    memset(deep, 0, sizeof(deep));
    memset(deep, '[', 17);
    memset(deep + 17, ']', 17);
    expect_refusal(deep, "$", "nesting deeper than 16 levels at line 1 column 17");
    /* 1024 values pass the scan, 1025 not. */
    char *many = malloc(4096);
    assert_non_null(many);
    size_t n = 0;
    many[n++] = '[';
    for (int i = 0; i < 1023; i++) {
        many[n++] = '0';
        many[n++] = i < 1022 ? ',' : ']';
    }
    many[n] = '\0';
    expect_refusal(many, "$", "expected an object");
    n -= 1;
    n += (size_t)sprintf(many + n, ",0]");
    expect_refusal(many, "$", "more than 1024 values in the document at line 1 column 2048");
    free(many);
    /* The size cap: 64 KiB of valid document passes, one byte more not. */
    char *big = malloc(TERN_MANIFEST_MAX_BYTES + 2);
    assert_non_null(big);
    const char *doc = "{" HEAD "}";
    memset(big, ' ', TERN_MANIFEST_MAX_BYTES + 1);
    memcpy(big, doc, strlen(doc));
    struct tern_manifest m;
    struct tern_manifest_error err;
    assert_int_equal(parse_exact(big, TERN_MANIFEST_MAX_BYTES, &m, &err), TERN_OK);
    expect_refusal_n(big, TERN_MANIFEST_MAX_BYTES + 1, "$", "expected at most 65536 bytes, got 65537");
    free(big);
}

/* ---- refused: schema ---- */

struct refusal {
    const char *json;
    const char *path;
    const char *msg;
};

static void check_table(const struct refusal *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_refusal(t[i].json, t[i].path, t[i].msg);
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

static void test_refused_top_level(void **state)
{
    (void)state;
    static const struct refusal t[] = {
        { "[]", "$", "expected an object" },
        { "\"x\"", "$", "expected an object" },
        { "{}", "$.tern_manifest", "required key missing" },
        { "{\"tern_manifest\":2,\"name\":\"a\",\"version\":\"1.0.0\",\"app\":{\"path\":\"a\"}}",
          "$.tern_manifest", "expected the integer 1 (the schema version)" },
        { "{\"tern_manifest\":\"1\"}", "$.tern_manifest", "expected the integer 1 (the schema version)" },
        { "{\"tern_manifest\":1.5}", "$.tern_manifest", "expected the integer 1 (the schema version)" },
        { "{\"tern_manifest\":true}", "$.tern_manifest", "expected the integer 1 (the schema version)" },
        { "{\"tern_manifest\":1,\"version\":\"1.0.0\",\"app\":{\"path\":\"a\"}}", "$.name",
          "required key missing" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"app\":{\"path\":\"a\"}}", "$.version",
          "required key missing" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0\"}", "$.app", "required key missing" },
        { "{" HEAD ",\"colour\":1}", "$.colour", "unknown key" },
        { "{" HEAD ",\"Name\":\"a\"}", "$.Name", "unknown key" },
        { "{" HEAD ",\"a\\nb\":1}", "$.a?b", "unknown key" },
        { "{\"tern_manifest\":1,\"name\":5,\"version\":\"1.0.0\",\"app\":{\"path\":\"a\"}}", "$.name",
          "expected 1 to 32 characters from [a-z0-9._-]" },
        { "{\"tern_manifest\":1,\"name\":\"Hello\"}", "$.name", "expected 1 to 32 characters from [a-z0-9._-]" },
        { "{\"tern_manifest\":1,\"name\":\"\"}", "$.name", "expected 1 to 32 characters from [a-z0-9._-]" },
        { "{\"tern_manifest\":1,\"name\":\"a b\"}", "$.name", "expected 1 to 32 characters from [a-z0-9._-]" },
        { "{\"tern_manifest\":1,\"name\":\"abcdefghijabcdefghijabcdefghijabc\"}", "$.name",
          "expected 1 to 32 characters from [a-z0-9._-]" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0\"}", "$.version",
          "expected a version x.y.z[-pre][+build] of at most 31 characters" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"01.0.0\"}", "$.version",
          "expected a version x.y.z[-pre][+build] of at most 31 characters" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0-\"}", "$.version",
          "expected a version x.y.z[-pre][+build] of at most 31 characters" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0-rc..1\"}", "$.version",
          "expected a version x.y.z[-pre][+build] of at most 31 characters" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0+b+c\"}", "$.version",
          "expected a version x.y.z[-pre][+build] of at most 31 characters" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
          "$.version", "expected a version x.y.z[-pre][+build] of at most 31 characters" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":1}", "$.version",
          "expected a version x.y.z[-pre][+build] of at most 31 characters" },
        { "{" HEAD ",\"log_level\":\"verbose\"}", "$.log_level",
          "expected one of \"debug\", \"info\", \"warn\", \"error\"" },
        { "{" HEAD ",\"log_level\":1}", "$.log_level",
          "expected one of \"debug\", \"info\", \"warn\", \"error\"" },
        { "{" HEAD ",\"restart\":\"sometimes\"}", "$.restart",
          "expected one of \"never\", \"on-failure\", \"always\"" },
        { "{" HEAD ",\"overridable\":\"ports\"}", "$.overridable",
          "expected an array of at most 4 strings" },
        { "{" HEAD ",\"overridable\":[\"ports\",\"env\",\"log_level\",\"network\",\"ports\"]}",
          "$.overridable", "expected an array of at most 4 strings" },
        { "{" HEAD ",\"overridable\":[\"disk\"]}", "$.overridable[0]",
          "expected one of \"ports\", \"env\", \"log_level\", \"network\"" },
        { "{" HEAD ",\"overridable\":[\"env\",\"env\"]}", "$.overridable[1]",
          "duplicate entry \"env\"" },
    };
    check_table(t, N(t));
    expect_ok("{\"tern_manifest\":1,\"name\":\"abcdefghijabcdefghijabcdefghij.-\",\"version\":"
              "\"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaa\",\"app\":{\"path\":\"a\"}}");
}

static void test_refused_app(void **state)
{
    (void)state;
#define APP(x) "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0\",\"app\":" x "}"
#define PATH_MSG "expected a relative path of at most 127 characters ([A-Za-z0-9._+@-] parts, no \".\" or \"..\")"
    static const struct refusal t[] = {
        { APP("\"a.elf\""), "$.app", "expected an object" },
        { APP("{}"), "$.app.path", "required key missing" },
        { APP("{\"path\":\"a\",\"cmd\":1}"), "$.app.cmd", "unknown key" },
        { APP("{\"path\":\"/a.elf\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"../a.elf\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"a/../../b\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"a/..\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"./a\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"a//b\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"a/\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"a b\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"a\\\\b\"}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":[\"a\"]}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":{\"x\":1}}"), "$.app.path", PATH_MSG },
        { APP("{\"path\":\"a\",\"args\":\"--x\"}"), "$.app.args", "expected an array of at most 16 strings" },
        { APP("{\"path\":\"a\",\"args\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\","
              "\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}"),
          "$.app.args", "expected an array of at most 16 strings" },
        { APP("{\"path\":\"a\",\"args\":[\"x\",2]}"), "$.app.args[1]", "expected a string of at most 127 bytes" },
        { APP("{\"path\":\"a\",\"args\":[[\"x\"]]}"), "$.app.args[0]", "expected a string of at most 127 bytes" },
        { APP("{\"path\":\"a\",\"env\":[]}"), "$.app.env", "expected an object of at most 32 variables" },
        { APP("{\"path\":\"a\",\"env\":{\"1A\":\"x\"}}"), "$.app.env.1A",
          "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}" },
        { APP("{\"path\":\"a\",\"env\":{\"A-B\":\"x\"}}"), "$.app.env.A-B",
          "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}" },
        { APP("{\"path\":\"a\",\"env\":{\"\":\"x\"}}"), "$.app.env.",
          "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}" },
        { APP("{\"path\":\"a\",\"env\":{\"ABCDEFGHIJABCDEFGHIJABCDEFGHIJABC\":\"x\"}}"),
          "$.app.env.ABCDEFGHIJABCDEFGHIJABCDEFGHIJABC", "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}" },
        { APP("{\"path\":\"a\",\"env\":{\"A\":1}}"), "$.app.env.A", "expected a string of at most 255 bytes" },
        { APP("{\"path\":\"a\",\"env\":{\"A\":null}}"), "$.app.env.A", "expected a string of at most 255 bytes" },
        { APP("{\"path\":\"a\",\"env\":{\"A\":{\"B\":\"c\"}}}"), "$.app.env.A",
          "expected a string of at most 255 bytes" },
    };
    check_table(t, N(t));
    /* At the limits: 127-character path and argument, 16 arguments, 32
     * variables, a 255-byte value; one more of each is refused. */
    char doc[8192], part[512];
    char s127[128], s128[129], s255[256], s256[257];
    memset(s127, 'p', 127); s127[127] = '\0';
    memset(s128, 'p', 128); s128[128] = '\0';
    memset(s255, 'v', 255); s255[255] = '\0';
    memset(s256, 'v', 256); s256[256] = '\0';
    snprintf(doc, sizeof(doc), APP("{\"path\":\"%s\",\"args\":[\"%s\"],\"env\":{\"A\":\"%s\"}}"), s127, s127,
             s255);
    expect_ok(doc);
    snprintf(doc, sizeof(doc), APP("{\"path\":\"%s\"}"), s128);
    expect_refusal(doc, "$.app.path", PATH_MSG);
    snprintf(doc, sizeof(doc), APP("{\"path\":\"a\",\"args\":[\"%s\"]}"), s128);
    expect_refusal(doc, "$.app.args[0]", "expected a string of at most 127 bytes");
    snprintf(doc, sizeof(doc), APP("{\"path\":\"a\",\"env\":{\"A\":\"%s\"}}"), s256);
    expect_refusal(doc, "$.app.env.A", "expected a string of at most 255 bytes");
    for (int count = 32; count <= 33; count++) {
        snprintf(doc, sizeof(doc), "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0\","
                                   "\"app\":{\"path\":\"a\",\"env\":{");
        for (int i = 0; i < count; i++) {
            snprintf(part, sizeof(part), "%s\"V%d\":\"x\"", i ? "," : "", i);
            strcat(doc, part);
        }
        strcat(doc, "}}}");
        if (count == 32)
            expect_ok(doc);
        else
            expect_refusal(doc, "$.app.env", "expected an object of at most 32 variables");
    }
    snprintf(doc, sizeof(doc), "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0\","
                               "\"app\":{\"path\":\"a\",\"args\":[");
    for (int i = 0; i < 16; i++)
        strcat(doc, i ? ",\"x\"" : "\"x\"");
    strcat(doc, "]}}");
    expect_ok(doc);
#undef APP
}

static void test_refused_endpoints(void **state)
{
    (void)state;
#define EPS(x) "{" HEAD ",\"endpoints\":" x "}"
    static const struct refusal t[] = {
        { EPS("{}"), "$.endpoints", "expected an array of at most 8 endpoints" },
        { EPS("[" EP_WEB ",{\"name\":\"b\",\"proto\":\"tcp\",\"port\":2},{\"name\":\"c\",\"proto\":\"tcp\",\"port\":3},"
              "{\"name\":\"d\",\"proto\":\"tcp\",\"port\":4},{\"name\":\"e\",\"proto\":\"tcp\",\"port\":5},"
              "{\"name\":\"f\",\"proto\":\"tcp\",\"port\":6},{\"name\":\"g\",\"proto\":\"tcp\",\"port\":7},"
              "{\"name\":\"h\",\"proto\":\"tcp\",\"port\":8},{\"name\":\"i\",\"proto\":\"tcp\",\"port\":9}]"),
          "$.endpoints", "expected an array of at most 8 endpoints" },
        { EPS("[80]"), "$.endpoints[0]", "expected an object" },
        { EPS("[{\"proto\":\"http\",\"port\":80}]"), "$.endpoints[0].name", "required key missing" },
        { EPS("[{\"name\":\"web\",\"port\":80}]"), "$.endpoints[0].proto", "required key missing" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\"}]"), "$.endpoints[0].port", "required key missing" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\",\"port\":80,\"tls\":true}]"), "$.endpoints[0].tls",
          "unknown key" },
        { EPS("[{\"name\":\"Web\",\"proto\":\"http\",\"port\":80}]"), "$.endpoints[0].name",
          "expected 1 to 32 characters from [a-z0-9_-]" },
        { EPS("[{\"name\":\"w.b\",\"proto\":\"http\",\"port\":80}]"), "$.endpoints[0].name",
          "expected 1 to 32 characters from [a-z0-9_-]" },
        { EPS("[{\"name\":\"web\",\"proto\":\"ftp\",\"port\":80}]"), "$.endpoints[0].proto",
          "expected one of \"http\", \"https\", \"tcp\", \"udp\"" },
        { EPS("[{\"name\":\"web\",\"proto\":\"HTTP\",\"port\":80}]"), "$.endpoints[0].proto",
          "expected one of \"http\", \"https\", \"tcp\", \"udp\"" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\",\"port\":0}]"), "$.endpoints[0].port",
          "expected an integer from 1 to 65535" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\",\"port\":65536}]"), "$.endpoints[0].port",
          "expected an integer from 1 to 65535" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\",\"port\":-80}]"), "$.endpoints[0].port",
          "expected an integer from 1 to 65535" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\",\"port\":80.5}]"), "$.endpoints[0].port",
          "expected an integer from 1 to 65535" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\",\"port\":1e300}]"), "$.endpoints[0].port",
          "expected an integer from 1 to 65535" },
        { EPS("[{\"name\":\"web\",\"proto\":\"http\",\"port\":\"80\"}]"), "$.endpoints[0].port",
          "expected an integer from 1 to 65535" },
        { EPS("[{\"name\":\"s\",\"proto\":\"https\",\"port\":443,\"key\":\"k.pem\"}]"), "$.endpoints[0].cert",
          "required key missing (proto \"https\")" },
        { EPS("[{\"name\":\"s\",\"proto\":\"https\",\"port\":443,\"cert\":\"c.pem\"}]"), "$.endpoints[0].key",
          "required key missing (proto \"https\")" },
        { EPS("[{\"cert\":\"c.pem\",\"name\":\"s\",\"proto\":\"http\",\"port\":80}]"), "$.endpoints[0].cert",
          "only allowed with proto \"https\"" },
        { EPS("[{\"name\":\"s\",\"proto\":\"tcp\",\"port\":80,\"key\":\"k.pem\"}]"), "$.endpoints[0].key",
          "only allowed with proto \"https\"" },
        { EPS("[{\"name\":\"s\",\"proto\":\"https\",\"port\":443,\"cert\":\"/c.pem\",\"key\":\"k\"}]"),
          "$.endpoints[0].cert", "expected a relative path of at most 127 characters" },
        { EPS("[{\"name\":\"s\",\"proto\":\"https\",\"port\":443,\"cert\":\"c\",\"key\":\"../k\"}]"),
          "$.endpoints[0].key", "expected a relative path of at most 127 characters" },
        { EPS("[" EP_WEB ",{\"name\":\"web\",\"proto\":\"tcp\",\"port\":81}]"), "$.endpoints[1].name",
          "endpoint name \"web\" already used by endpoints[0]" },
        { EPS("[" EP_WEB ",{\"name\":\"raw\",\"proto\":\"tcp\",\"port\":80}]"), "$.endpoints[1].port",
          "port 80/tcp already used by endpoint \"web\"" },
        { EPS("[" EP_WEB ",{\"name\":\"s\",\"proto\":\"https\",\"port\":80,\"cert\":\"c\",\"key\":\"k\"}]"),
          "$.endpoints[1].port", "port 80/tcp already used by endpoint \"web\"" },
        { EPS("[{\"name\":\"u\",\"proto\":\"udp\",\"port\":53},{\"name\":\"v\",\"proto\":\"udp\",\"port\":53}]"),
          "$.endpoints[1].port", "port 53/udp already used by endpoint \"u\"" },
    };
    check_table(t, N(t));
    /* A tcp-family and a udp endpoint may share a number; 8 endpoints fit. */
    expect_ok(EPS("[" EP_WEB ",{\"name\":\"dns\",\"proto\":\"udp\",\"port\":80}]"));
    expect_ok(EPS("[" EP_WEB ",{\"name\":\"b\",\"proto\":\"tcp\",\"port\":2},{\"name\":\"c\",\"proto\":\"tcp\",\"port\":3},"
                  "{\"name\":\"d\",\"proto\":\"tcp\",\"port\":4},{\"name\":\"e\",\"proto\":\"tcp\",\"port\":5},"
                  "{\"name\":\"f\",\"proto\":\"tcp\",\"port\":6},{\"name\":\"g\",\"proto\":\"tcp\",\"port\":7},"
                  "{\"name\":\"h\",\"proto\":\"udp\",\"port\":65535}]"));
#undef EPS
}

static void test_refused_network(void **state)
{
    (void)state;
#define NET(x) "{" HEAD ",\"network\":" x "}"
#define CIDR_MSG "expected a unicast IPv4 address and prefix length like \"192.0.2.2/24\""
#define IPV4_MSG "expected a unicast IPv4 address like \"192.0.2.1\""
#define HOST_MSG "expected a hostname of at most 63 characters (RFC 1123 labels)"
#define STATIC(x) NET("{\"mode\":\"static\",\"address\":" x "}")
    static const struct refusal t[] = {
        { NET("\"dhcp\""), "$.network", "expected an object" },
        { NET("{}"), "$.network.mode", "required key missing" },
        { NET("{\"mode\":\"auto\"}"), "$.network.mode", "expected one of \"dhcp\", \"static\"" },
        { NET("{\"mode\":\"dhcp\",\"mtu\":1500}"), "$.network.mtu", "unknown key" },
        { NET("{\"mode\":\"static\"}"), "$.network.address", "required key missing (mode \"static\")" },
        { NET("{\"mode\":\"dhcp\",\"address\":\"192.0.2.2/24\"}"), "$.network.address",
          "only allowed with mode \"static\"" },
        { NET("{\"mode\":\"dhcp\",\"gateway\":\"192.0.2.1\"}"), "$.network.gateway",
          "only allowed with mode \"static\"" },
        { NET("{\"dns\":[\"192.0.2.1\"],\"mode\":\"dhcp\"}"), "$.network.dns",
          "only allowed with mode \"static\"" },
        { STATIC("\"192.0.2.2\""), "$.network.address", CIDR_MSG },
        { STATIC("\"192.0.2.2/33\""), "$.network.address", CIDR_MSG },
        { STATIC("\"192.0.2.2/0\""), "$.network.address", CIDR_MSG },
        { STATIC("\"192.0.2.2/024\""), "$.network.address", CIDR_MSG },
        { STATIC("\"192.0.2.2/\""), "$.network.address", CIDR_MSG },
        { STATIC("\"0.0.0.0/8\""), "$.network.address", CIDR_MSG },
        { STATIC("\"224.0.0.1/4\""), "$.network.address", CIDR_MSG },
        { STATIC("\"192.0.2.256/24\""), "$.network.address", CIDR_MSG },
        { STATIC("\"192.0.02.1/24\""), "$.network.address", CIDR_MSG },
        { STATIC("24"), "$.network.address", CIDR_MSG },
        { NET("{\"mode\":\"static\",\"address\":\"192.0.2.2/24\",\"gateway\":\"x\"}"), "$.network.gateway",
          IPV4_MSG },
        { NET("{\"mode\":\"static\",\"address\":\"192.0.2.2/24\",\"gateway\":\"255.255.255.255\"}"),
          "$.network.gateway", IPV4_MSG },
        { NET("{\"mode\":\"static\",\"address\":\"192.0.2.2/24\",\"dns\":\"192.0.2.1\"}"), "$.network.dns",
          "expected an array of at most 3 IPv4 addresses" },
        { NET("{\"mode\":\"static\",\"address\":\"192.0.2.2/24\",\"dns\":[\"192.0.2.1\",\"192.0.2.2\","
              "\"192.0.2.3\",\"192.0.2.4\"]}"),
          "$.network.dns", "expected an array of at most 3 IPv4 addresses" },
        { NET("{\"mode\":\"static\",\"address\":\"192.0.2.2/24\",\"dns\":[\"192.0.2.1\",\"dns\"]}"),
          "$.network.dns[1]", IPV4_MSG },
        { NET("{\"mode\":\"dhcp\",\"hostname\":\"-web\"}"), "$.network.hostname", HOST_MSG },
        { NET("{\"mode\":\"dhcp\",\"hostname\":\"web-\"}"), "$.network.hostname", HOST_MSG },
        { NET("{\"mode\":\"dhcp\",\"hostname\":\"a..b\"}"), "$.network.hostname", HOST_MSG },
        { NET("{\"mode\":\"dhcp\",\"hostname\":\"a.\"}"), "$.network.hostname", HOST_MSG },
        { NET("{\"mode\":\"dhcp\",\"hostname\":\"we_b\"}"), "$.network.hostname", HOST_MSG },
        { NET("{\"mode\":\"dhcp\",\"hostname\":\"\"}"), "$.network.hostname", HOST_MSG },
        { NET("{\"mode\":\"dhcp\",\"hostname\":\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
              "abcd\"}"),
          "$.network.hostname", HOST_MSG },
    };
    check_table(t, N(t));
    expect_ok(NET("{\"mode\":\"dhcp\",\"hostname\":\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
                  "abcdefghij.b\"}"));
    expect_ok(NET("{\"mode\":\"static\",\"address\":\"10.0.0.1/32\",\"dns\":[]}"));
#undef NET
#undef STATIC
}

static void test_refused_mounts_resources(void **state)
{
    (void)state;
#define MNT(x) "{" HEAD ",\"mounts\":" x "}"
#define ABS_MSG "expected an absolute path of at most 127 characters ([A-Za-z0-9._+@-] parts, no \".\" or \"..\")"
#define RES(x) "{" HEAD ",\"resources\":{" x "}}"
    static const struct refusal t[] = {
        { MNT("{}"), "$.mounts", "expected an array of at most 4 mounts" },
        { MNT("[{},{},{},{},{}]"), "$.mounts", "expected an array of at most 4 mounts" },
        { MNT("[\"data\"]"), "$.mounts[0]", "expected an object" },
        { MNT("[{\"path\":\"/data\"}]"), "$.mounts[0].volume", "required key missing" },
        { MNT("[{\"volume\":\"data\"}]"), "$.mounts[0].path", "required key missing" },
        { MNT("[{\"volume\":\"logs\",\"path\":\"/l\"}]"), "$.mounts[0].volume",
          "expected one of \"data\", \"boot\"" },
        { MNT("[{\"volume\":\"data\",\"path\":\"data\"}]"), "$.mounts[0].path", ABS_MSG },
        { MNT("[{\"volume\":\"data\",\"path\":\"/data/../etc\"}]"), "$.mounts[0].path", ABS_MSG },
        { MNT("[{\"volume\":\"data\",\"path\":\"//data\"}]"), "$.mounts[0].path", ABS_MSG },
        { MNT("[{\"volume\":\"data\",\"path\":\"/data/\"}]"), "$.mounts[0].path", ABS_MSG },
        { MNT("[{\"volume\":\"data\",\"path\":\"/d\",\"read_only\":\"yes\"}]"), "$.mounts[0].read_only",
          "expected true or false" },
        { MNT("[{\"volume\":\"data\",\"path\":\"/d\",\"read_only\":0}]"), "$.mounts[0].read_only",
          "expected true or false" },
        { MNT("[{\"volume\":\"data\",\"path\":\"/d\",\"size\":1}]"), "$.mounts[0].size", "unknown key" },
        { MNT("[{\"volume\":\"data\",\"path\":\"/d\"},{\"volume\":\"boot\",\"path\":\"/d\"}]"),
          "$.mounts[1].path", "path \"/d\" already used by mounts[0]" },
        { MNT("[{\"volume\":\"data\",\"path\":\"/d\"},{\"volume\":\"data\",\"path\":\"/e\"}]"),
          "$.mounts[1].volume", "volume \"data\" already mounted by mounts[0]" },
        { "{" HEAD ",\"resources\":[]}", "$.resources", "expected an object" },
        { RES("\"cpus\":1"), "$.resources.cpus", "unknown key" },
        { RES("\"memory_mib\":0"), "$.resources.memory_mib", "expected an integer from 1 to 4096" },
        { RES("\"memory_mib\":4097"), "$.resources.memory_mib", "expected an integer from 1 to 4096" },
        { RES("\"memory_mib\":\"16\""), "$.resources.memory_mib", "expected an integer from 1 to 4096" },
        { RES("\"threads\":0"), "$.resources.threads", "expected an integer from 1 to 256" },
        { RES("\"threads\":257"), "$.resources.threads", "expected an integer from 1 to 256" },
        { RES("\"stack_kib\":127"), "$.resources.stack_kib", "expected an integer from 128 to 8192" },
        { RES("\"stack_kib\":8193"), "$.resources.stack_kib", "expected an integer from 128 to 8192" },
        { RES("\"tcp_connections\":0"), "$.resources.tcp_connections", "expected an integer from 1 to 65535" },
        { RES("\"tcp_connections\":65536"), "$.resources.tcp_connections",
          "expected an integer from 1 to 65535" },
        { RES("\"tcp_connections\":1.5"), "$.resources.tcp_connections",
          "expected an integer from 1 to 65535" },
    };
    check_table(t, N(t));
    expect_ok(MNT("[{\"volume\":\"data\",\"path\":\"/\"},{\"volume\":\"boot\",\"path\":\"/boot/efi\"}]"));
    expect_ok(RES("\"memory_mib\":4096,\"threads\":256,\"stack_kib\":8192,\"tcp_connections\":65535"));
    expect_ok(RES("\"memory_mib\":1,\"threads\":1,\"stack_kib\":128,\"tcp_connections\":1"));
#undef MNT
#undef RES
}

static void test_refused_health(void **state)
{
    (void)state;
#define HL(x) "{" HEAD ",\"endpoints\":[" EP_WEB ",{\"name\":\"dns\",\"proto\":\"udp\",\"port\":53}," \
              "{\"name\":\"s\",\"proto\":\"https\",\"port\":443,\"cert\":\"c\",\"key\":\"k\"}],\"health\":" x "}"
    static const struct refusal t[] = {
        { HL("\"always\""), "$.health", "expected \"none\" or an object" },
        { HL("true"), "$.health", "expected \"none\" or an object" },
        { HL("{}"), "$.health", "expected one of the keys \"http\" or \"tcp\"" },
        { HL("{\"interval_ms\":100}"), "$.health", "expected one of the keys \"http\" or \"tcp\"" },
        { HL("{\"http\":\"/h\",\"port\":80,\"tcp\":80}"), "$.health.tcp", "not allowed with \"http\"" },
        { HL("{\"tcp\":80,\"port\":80}"), "$.health.port", "only allowed with \"http\"" },
        { HL("{\"http\":\"/h\"}"), "$.health.port", "required key missing (with \"http\")" },
        { HL("{\"http\":\"healthz\",\"port\":80}"), "$.health.http",
          "expected a path starting with \"/\" of at most 127 visible ASCII characters" },
        { HL("{\"http\":\"/a b\",\"port\":80}"), "$.health.http",
          "expected a path starting with \"/\" of at most 127 visible ASCII characters" },
        { HL("{\"http\":\"/\\u00e9\",\"port\":80}"), "$.health.http",
          "expected a path starting with \"/\" of at most 127 visible ASCII characters" },
        { HL("{\"http\":\"/h\",\"port\":0}"), "$.health.port", "expected an integer from 1 to 65535" },
        { HL("{\"tcp\":65536}"), "$.health.tcp", "expected an integer from 1 to 65535" },
        { HL("{\"http\":\"/h\",\"port\":80,\"timeout\":1}"), "$.health.timeout", "unknown key" },
        { HL("{\"http\":\"/h\",\"port\":80,\"interval_ms\":9}"), "$.health.interval_ms",
          "expected an integer from 10 to 600000" },
        { HL("{\"http\":\"/h\",\"port\":80,\"interval_ms\":600001}"), "$.health.interval_ms",
          "expected an integer from 10 to 600000" },
        { HL("{\"http\":\"/h\",\"port\":80,\"deadline_ms\":99}"), "$.health.deadline_ms",
          "expected an integer from 100 to 3600000" },
        { HL("{\"http\":\"/h\",\"port\":80,\"deadline_ms\":3600001}"), "$.health.deadline_ms",
          "expected an integer from 100 to 3600000" },
        { HL("{\"http\":\"/h\",\"port\":80,\"failures\":0}"), "$.health.failures",
          "expected an integer from 1 to 100" },
        { HL("{\"http\":\"/h\",\"port\":80,\"failures\":101}"), "$.health.failures",
          "expected an integer from 1 to 100" },
        { HL("{\"http\":\"/h\",\"port\":81}"), "$.health.port", "no http endpoint on port 81" },
        { HL("{\"http\":\"/h\",\"port\":443}"), "$.health.port", "no http endpoint on port 443" },
        { HL("{\"tcp\":53}"), "$.health.tcp", "no tcp, http or https endpoint on port 53" },
        { "{" HEAD ",\"health\":{\"http\":\"/healthz\",\"port\":80}}", "$.health.port",
          "no http endpoint on port 80" },
    };
    check_table(t, N(t));
    expect_ok(HL("{\"tcp\":80}"));
    expect_ok(HL("{\"tcp\":443}"));
    expect_ok(HL("\"none\""));
    expect_ok(HL("{\"port\":80,\"http\":\"/\",\"interval_ms\":10,\"deadline_ms\":100,\"failures\":1}"));
    expect_ok(HL("{\"http\":\"/h\",\"port\":80,\"interval_ms\":600000,\"deadline_ms\":3600000,\"failures\":100}"));
#undef HL
}

/* "update": the OS's update endpoint (docs/updates.md). */
static void test_update_section(void **state)
{
    (void)state;
#define UP(x) "{" HEAD ",\"update\":" x "}"
#define TOK "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""
    static const char hexmsg[] = "expected 64 lowercase hex digits (the SHA-256 of the token)";
    static const struct refusal t[] = {
        { UP("true"), "$.update", "expected an object" },
        { UP("{}"), "$.update.path", "required key missing" },
        { UP("{\"path\":\"/u\"}"), "$.update.token_sha256", "required key missing" },
        { UP("{\"path\":\"u\",\"token_sha256\":" TOK "}"), "$.update.path",
          "expected a path starting with \"/\" of at most 127 visible ASCII characters" },
        { UP("{\"path\":\"/u\",\"token_sha256\":\"0123\"}"), "$.update.token_sha256", hexmsg },
        { UP("{\"path\":\"/u\",\"token_sha256\":"
             "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}"),
          "$.update.token_sha256", hexmsg },
        { UP("{\"path\":\"/u\",\"token_sha256\":"
             "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"}"),
          "$.update.token_sha256", hexmsg },
        { UP("{\"path\":\"/u\",\"token_sha256\":" TOK ",\"tries\":0}"), "$.update.tries",
          "expected an integer from 1 to 100" },
        { UP("{\"path\":\"/u\",\"token_sha256\":" TOK ",\"token\":\"x\"}"), "$.update.token",
          "unknown key" },
    };
    check_table(t, N(t));
    struct tern_manifest m;
    struct tern_manifest_error err;
    const char *ok = UP("{\"path\":\"/tern/update\",\"token_sha256\":" TOK ",\"tries\":5}");
    assert_int_equal(tern_manifest_parse(ok, strlen(ok), &m, &err), TERN_OK);
    assert_true(m.update.enabled);
    assert_string_equal(m.update.path, "/tern/update");
    assert_int_equal(m.update.token_sha256[0], 0x01);
    assert_int_equal(m.update.token_sha256[31], 0xef);
    assert_int_equal(m.update.tries, 5);
    const char *off = "{" HEAD "}";
    assert_int_equal(tern_manifest_parse(off, strlen(off), &m, &err), TERN_OK);
    assert_false(m.update.enabled);
#undef TOK
#undef UP
}

/* A repeated key at each level of the schema (cJSON keeps both silently). */
static void test_refused_duplicates(void **state)
{
    (void)state;
    static const struct refusal t[] = {
        { "{" HEAD ",\"name\":\"b\"}", "$.name", "duplicate key" },
        { "{\"tern_manifest\":1,\"tern_manifest\":1}", "$.tern_manifest", "duplicate key" },
        { "{" HEAD ",\"app\":{\"path\":\"a\"}}", "$.app", "duplicate key" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0\",\"app\":{\"path\":\"a\",\"path\":\"b\"}}",
          "$.app.path", "duplicate key" },
        { "{\"tern_manifest\":1,\"name\":\"a\",\"version\":\"1.0.0\",\"app\":{\"path\":\"a\","
          "\"env\":{\"A\":\"1\",\"B\":\"2\",\"A\":\"3\"}}}",
          "$.app.env.A", "duplicate key" },
        { "{" HEAD ",\"endpoints\":[{\"name\":\"web\",\"proto\":\"http\",\"port\":80,\"port\":81}]}",
          "$.endpoints[0].port", "duplicate key" },
        { "{" HEAD ",\"network\":{\"mode\":\"dhcp\",\"mode\":\"static\"}}", "$.network.mode", "duplicate key" },
        { "{" HEAD ",\"mounts\":[{\"volume\":\"data\",\"path\":\"/d\",\"path\":\"/e\"}]}", "$.mounts[0].path",
          "duplicate key" },
        { "{" HEAD ",\"resources\":{\"threads\":1,\"threads\":2}}", "$.resources.threads", "duplicate key" },
        { "{" HEAD ",\"health\":{\"tcp\":1,\"tcp\":1}}", "$.health.tcp", "duplicate key" },
        { "{" HEAD ",\"log_level\":\"info\",\"log_level\":\"info\"}", "$.log_level", "duplicate key" },
    };
    check_table(t, N(t));
}

/* A very long unknown key: the path is cut to the buffer, the refusal
 * still names it. */
static void test_long_path_is_cut(void **state)
{
    (void)state;
    char doc[1024], key[301];
    memset(key, 'k', 300);
    key[300] = '\0';
    snprintf(doc, sizeof(doc), "{" HEAD ",\"%s\":1}", key);
    struct tern_manifest m;
    struct tern_manifest_error err;
    assert_int_equal(parse_exact(doc, strlen(doc), &m, &err), TERN_EINVAL);
    assert_int_equal(strlen(err.path), sizeof(err.path) - 1);
    assert_memory_equal(err.path, "$.kkkk", 6);
    assert_string_equal(err.msg, "unknown key");
}

/* ---- whole, truncated, mutated ---- */

static void check_truncations(const char *fixture)
{
    size_t len;
    char *text = read_fixture(fixture, &len);
    text[len] = '\0';
    const char *last = strrchr(text, '}');
    assert_non_null(last);
    size_t complete = (size_t)(last - text) + 1;
    struct tern_manifest m;
    struct tern_manifest_error err;
    for (size_t cut = 0; cut <= len; cut++) {
        tern_result r = parse_exact(text, cut, &m, &err);
        tern_result want = cut < complete ? TERN_EINVAL : TERN_OK;
        if (r != want)
            fail_msg("%s cut at %zu of %zu: %s (%s: %s)", fixture, cut, len, tern_result_name(r),
                     err.path, err.msg);
        if (r != TERN_OK && (strcmp(err.path, "$") != 0 || err.msg[0] == '\0'))
            fail_msg("%s cut at %zu: refusal %s: %s", fixture, cut, err.path, err.msg);
    }
    free(text);
}

/* Every prefix of each valid fixture: refused (at "$": a prefix is never
 * a whole document) until the closing brace, accepted from there on. */
static void test_every_truncation(void **state)
{
    (void)state;
    check_truncations("full.json");
    check_truncations("hello.json");
    check_truncations("kv.json");
    check_truncations("echo.json");
}

static void test_every_byte_mutated(void **state)
{
    (void)state;
    static const unsigned char subst[] = { 0x00, '"', '{', '}', '[', ']', ',', ':', '\\', 0xff, 0xc3,
                                           ' ', 'x', '0', '9', '-', '.', 'e' };
    size_t len;
    char *text = read_fixture("full.json", &len);
    char *copy = malloc(len);
    assert_non_null(copy);
    struct tern_manifest m;
    struct tern_manifest_error err;
    unsigned accepted = 0, refused = 0;
    for (size_t at = 0; at < len; at++) {
        for (size_t s = 0; s < sizeof(subst); s++) {
            memcpy(copy, text, len);
            copy[at] = (char)subst[s];
            tern_result r = tern_manifest_parse(copy, len, &m, &err);
            if (r == TERN_OK) {
                accepted++;
            } else if (r == TERN_EINVAL && err.path[0] == '$' && err.msg[0] != '\0') {
                refused++;
            } else {
                fail_msg("byte %zu = 0x%02x: %s %s: %s", at, subst[s], tern_result_name(r), err.path,
                         err.msg);
            }
        }
    }
    print_message("mutations: %u accepted, %u refused\n", accepted, refused);
    assert_true(refused > accepted);
    free(copy);
    free(text);
}

/* ---- cJSON's memory: out of it, and how much a parse takes ---- */

struct alloc_stats {
    size_t live_bytes, peak_bytes, live_blocks, calls;
    long fail_after;        /* -1: never */
};
static struct alloc_stats stats; /* cJSON's hooks take no context */

static void *counting_malloc(size_t n)
{
    if (stats.fail_after >= 0 && (long)stats.calls >= stats.fail_after)
        return NULL;
    stats.calls++;
    size_t *p = malloc(n + 16);
    if (p == NULL)
        return NULL;
    p[0] = n;
    stats.live_bytes += n;
    stats.live_blocks++;
    if (stats.live_bytes > stats.peak_bytes)
        stats.peak_bytes = stats.live_bytes;
    return (char *)p + 16;
}

static void counting_free(void *q)
{
    if (q == NULL)
        return;
    size_t *p = (size_t *)((char *)q - 16);
    stats.live_bytes -= p[0];
    stats.live_blocks--;
    free(p);
}

static void use_counting_hooks(long fail_after)
{
    memset(&stats, 0, sizeof(stats));
    stats.fail_after = fail_after;
    cJSON_Hooks hooks = { counting_malloc, counting_free };
    cJSON_InitHooks(&hooks);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("full.json", &len);
    struct tern_manifest m;
    struct tern_manifest_error err;
    use_counting_hooks(-1);
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    size_t needed = stats.calls;
    assert_int_equal(stats.live_blocks, 0);
    assert_true(needed > 10);
    /* Fail the k-th allocation for every k: ENOMEM, nothing leaked. */
    for (size_t k = 0; k < needed; k++) {
        use_counting_hooks((long)k);
        tern_result r = parse_exact(text, len, &m, &err);
        if (r != TERN_ENOMEM)
            fail_msg("allocation %zu failing: %s", k, tern_result_name(r));
        assert_string_equal(err.path, "$");
        assert_string_equal(err.msg, "out of memory while parsing");
        assert_int_equal(stats.live_blocks, 0);
    }
    cJSON_InitHooks(NULL);
    free(text);
}

/* The worst documents the scan lets through: 1024 values, and 64 KiB of
 * strings. The figure goes into docs/manifest.md. */
static void test_memory_bound(void **state)
{
    (void)state;
    char *doc = malloc(TERN_MANIFEST_MAX_BYTES + 1);
    assert_non_null(doc);
    struct tern_manifest m;
    struct tern_manifest_error err;
    size_t worst = 0;
    /* (a) 1024 values, as many as possible of them objects with keys. */
    size_t n = (size_t)sprintf(doc, "[");
    for (int i = 0; i < 1023; i++)
        n += (size_t)sprintf(doc + n, "%s{}", i ? "," : "");
    n += (size_t)sprintf(doc + n, "]");
    use_counting_hooks(-1);
    assert_int_equal(parse_exact(doc, n, &m, &err), TERN_EINVAL);
    assert_string_equal(err.msg, "expected an object");
    print_message("1024 empty objects: peak %zu bytes in %zu allocations\n", stats.peak_bytes,
                  stats.calls);
    worst = stats.peak_bytes > worst ? stats.peak_bytes : worst;
    /* (b) 512 members whose keys and values fill the 64 KiB. */
    n = (size_t)sprintf(doc, "{");
    for (int i = 0; i < 511; i++) {
        int klen = 60;
        n += (size_t)sprintf(doc + n, "%s\"%0*d\":\"", i ? "," : "", klen, i);
        memset(doc + n, 'v', 60);
        n += 60;
        doc[n++] = '"';
    }
    doc[n++] = '}';
    use_counting_hooks(-1);
    assert_true(n <= TERN_MANIFEST_MAX_BYTES);
    assert_int_equal(parse_exact(doc, n, &m, &err), TERN_EINVAL);
    print_message("511 members of %zu bytes: peak %zu bytes in %zu allocations\n", n, stats.peak_bytes,
                  stats.calls);
    worst = stats.peak_bytes > worst ? stats.peak_bytes : worst;
    /* (c) one 64 KiB string. */
    n = (size_t)sprintf(doc, "{\"a\":\"");
    size_t fill = TERN_MANIFEST_MAX_BYTES - n - 2;
    memset(doc + n, 's', fill);
    n += fill;
    n += (size_t)sprintf(doc + n, "\"}");
    use_counting_hooks(-1);
    assert_int_equal(parse_exact(doc, n, &m, &err), TERN_EINVAL);
    print_message("one string of %zu bytes: peak %zu bytes\n", fill, stats.peak_bytes);
    worst = stats.peak_bytes > worst ? stats.peak_bytes : worst;
    /* (d) 1023 strings of 60 bytes: the most nodes and string bytes at once. */
    n = (size_t)sprintf(doc, "[");
    for (int i = 0; i < 1023; i++) {
        n += (size_t)sprintf(doc + n, "%s\"", i ? "," : "");
        memset(doc + n, 'w', 60);
        n += 60;
        doc[n++] = '"';
    }
    doc[n++] = ']';
    assert_true(n <= TERN_MANIFEST_MAX_BYTES);
    use_counting_hooks(-1);
    assert_int_equal(parse_exact(doc, n, &m, &err), TERN_EINVAL);
    print_message("1023 strings in %zu bytes: peak %zu bytes in %zu allocations\n", n,
                  stats.peak_bytes, stats.calls);
    worst = stats.peak_bytes > worst ? stats.peak_bytes : worst;
    cJSON_InitHooks(NULL);
    /* The bound docs/manifest.md states: a node per value, plus at most
     * the document's own bytes for keys and strings. */
    print_message("worst peak: %zu bytes\n", worst);
    assert_true(worst <= TERN_MANIFEST_MAX_VALUES * sizeof(cJSON) + TERN_MANIFEST_MAX_BYTES);
    free(doc);
}

/* ---- overrides ---- */

static void expect_override_refused(struct tern_manifest *m, const char *kv, const char *path,
                                    const char *msg)
{
    struct tern_manifest before = *m;
    struct tern_manifest_error err;
    tern_result r = tern_manifest_override(m, kv, &err);
    if (r != TERN_EINVAL || strcmp(err.path, path) != 0 || strcmp(err.msg, msg) != 0)
        fail_msg("override %s\n  want EINVAL %s: %s\n  got  %s %s: %s", kv, path, msg,
                 tern_result_name(r), err.path, err.msg);
    assert_memory_equal(&before, m, sizeof(before)); /* unchanged */
}

static void expect_override_ok(struct tern_manifest *m, const char *kv)
{
    struct tern_manifest_error err;
    tern_result r = tern_manifest_override(m, kv, &err);
    if (r != TERN_OK)
        fail_msg("override %s refused: %s: %s", kv, err.path, err.msg);
}

static void test_override_default(void **state)
{
    (void)state;
    struct tern_manifest m;
    tern_manifest_default(&m);
    expect_override_ok(&m, "log_level=debug");
    assert_int_equal(m.log_level, TERN_MANIFEST_LOG_DEBUG);
    expect_override_ok(&m, "env.GREETING=Hi there=you");
    assert_string_equal(tern_manifest_env(&m, "GREETING"), "Hi there=you");
    expect_override_ok(&m, "env.NEW=");
    assert_string_equal(tern_manifest_env(&m, "NEW"), "");
    assert_int_equal(m.env_count, 2);
    expect_override_ok(&m, "endpoints.web.port=8080");
    assert_int_equal(tern_manifest_endpoint(&m, "web")->port, 8080);
    assert_int_equal(m.health.port, 8080); /* the health check follows */

    expect_override_refused(&m, "network.address=192.0.2.9/24", "network.address", "not overridable");
    expect_override_refused(&m, "network.mode=dhcp", "network.mode", "not overridable");
    expect_override_refused(&m, "restart=never", "restart", "unknown key");
    expect_override_refused(&m, "name=x", "name", "unknown key");
    expect_override_refused(&m, "env=x", "env", "unknown key");
    expect_override_refused(&m, "log_level", "log_level", "expected KEY=VALUE");
    expect_override_refused(&m, "=x", "", "expected a key of 1 to 64 characters");
    expect_override_refused(&m, "log_level=loud", "log_level",
                            "expected one of \"debug\", \"info\", \"warn\", \"error\"");
    expect_override_refused(&m, "log_level=", "log_level",
                            "expected one of \"debug\", \"info\", \"warn\", \"error\"");
    expect_override_refused(&m, "env.1X=y", "env.1X", "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}");
    expect_override_refused(&m, "env.=y", "env.", "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}");
    expect_override_refused(&m, "env.A\nB=y", "env.A?B", "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}");
    expect_override_refused(&m, "env.A=\xff", "env.A", "expected a UTF-8 value of at most 255 bytes");
    char kv[400];
    snprintf(kv, sizeof(kv), "env.A=%0256d", 0);
    expect_override_refused(&m, kv, "env.A", "expected a UTF-8 value of at most 255 bytes");
    snprintf(kv, sizeof(kv), "env.A=%0255d", 0);
    expect_override_ok(&m, kv);
    expect_override_refused(&m, "endpoints.api.port=1", "endpoints.api.port", "no such endpoint");
    expect_override_refused(&m, "endpoints.web.addr=1", "endpoints.web.addr", "unknown key");
    expect_override_refused(&m, "endpoints.web=1", "endpoints.web", "unknown key");
    expect_override_refused(&m, "endpoints.web.port.x=1", "endpoints.web.port.x", "unknown key");
    static const char *const bad_ports[] = { "0", "65536", "080", "8o", "", "-1", "+80", "99999999" };
    for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++) {
        snprintf(kv, sizeof(kv), "endpoints.web.port=%s", bad_ports[i]);
        expect_override_refused(&m, kv, "endpoints.web.port", "expected an integer from 1 to 65535");
    }
    expect_override_ok(&m, "endpoints.web.port=65535");
    /* A key too long to be any key: refused, the path cut to 64. */
    snprintf(kv, sizeof(kv), "env.%070d=x", 0);
    struct tern_manifest_error err;
    assert_int_equal(tern_manifest_override(&m, kv, &err), TERN_EINVAL);
    assert_string_equal(err.msg, "expected a key of 1 to 64 characters");
    assert_int_equal(strlen(err.path), 64);
}

static void test_override_env_full(void **state)
{
    (void)state;
    struct tern_manifest m;
    tern_manifest_default(&m);
    char kv[64];
    for (int i = 1; i < TERN_MANIFEST_ENV_MAX; i++) {
        snprintf(kv, sizeof(kv), "env.V%d=%d", i, i);
        expect_override_ok(&m, kv);
    }
    assert_int_equal(m.env_count, 32);
    expect_override_refused(&m, "env.ONE_MORE=x", "env.ONE_MORE", "expected at most 32 variables in all");
    expect_override_ok(&m, "env.V31=replaced"); /* replacing still works */
    assert_string_equal(tern_manifest_env(&m, "V31"), "replaced");
}

static void test_override_network_and_ports(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("full.json", &len);
    struct tern_manifest m;
    struct tern_manifest_error err;
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    free(text);
    expect_override_refused(&m, "endpoints.raw.port=8080", "endpoints.raw.port",
                            "port 8080/tcp already used by endpoint \"web\"");
    expect_override_ok(&m, "endpoints.dns-udp.port=8080"); /* its own port: no clash */
    expect_override_ok(&m, "endpoints.dns-udp.port=9000"); /* udp and tcp 9000 coexist */
    expect_override_ok(&m, "endpoints.raw.port=9001");
    assert_int_equal(m.health.port, 8080); /* not raw's: unchanged */
    expect_override_ok(&m, "network.gateway=192.0.2.254");
    assert_int_equal(m.network.gateway, 0xc00002feu);
    expect_override_ok(&m, "network.dns=192.0.2.1,192.0.2.2,192.0.2.3");
    assert_int_equal(m.network.dns_count, 3);
    assert_int_equal(m.network.dns[2], 0xc0000203u);
    expect_override_refused(&m, "network.dns=192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4", "network.dns",
                            "expected 1 to 3 comma-separated IPv4 addresses");
    expect_override_refused(&m, "network.dns=", "network.dns",
                            "expected 1 to 3 comma-separated IPv4 addresses");
    expect_override_refused(&m, "network.dns=192.0.2.1,", "network.dns",
                            "expected 1 to 3 comma-separated IPv4 addresses");
    expect_override_refused(&m, "network.gateway=300.1.1.1", "network.gateway",
                            "expected a unicast IPv4 address like \"192.0.2.1\"");
    expect_override_refused(&m, "network.address=192.0.2.9", "network.address",
                            "expected a unicast IPv4 address and prefix length like \"192.0.2.2/24\"");
    expect_override_refused(&m, "network.mtu=1500", "network.mtu", "unknown key");
    expect_override_refused(&m, "network.mode=auto", "network.mode", "expected one of \"dhcp\", \"static\"");
    expect_override_ok(&m, "network.mode=static"); /* already static: nothing changes */
    expect_override_ok(&m, "network.hostname=web2");
    assert_string_equal(m.network.hostname, "web2");
    expect_override_refused(&m, "network.hostname=-x", "network.hostname",
                            "expected a hostname of at most 63 characters (RFC 1123 labels) or \"\"");
    expect_override_ok(&m, "network.mode=dhcp");
    assert_int_equal(m.network.mode, TERN_MANIFEST_NET_DHCP);
    assert_int_equal(m.network.address, 0);
    assert_int_equal(m.network.gateway, 0);
    assert_int_equal(m.network.dns_count, 0);
    assert_string_equal(m.network.hostname, "web2"); /* the hostname stays */
    expect_override_refused(&m, "network.gateway=192.0.2.1", "network.gateway",
                            "only allowed with mode \"static\"");
    expect_override_refused(&m, "network.mode=static", "network.mode",
                            "set network.address (which selects static) instead");
    expect_override_ok(&m, "network.address=198.51.100.7/25");
    assert_int_equal(m.network.mode, TERN_MANIFEST_NET_STATIC);
    assert_int_equal(m.network.address, 0xc6336407u);
    assert_int_equal(m.network.prefix_len, 25);
    expect_override_ok(&m, "network.hostname=");
    assert_string_equal(m.network.hostname, "");
}

static void test_override_nothing_overridable(void **state)
{
    (void)state;
    const char *text = "{" HEAD ",\"endpoints\":[" EP_WEB "],\"overridable\":[]}";
    struct tern_manifest m;
    struct tern_manifest_error err;
    assert_int_equal(parse_exact(text, strlen(text), &m, &err), TERN_OK);
    expect_override_refused(&m, "log_level=debug", "log_level", "not overridable");
    expect_override_refused(&m, "env.A=b", "env.A", "not overridable");
    expect_override_refused(&m, "endpoints.web.port=81", "endpoints.web.port", "not overridable");
    expect_override_refused(&m, "network.mode=dhcp", "network.mode", "not overridable");
    /* "network" alone: only the network keys. */
    text = "{" HEAD ",\"overridable\":[\"network\"]}";
    assert_int_equal(parse_exact(text, strlen(text), &m, &err), TERN_OK);
    expect_override_ok(&m, "network.address=192.0.2.2/24");
    expect_override_refused(&m, "log_level=debug", "log_level", "not overridable");
}

/* ---- log ---- */

static void test_log_lines(void **state)
{
    (void)state;
    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 1u << 20, 1), 0);
    struct tern_platform p = sim_platform(&sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.console_level = TERN_LOG_INFO;
    static struct tern_os os;
    assert_int_equal(tern_os_init(&os, &p, &cfg), TERN_OK);
    struct tern_manifest m;
    tern_manifest_default(&m);
    tern_manifest_log(&os, &m);
    assert_true(sim_console_has(&sim, "app hello 1.0.0 path=hello.elf restart=on-failure log_level=info"));
    assert_true(sim_console_has(&sim, "args (0):\n"));
    assert_true(sim_console_has(&sim, "env (1, values not logged): GREETING\n"));
    assert_false(sim_console_has(&sim, "Hello from Tern"));
    assert_true(sim_console_has(&sim, "endpoint web http port=80\n"));
    assert_true(sim_console_has(&sim, "network dhcp hostname=-\n"));
    assert_true(sim_console_has(&sim, "resources memory_mib=1 threads=1 stack_kib=256 tcp_connections=default\n"));
    assert_true(sim_console_has(&sim, "health http /healthz port=80 interval_ms=1000 deadline_ms=10000 failures=3\n"));
    assert_true(sim_console_has(&sim, "overridable ports env log_level\n"));
    assert_true(sim_console_has(&sim, "update off\n"));

    size_t len;
    char *text = read_fixture("full.json", &len);
    struct tern_manifest_error err;
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    free(text);
    tern_manifest_log(&os, &m);
    assert_true(sim_console_has(&sim, "args (3): --flag --level=3 "));
    assert_true(sim_console_has(&sim, "endpoint secure https port=443 cert=tls/cert.pem key=tls/key.pem\n"));
    assert_true(sim_console_has(&sim, "endpoint dns-udp udp port=8080\n"));
    assert_true(sim_console_has(&sim, "network static address=192.0.2.2/24 gateway=192.0.2.1 "
                                      "dns=192.0.2.1,198.51.100.53 hostname=web1.example\n"));
    assert_true(sim_console_has(&sim, "mount data at /data rw\n"));
    assert_true(sim_console_has(&sim, "mount boot at /boot ro\n"));
    assert_true(sim_console_has(&sim, "overridable ports env log_level network\n"));
    text = read_fixture("echo.json", &len);
    assert_int_equal(parse_exact(text, len, &m, &err), TERN_OK);
    free(text);
    m.overridable = 0;
    tern_manifest_log(&os, &m);
    assert_true(sim_console_has(&sim, "health tcp port=7 interval_ms=1000"));
    assert_true(sim_console_has(&sim, "overridable none\n"));
    tern_os_finish(&os);
    sim_platform_close(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_refused_syntax),
        cmocka_unit_test(test_refused_limits_of_syntax),
        cmocka_unit_test(test_refused_top_level),
        cmocka_unit_test(test_refused_app),
        cmocka_unit_test(test_refused_endpoints),
        cmocka_unit_test(test_refused_network),
        cmocka_unit_test(test_refused_mounts_resources),
        cmocka_unit_test(test_refused_health),
        cmocka_unit_test(test_update_section),
        cmocka_unit_test(test_refused_duplicates),
        cmocka_unit_test(test_long_path_is_cut),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_every_byte_mutated),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_memory_bound),
        cmocka_unit_test(test_override_default),
        cmocka_unit_test(test_override_env_full),
        cmocka_unit_test(test_override_network_and_ports),
        cmocka_unit_test(test_override_nothing_overridable),
        cmocka_unit_test(test_log_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
