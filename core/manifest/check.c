/*
 * Interface: see manifest_priv.h (mf_check_*, mf_parse_*). Syntax rules
 * for the manifest's string fields, used by the parser and the
 * overrides alike; each takes a NUL-terminated string and says yes or no.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/inet.h"

#include "manifest_priv.h"

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_lower(char ch) { return ch >= 'a' && ch <= 'z'; }
static bool is_alpha(char ch) { return is_lower(ch) || (ch >= 'A' && ch <= 'Z'); }
static bool is_alnum(char ch) { return is_alpha(ch) || is_digit(ch); }

/* 1..max characters, each in the set that accept says yes to. */
static bool all_of(const char *s, size_t max, bool (*accept)(char ch))
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!accept(s[i]))
            return false;
    return true;
}

static bool app_name_char(char ch)
{
    return is_lower(ch) || is_digit(ch) || ch == '.' || ch == '_' || ch == '-';
}

static bool endpoint_name_char(char ch)
{
    return is_lower(ch) || is_digit(ch) || ch == '_' || ch == '-';
}

bool mf_check_app_name(const char *s)
{
    return all_of(s, TERN_MANIFEST_NAME_MAX, app_name_char);
}

bool mf_check_endpoint_name(const char *s)
{
    return all_of(s, TERN_MANIFEST_NAME_MAX, endpoint_name_char);
}

/* Digits without a leading zero (semver's numeric identifiers). */
static const char *numeric_id(const char *p)
{
    if (!is_digit(*p))
        return NULL;
    if (*p == '0')
        return p + 1;
    while (is_digit(*p))
        p++;
    return p;
}

/* Dot-separated non-empty identifiers of [0-9A-Za-z-] up to the end. */
static bool dotted_ids(const char *p)
{
    bool empty = true;
    for (; *p != '\0'; p++) {
        if (*p == '.') {
            if (empty)
                return false;
            empty = true;
        } else if (is_alnum(*p) || *p == '-') {
            empty = false;
        } else {
            return false;
        }
    }
    return !empty;
}

bool mf_check_version(const char *s)
{
    if (strlen(s) > TERN_MANIFEST_VERSION_MAX)
        return false;
    const char *p = s;
    for (int part = 0; part < 3; part++) {
        p = numeric_id(p);
        if (p == NULL || (part < 2 && *p++ != '.'))
            return false;
    }
    if (*p == '\0')
        return true;
    if (*p != '-' && *p != '+')
        return false;
    /* "-pre" and/or "+build": check each dotted list separately. */
    char rest[TERN_MANIFEST_VERSION_MAX + 1];
    memcpy(rest, p + 1, strlen(p + 1) + 1);
    char *plus = strchr(rest, '+');
    if (*p == '-' && plus != NULL) {
        *plus = '\0';
        return dotted_ids(rest) && dotted_ids(plus + 1);
    }
    return dotted_ids(rest);
}

static bool path_char(char ch)
{
    return is_alnum(ch) || ch == '.' || ch == '_' || ch == '-' || ch == '+' || ch == '@';
}

/* Components of [A-Za-z0-9._+@-] joined by single '/'; none "." or "..";
 * no leading or trailing '/'. */
static bool rel_components(const char *s)
{
    const char *part = s;
    for (const char *p = s;; p++) {
        if (*p != '/' && *p != '\0') {
            if (!path_char(*p))
                return false;
            continue;
        }
        size_t n = (size_t)(p - part);
        if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' && part[1] == '.'))
            return false;
        if (*p == '\0')
            return true;
        part = p + 1;
    }
}

bool mf_check_relpath(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= TERN_MANIFEST_PATH_MAX && rel_components(s);
}

bool mf_check_abspath(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TERN_MANIFEST_PATH_MAX || s[0] != '/')
        return false;
    return n == 1 || rel_components(s + 1);
}

bool mf_check_env_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TERN_MANIFEST_ENV_NAME_MAX || !(is_alpha(s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(is_alnum(s[i]) || s[i] == '_'))
            return false;
    return true;
}

bool mf_check_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TERN_MANIFEST_HOSTNAME_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = s[i];
        if (ch == '.' || ch == '\0') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(ch) || (ch == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

bool mf_check_http_path(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TERN_MANIFEST_PATH_MAX || s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool unicast(uint32_t addr)
{
    return addr != 0 && addr < 0xe0000000u;
}

bool mf_parse_ipv4(const char *s, uint32_t *out)
{
    uint32_t addr;
    if (tern_ipv4_parse(s, &addr) != TERN_OK || !unicast(addr))
        return false;
    *out = addr;
    return true;
}

bool mf_parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix_len)
{
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) > 15)
        return false;
    char text[16];
    memcpy(text, s, (size_t)(slash - s));
    text[slash - s] = '\0';
    const char *p = slash + 1;
    if (!is_digit(p[0]) || (p[0] == '0') || (p[1] != '\0' && (!is_digit(p[1]) || p[2] != '\0')))
        return false;
    unsigned n = (unsigned)(p[0] - '0');
    if (p[1] != '\0')
        n = n * 10 + (unsigned)(p[1] - '0');
    uint32_t a;
    if (n > 32 || !mf_parse_ipv4(text, &a))
        return false;
    *addr = a;
    *prefix_len = (uint8_t)n;
    return true;
}

bool mf_parse_port(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || s[0] == '0')
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}
