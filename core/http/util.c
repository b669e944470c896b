/*
 * Interface: see include/tern/http.h (Helpers): request-path decoding,
 * HTTP dates, content types and reason phrases.
 *
 * Path decoding decodes each segment separately. An encoded '/' (%2F) is
 * refused rather than decoded, because a decoded slash would move segment
 * boundaries after the ".." check and the file layer has no way to name a
 * file containing '/'. '\\' is refused because FAT and some tools treat
 * it as a separator. "." segments are dropped and ".." removes the segment
 * before it; a ".." at the root is refused (400) rather than clamped, so
 * traversal attempts are visible in the counters.
 */
#include <string.h>

#include "tern/fmt.h"
#include "tern/http.h"

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

tern_result tern_http_decode_path(const char *src, size_t len, char *out, size_t cap)
{
    if (len == 0 || src[0] != '/' || cap < 2)
        return len == 0 || src[0] != '/' ? TERN_EINVAL : TERN_ENOSPC;
    size_t end = 0;
    while (end < len && src[end] != '?' && src[end] != '#')
        end++;
    size_t o = 0;           /* out[0..o) is the decoded path so far */
    size_t i = 1;
    out[o++] = '/';
    while (i <= end) {
        /* One segment: src[i..j). */
        size_t j = i;
        while (j < end && src[j] != '/')
            j++;
        size_t seg_start = o;
        for (size_t k = i; k < j; k++) {
            char c = src[k];
            if (c == '%') {
                if (k + 2 >= j)
                    return TERN_EINVAL;
                int h = hexv(src[k + 1]), l = hexv(src[k + 2]);
                if (h < 0 || l < 0)
                    return TERN_EINVAL;
                c = (char)(h * 16 + l);
                k += 2;
                if (c == '/')
                    return TERN_EINVAL;
            }
            if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\')
                return TERN_EINVAL;
            if (o + 1 >= cap)
                return TERN_ENOSPC;
            out[o++] = c;
        }
        size_t seg_len = o - seg_start;
        if (seg_len == 1 && out[seg_start] == '.') {
            o = seg_start;                       /* drop "." */
        } else if (seg_len == 2 && out[seg_start] == '.' && out[seg_start + 1] == '.') {
            if (seg_start <= 1)
                return TERN_EINVAL;              /* above the root */
            o = seg_start - 1;                   /* before the '/' */
            while (o > 0 && out[o - 1] != '/')
                o--;
        } else if (j < end && seg_len > 0) {
            if (o + 1 >= cap)
                return TERN_ENOSPC;
            out[o++] = '/';
        }
        if (j >= end)
            break;
        i = j + 1;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return TERN_OK;
}

static const char wdays[7][4] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int64_t tern_http_unix_time(unsigned year, unsigned month, unsigned day, unsigned hour,
                            unsigned min, unsigned sec)
{
    return days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
}

void tern_http_format_date(int64_t secs, char *out, size_t cap)
{
    if (secs < 0)
        secs = 0;
    int64_t days = secs / 86400, rem = secs % 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* By hand rather than tern_snprintf: every response carries a Date.
     * "Sun, 06 Nov 1994 08:49:37 GMT"; years past 9999 get more digits. */
    char t[48], yd[20];
    size_t n = 0, k = sizeof yd;
    uint64_t yv = (uint64_t)y; /* secs >= 0, so y >= 1970 */
    do {
        yd[--k] = (char)('0' + yv % 10);
        yv /= 10;
    } while (yv || sizeof yd - k < 4);
    memcpy(t + n, wdays[days % 7], 3), n += 3;
    t[n++] = ',', t[n++] = ' ';
    t[n++] = (char)('0' + d / 10), t[n++] = (char)('0' + d % 10), t[n++] = ' ';
    memcpy(t + n, months[m - 1], 3), n += 3;
    t[n++] = ' ';
    memcpy(t + n, yd + k, sizeof yd - k), n += sizeof yd - k;
    unsigned hms[3] = { (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60) };
    for (unsigned i = 0; i < 3; i++) {
        t[n++] = i ? ':' : ' ';
        t[n++] = (char)('0' + hms[i] / 10), t[n++] = (char)('0' + hms[i] % 10);
    }
    memcpy(t + n, " GMT", 5); /* with its NUL */
    n += 4;
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1; /* truncated like tern_snprintf */
    memcpy(out, t, n);
    out[n] = '\0';
}

/* Reads n decimal digits at s[*i]. */
static bool digits(const char *s, size_t len, size_t *i, unsigned n, unsigned *out)
{
    unsigned v = 0;
    for (unsigned k = 0; k < n; k++, (*i)++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[*i] - '0');
    }
    *out = v;
    return true;
}

