/* test_http_util.h - helpers of the HTTP suites (tests/test_serve_http*.c): a raw HTTP/1.0
 * client on 127.0.0.1, strict JSON checks through python3's json module, and a strict check of
 * Prometheus' text format 0.0.4. */
#ifndef FM_TEST_HTTP_UTIL_H
#define FM_TEST_HTTP_UTIL_H

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "test.h"

/* A connected socket to 127.0.0.1:port with a receive timeout, or -1. */
static inline int th_connect(int port, double timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (int)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int th_send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct {
    int status;     /* 0 when no status line came */
    char *head;     /* status line and headers (NUL-terminated), owned */
    char *body;     /* NUL-terminated, owned */
    size_t body_len;
} th_response;

static inline void th_free(th_response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Sends `request` (a whole HTTP/1.0 request) and reads the response to EOF. 0 when a response
 * with a status line came. */
static inline int th_raw(int port, const char *request, size_t len, th_response *r)
{
    memset(r, 0, sizeof *r);
    int fd = th_connect(port, 10);
    if (fd < 0)
        return -1;
    th_send_all(fd, request, len); /* the server may answer (and close) before all is sent */
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    ssize_t got;
    while (buf && (got = recv(fd, buf + n, cap - n - 1, 0)) > 0) {
        n += (size_t)got;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf)
        return -1;
    buf[n] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || !end) {
        free(buf);
        return -1;
    }
    r->status = atoi(buf + 9);
    size_t hlen = (size_t)(end - buf) + 2;
    r->head = strndup(buf, hlen);
    r->body_len = n - hlen - 2;
    r->body = malloc(r->body_len + 1);
    if (r->body) {
        memcpy(r->body, end + 4, r->body_len);
        r->body[r->body_len] = '\0';
    }
    free(buf);
    return r->head && r->body ? 0 : -1;
}

/* GET path with extra header lines (each ending in \r\n, or NULL). */
static inline int th_get(int port, const char *method, const char *path, const char *extra,
                         th_response *r)
{
    char req[4096];
    snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
             extra ? extra : "");
    return th_raw(port, req, strlen(req), r);
}

/* The value of header `name` in r (case-insensitive), copied into out; NULL when absent. */
static inline const char *th_header(const th_response *r, const char *name, char *out,
                                    size_t size)
{
    size_t n = strlen(name);
    for (const char *p = r->head ? strstr(r->head, "\r\n") : NULL; p && p[2];
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!strncasecmp(line, name, n) && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t len = e ? (size_t)(e - v) : strlen(v);
            snprintf(out, size, "%.*s", (int)len, v);
            return out;
        }
    }
    return NULL;
}

/* Parses body strictly as JSON with python3 (no NaN, no trailing text, no duplicate keys) and
 * prints repr of `expr`, evaluated with the document as `d`. Returns the output (caller frees)
 * with the trailing newline removed, or "PARSE ERROR: ..." when the body is not JSON. */
static inline char *th_json(const char *body, const char *expr)
{
    char path[1024], script[1024];
    snprintf(path, sizeof path, "%s/body.json", fm_test_tmpdir());
    snprintf(script, sizeof script, "%s/json_check.py", fm_test_tmpdir());
    fm_test_write_text(path, body ? body : "");
    size_t n = strlen(expr) + 1024;
    char *py = malloc(n);
    if (!py)
        return NULL;
    snprintf(py, n,
             "import json, sys\n"
             "def nodup(pairs):\n"
             "    keys = [k for k, _ in pairs]\n"
             "    if len(keys) != len(set(keys)): raise ValueError('duplicate key')\n"
             "    return dict(pairs)\n"
             "def nonum(x): raise ValueError('not JSON: ' + x)\n"
             "try:\n"
             "    d = json.loads(open(sys.argv[1], encoding='utf-8').read(),\n"
             "                   object_pairs_hook=nodup, parse_constant=nonum)\n"
             "except Exception as e:\n"
             "    print('PARSE ERROR:', e); sys.exit(0)\n"
             "print(repr(%s))\n",
             expr);
    fm_test_write_text(script, py);
    free(py);
    char cmd[2200];
    /* Debian's python3 (install-deps.sh), not a pyenv shim that costs 0.2 s a call */
    const char *py3 = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    snprintf(cmd, sizeof cmd, "%s %s %s 2>&1", py3, script, path);
    char *out = NULL;
    fm_test_cmd(cmd, &out);
    if (out) {
        n = strlen(out);
        while (n && out[n - 1] == '\n')
            out[--n] = '\0';
    }
    return out;
}

#define TH_JSON_EQ(body, expr, want)                                                      \
    do {                                                                                  \
        char *got_ = th_json((body), (expr));                                             \
        if (!got_ || strcmp(got_, (want)) != 0)                                           \
            fm_test_fail(__FILE__, __LINE__, "%s = %s, expected %s", (expr),              \
                         got_ ? got_ : "(null)", (want));                                 \
        free(got_);                                                                       \
    } while (0)