static bool lit(const char *s, size_t len, size_t *i, const char *t)
{
    size_t n = strlen(t);
    if (*i + n > len || memcmp(s + *i, t, n) != 0)
        return false;
    *i += n;
    return true;
}

static bool month(const char *s, size_t len, size_t *i, unsigned *m)
{
    for (unsigned k = 0; k < 12; k++)
        if (lit(s, len, i, months[k])) {
            *m = k + 1;
            return true;
        }
    return false;
}

static bool hms(const char *s, size_t len, size_t *i, unsigned *h, unsigned *mi, unsigned *se)
{
    return digits(s, len, i, 2, h) && lit(s, len, i, ":") && digits(s, len, i, 2, mi) &&
           lit(s, len, i, ":") && digits(s, len, i, 2, se) && *h < 24 && *mi < 60 && *se < 61;
}

tern_result tern_http_parse_date(const char *s, size_t len, int64_t *secs)
{
    size_t i = 0;
    unsigned d = 0, m = 0, y = 0, h = 0, mi = 0, se = 0;
    size_t comma = 0;
    while (comma < len && s[comma] != ',' && s[comma] != ' ')
        comma++;
    if (comma < len && s[comma] == ',' && comma == 3) {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        i = 4;
        if (!(lit(s, len, &i, " ") && digits(s, len, &i, 2, &d) && lit(s, len, &i, " ") &&
              month(s, len, &i, &m) && lit(s, len, &i, " ") && digits(s, len, &i, 4, &y) &&
              lit(s, len, &i, " ") && hms(s, len, &i, &h, &mi, &se) &&
              lit(s, len, &i, " GMT") && i == len))
            return TERN_EINVAL;
    } else if (comma < len && s[comma] == ',') {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        i = comma + 1;
        unsigned yy;
        if (!(lit(s, len, &i, " ") && digits(s, len, &i, 2, &d) && lit(s, len, &i, "-") &&
              month(s, len, &i, &m) && lit(s, len, &i, "-") && digits(s, len, &i, 2, &yy) &&
              lit(s, len, &i, " ") && hms(s, len, &i, &h, &mi, &se) &&
              lit(s, len, &i, " GMT") && i == len))
            return TERN_EINVAL;
        y = yy < 70 ? 2000 + yy : 1900 + yy;   /* RFC 9110 section 5.6.7 */
    } else if (comma == 3) {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        i = 4;
        if (!month(s, len, &i, &m) || !lit(s, len, &i, " "))
            return TERN_EINVAL;
        if (i < len && s[i] == ' ') {
            i++;
            if (!digits(s, len, &i, 1, &d))
                return TERN_EINVAL;
        } else if (!digits(s, len, &i, 2, &d)) {
            return TERN_EINVAL;
        }
        if (!(lit(s, len, &i, " ") && hms(s, len, &i, &h, &mi, &se) && lit(s, len, &i, " ") &&
              digits(s, len, &i, 4, &y) && i == len))
            return TERN_EINVAL;
    } else {
        return TERN_EINVAL;
    }
    if (d < 1 || d > 31 || y < 1970)
        return TERN_EINVAL;
    *secs = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + se;
    return TERN_OK;
}

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    { "html", "text/html; charset=utf-8" },  { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },    { "js", "text/javascript; charset=utf-8" },
    { "json", "application/json" },          { "txt", "text/plain; charset=utf-8" },
    { "xml", "application/xml" },            { "svg", "image/svg+xml" },
    { "png", "image/png" },                  { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },                { "gif", "image/gif" },
    { "webp", "image/webp" },                { "ico", "image/x-icon" },
    { "wasm", "application/wasm" },          { "pdf", "application/pdf" },
    { "woff2", "font/woff2" },               { "woff", "font/woff" },
    { "mp4", "video/mp4" },                  { "gz", "application/gzip" },
};

const char *tern_http_content_type(const char *path)
{
    const char *dot = NULL;
    for (const char *p = path; *p; p++) {
        if (*p == '.')
            dot = p + 1;
        else if (*p == '/')
            dot = NULL;
    }
    if (dot) {
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
            const char *a = dot, *b = types[k].ext;
            while (*a && *b && (*a | 0x20) == *b) {
                a++;
                b++;
            }
            if (!*a && !*b)
                return types[k].type;
        }
    }
    return "application/octet-stream";
}

const char *tern_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}