/* --- a strict check of Prometheus' text format 0.0.4 --------------------------------------- */

typedef struct {
    char name[128];
    char type[16];
    int help, typed, closed; /* closed: another family's samples came after this one's */
} th_family;

static inline int th_metric_name_ok(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return 0;
    return 1;
}

static inline int th_value_ok(const char *s, double *v)
{
    if (!strcmp(s, "NaN")) {
        *v = NAN;
        return 1;
    }
    if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf")) {
        *v = s[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    char *end = NULL;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*v) && !strchr(s, 'x') && !strchr(s, 'X') &&
           strncasecmp(s, "inf", 3) && strncasecmp(s, "nan", 3);
}

/* Checks the whole text; 0 when it is valid, else -1 with the first problem in msg. Also
 * checks every histogram: buckets in increasing le order, cumulative counts, a last bucket
 * le="+Inf" whose count equals _count, and a _sum. */
static inline int th_prom_check(const char *text, char *msg, size_t msize)
{
    th_family fams[64];
    int nf = 0, cur = -1, lineno = 0;
    /* the histogram series being read: labels without le */
    char hkey[512] = "";
    double hlast_le = -INFINITY, hlast_count = 0, hinf = NAN;
    int hbuckets = 0;
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') {
        snprintf(msg, msize, "the text does not end with a newline");
        return -1;
    }
    const char *p = text;
    while (*p) {
        lineno++;
        const char *nl = strchr(p, '\n');
        char line[1024];
        size_t n = (size_t)(nl - p);
        if (n >= sizeof line) {
            snprintf(msg, msize, "line %d: too long", lineno);
            return -1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl + 1;
        if (n == 0)
            continue;
        if (line[0] == '#') {
            char kw[8], name[128];
            int used = 0;
            if (sscanf(line, "# %7s %127s %n", kw, name, &used) >= 2 &&
                (!strcmp(kw, "HELP") || !strcmp(kw, "TYPE"))) {
                if (!th_metric_name_ok(name, strlen(name))) {
                    snprintf(msg, msize, "line %d: bad metric name '%s'", lineno, name);
                    return -1;
                }
                int f = -1;
                for (int i = 0; i < nf; i++)
                    if (!strcmp(fams[i].name, name))
                        f = i;
                if (f < 0) {
                    if (nf == 64)
                        return snprintf(msg, msize, "too many families"), -1;
                    f = nf++;
                    memset(&fams[f], 0, sizeof fams[f]);
                    snprintf(fams[f].name, sizeof fams[f].name, "%s", name);
                }
                if (fams[f].closed) {
                    snprintf(msg, msize, "line %d: %s after %s's samples", lineno, kw, name);
                    return -1;
                }
                if (!strcmp(kw, "HELP")) {
                    if (fams[f].help++)
                        return snprintf(msg, msize, "line %d: second HELP", lineno), -1;
                } else {
                    const char *t = line + used;
                    if (fams[f].typed++ || (strcmp(t, "counter") && strcmp(t, "gauge") &&
                                            strcmp(t, "histogram") && strcmp(t, "summary") &&
                                            strcmp(t, "untyped"))) {
                        snprintf(msg, msize, "line %d: bad or second TYPE '%s'", lineno, t);
                        return -1;
                    }
                    snprintf(fams[f].type, sizeof fams[f].type, "%s", t);
                }
            }
            continue;
        }
        /* name{labels} value */
        size_t nlen = strcspn(line, "{ ");
        if (!th_metric_name_ok(line, nlen)) {
            snprintf(msg, msize, "line %d: bad metric name in '%.100s'", lineno, line);
            return -1;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)nlen, line);
        const char *q = line + nlen;
        char labels[512] = "", le[64] = "";
        size_t ln = 0;
        if (*q == '{') {
            q++;
            int first = 1;
            while (*q != '}') {
                if (!first) {
                    if (*q != ',')
                        return snprintf(msg, msize, "line %d: expected ','", lineno), -1;
                    q++;
                }
                first = 0;
                size_t kl = strcspn(q, "=");
                if (!th_metric_name_ok(q, kl) || q[kl] != '=' || q[kl + 1] != '"') {
                    snprintf(msg, msize, "line %d: bad label in '%.100s'", lineno, line);
                    return -1;
                }
                char key[64], val[64];
                snprintf(key, sizeof key, "%.*s", (int)kl, q);
                q += kl + 2;
                size_t vn = 0;
                while (*q && *q != '"') {
                    if (*q == '\\') {
                        if (q[1] != '\\' && q[1] != '"' && q[1] != 'n')
                            return snprintf(msg, msize, "line %d: bad escape", lineno), -1;
                        q++;
                    }
                    if (vn < sizeof val - 1)
                        val[vn++] = *q;
                    q++;
                }
                val[vn] = '\0';
                if (*q != '"')
                    return snprintf(msg, msize, "line %d: unterminated label", lineno), -1;
                q++;
                if (!strcmp(key, "le"))
                    snprintf(le, sizeof le, "%s", val);
                else
                    ln += (size_t)snprintf(labels + ln, sizeof labels - ln, "%s=%s,", key, val);
                if (ln >= sizeof labels)
                    return snprintf(msg, msize, "line %d: labels too long", lineno), -1;
            }
            q++;
        }
        if (*q != ' ')
            return snprintf(msg, msize, "line %d: expected ' ' before the value", lineno), -1;
        q++;
        char val[64];
        size_t vl = strcspn(q, " ");
        snprintf(val, sizeof val, "%.*s", (int)vl, q);
        double v;
        if (!th_value_ok(val, &v)) {
            snprintf(msg, msize, "line %d: bad value '%s'", lineno, val);
            return -1;
        }
        if (q[vl] == ' ') { /* a timestamp: an integer */
            const char *ts = q + vl + 1;
            if (!*ts || strspn(ts, "-0123456789") != strlen(ts))
                return snprintf(msg, msize, "line %d: bad timestamp", lineno), -1;
        }
        /* the family: the name, or the name less _bucket/_sum/_count for a histogram */
        int f = -1;
        const char *suffix = "";
        for (int i = 0; i < nf && f < 0; i++) {
            size_t fl = strlen(fams[i].name);
            if (!strcmp(fams[i].name, name))
                f = i;
            else if (!strcmp(fams[i].type, "histogram") && !strncmp(name, fams[i].name, fl) &&
                     (!strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") ||
                      !strcmp(name + fl, "_count"))) {
                f = i;
                suffix = name + fl;
            }
        }
        if (f < 0 || !fams[f].typed || !fams[f].help) {
            snprintf(msg, msize, "line %d: sample of %s before its HELP and TYPE", lineno, name);
            return -1;
        }
        if (fams[f].closed) {
            snprintf(msg, msize, "line %d: %s's samples are not together", lineno, name);
            return -1;
        }
        if (cur >= 0 && cur != f)
            fams[cur].closed = 1;
        cur = f;
        if (!strcmp(fams[f].type, "counter") && !(v >= 0)) {
            snprintf(msg, msize, "line %d: counter %s is %s", lineno, name, val);
            return -1;
        }
        if (!strcmp(fams[f].type, "histogram")) {
            if (!strcmp(suffix, "_bucket")) {
                double lev;
                if (!le[0] || !th_value_ok(le, &lev) || isnan(lev))
                    return snprintf(msg, msize, "line %d: bucket without a valid le", lineno), -1;
                if (strcmp(hkey, labels) != 0) {
                    if (hbuckets && isnan(hinf))
                        return snprintf(msg, msize, "line %d: buckets before it end without "
                                                    "le=\"+Inf\"", lineno), -1;
                    snprintf(hkey, sizeof hkey, "%s", labels);
                    hlast_le = -INFINITY;
                    hlast_count = 0;
                    hinf = NAN;
                    hbuckets = 0;
                }
                if (!(lev > hlast_le) || v < hlast_count) {
                    snprintf(msg, msize, "line %d: buckets not increasing in le or not "
                                         "cumulative", lineno);
                    return -1;
                }
                hlast_le = lev;
                hlast_count = v;
                hbuckets++;
                if (isinf(lev))
                    hinf = v;
            } else if (le[0]) {
                return snprintf(msg, msize, "line %d: le on %s", lineno, name), -1;
            } else if (strcmp(hkey, labels) != 0 || isnan(hinf)) {
                snprintf(msg, msize, "line %d: %s without buckets ending in le=\"+Inf\"", lineno,
                         name);
                return -1;
            } else if (!strcmp(suffix, "_count") && v != hinf) {
                snprintf(msg, msize, "line %d: _count %s differs from the +Inf bucket %g", lineno,
                         val, hinf);
                return -1;
            }
        } else if (le[0] && strcmp(fams[f].type, "summary") != 0) {
            return snprintf(msg, msize, "line %d: le label on a %s", lineno, fams[f].type), -1;
        }
    }
    for (int i = 0; i < nf; i++)
        if (!fams[i].typed) {
            snprintf(msg, msize, "%s has HELP but no TYPE", fams[i].name);
            return -1;
        }
    return 0;
}

/* The value of the sample line that starts with `series` followed by ' ' (e.g.
 * "facemask_frames_processed_total{camera=\"door\"}"); NaN when absent. */
static inline double th_prom_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ') {
            char val[64];
            size_t vl = strcspn(p + n + 1, " \n");
            snprintf(val, sizeof val, "%.*s", (int)vl, p + n + 1);
            double v;
            return th_value_ok(val, &v) ? v : NAN;
        }
    return NAN;
}

#endif
