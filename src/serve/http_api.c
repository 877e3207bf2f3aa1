/* http_api.c - the JSON API: /api/cameras, /api/events, /api/stats, /api/snapshots (docs/api.md).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "serve/http_internal.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 10000

/* --- query parameters -------------------------------------------------------------------- */

typedef struct {
    const char *const *allowed; /* NULL-terminated */
    char bad[200];              /* the first unknown or repeated parameter's message */
    const char *seen[8];
    int nseen;
} param_check;

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    param_check *pc = cls;
    (void)kind;
    (void)value;
    if (pc->bad[0])
        return MHD_NO;
    int known = 0;
    for (int i = 0; pc->allowed[i]; i++)
        known |= !strcmp(pc->allowed[i], key);
    if (!known) {
        char list[120] = "";
        for (int i = 0; pc->allowed[i]; i++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", pc->allowed[i]);
        }
        snprintf(pc->bad, sizeof pc->bad, "unknown parameter '%.40s' (expected %s%s)", key,
                 list[0] ? "" : "none", list);
        return MHD_NO;
    }
    for (int i = 0; i < pc->nseen; i++)
        if (!strcmp(pc->seen[i], key)) {
            snprintf(pc->bad, sizeof pc->bad, "parameter '%s' given twice", key);
            return MHD_NO;
        }
    if (pc->nseen < 8)
        pc->seen[pc->nseen++] = key;
    return MHD_YES;
}

/* NULL when every query parameter is one of `allowed`, used once; else the message. */
static const char *unknown_params(struct MHD_Connection *c, const char *const *allowed,
                                  param_check *pc)
{
    memset(pc, 0, sizeof *pc);
    pc->allowed = allowed;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_param, pc);
    return pc->bad[0] ? pc->bad : NULL;
}

static const char *param(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* Parses a time: Unix seconds ("1767268800", "1767268800.5") or ISO 8601 ("2026-01-01",
 * "2026-01-01T12:00", "2026-01-01T12:00:00[.fff]" then "Z", "+01:00", "-0500" or nothing for
 * local time). 0 on success. */
static int parse_time(const char *s, double *out)
{
    if (!s || !*s || strlen(s) > 40)
        return -1;
    size_t n = strlen(s);
    int digits = 1, dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dots++;
        else if (!isdigit((unsigned char)s[i]))
            digits = 0;
    }
    if (digits && dots <= 1 && s[0] != '.' && s[n - 1] != '.') {
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || *end || !isfinite(v) || v > 1e11)
            return -1;
        *out = v;
        return 0;
    }
    struct tm tm = {0};
    int used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &used) != 3 ||
        used != 10)
        return -1;
    const char *p = s + 10;
    double frac = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int hm = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &hm) != 2 || hm != 5)
            return -1;
        p += 1 + hm;
        if (*p == ':') {
            if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
                return -1;
            tm.tm_sec = (p[1] - '0') * 10 + (p[2] - '0');
            p += 3;
            if (*p == '.') {
                const char *f = ++p;
                double scale = 0.1;
                while (isdigit((unsigned char)*p)) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
                if (p == f)
                    return -1;
            }
        }
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970 ||
        tm.tm_year > 5000)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int check_mday = tm.tm_mday;
    time_t t;
    if (*p == '\0') {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else {
        int off = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-' || *p == ' ') { /* ' ': a '+' the URL did not escape */
            int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;
            if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
                return -1;
            oh = (p[1] - '0') * 10 + (p[2] - '0');
            p += 3;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
                om = (p[0] - '0') * 10 + (p[1] - '0');
                p += 2;
            }
            if (oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 3600 + om * 60);
        } else {
            return -1;
        }
        if (*p)
            return -1;
        t = timegm(&tm) - off;
    }
    if (t == (time_t)-1 || tm.tm_mday != check_mday) /* 2026-02-30 normalised: refused */
        return -1;
    *out = (double)t + frac;
    return 0;
}

static const char time_expected[] =
    "expected Unix seconds or ISO 8601 (2026-01-01, 2026-01-01T12:00:00Z, ...+01:00)";

/* Reads since/until into *since, *until (NaN when absent); a message in msg on error. */
static int time_window(struct MHD_Connection *c, double *since, double *until, char *msg,
                       size_t size)
{
    const char *names[2] = {"since", "until"};
    double *outs[2] = {since, until};
    for (int i = 0; i < 2; i++) {
        const char *v = param(c, names[i]);
        *outs[i] = NAN;
        if (v && parse_time(v, outs[i]) != 0) {
            snprintf(msg, size, "bad '%s' value '%.40s': %s", names[i], v, time_expected);
            return -1;
        }
    }
    if (!isnan(*since) && !isnan(*until) && *until < *since) {
        snprintf(msg, size, "'until' is before 'since'");
        return -1;
    }
    return 0;
}

/* camera: NULL when absent; a message when it names no camera of this node. */
static int camera_param(fm_http *h, struct MHD_Connection *c, const char **camera, char *msg,
                        size_t size)
{
    *camera = param(c, "camera");
    if (*camera && fm_site_state_find(h->state, *camera) < 0) {
        snprintf(msg, size, "bad 'camera' value '%.64s': expected the name of a camera", *camera);
        return -1;
    }
    return 0;
}

/* type: NULL when absent; an event type is 1..32 of [a-z_] (docs/events.md). */
static int type_param(struct MHD_Connection *c, const char **type, char *msg, size_t size)
{
    *type = param(c, "type");
    size_t n = *type ? strlen(*type) : 0;
    if (*type && (n == 0 || n > 32 || strspn(*type, "abcdefghijklmnopqrstuvwxyz_") != n)) {
        snprintf(msg, size,
                 "bad 'type' value '%.40s': expected an event type such as appear, label, "
                 "leave, summary (docs/events.md)",
                 *type);
        return -1;
    }
    return 0;
}

static int limit_param(struct MHD_Connection *c, int *limit, char *msg, size_t size)
{
    const char *v = param(c, "limit");
    *limit = DEFAULT_LIMIT;
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < 1 || n > MAX_LIMIT || !isdigit((unsigned char)v[0])) {
        snprintf(msg, size, "bad 'limit' value '%.40s': expected an integer from 1 to %d", v,
                 MAX_LIMIT);
        return -1;
    }
    *limit = (int)n;
    return 0;
}

/* "," unless b ends a list's opening '[' (the first element). */
static const char *sep(const fm_text *b)
{
    return b->len && b->p[b->len - 1] == '[' ? "" : ",";
}

/* --- /api/cameras ------------------------------------------------------------------------ */

typedef struct {
    long long people, masked, unmasked;
} day_sum;

static int sum_hour(void *ctx, const fm_history_hour *r)
{
    day_sum *d = ctx;
    d->people += r->people;
    d->masked += r->masked;
    d->unmasked += r->unmasked;
    return 0;
}

static double local_midnight(double now)
{
    time_t t = (time_t)now;
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (double)mktime(&tm);
}

/* The JSON answer in b (taken over), or a 500 naming err when the query behind it failed. */
static enum MHD_Result send_json(struct MHD_Connection *c, fm_text *b, fm_status s,
                                 const fm_err *err)
{
    if (s != FM_OK) {
        fm_text_free(b);
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err->msg);
    }
    return fm_http_send_buf(c, MHD_HTTP_OK, "application/json", b);
}

/* ,"track":N, or null for an event without a track (ids start at 1). */
static void put_track(fm_text *b, long long track)
{
    if (track > 0)
        fm_text_printf(b, ",\"track\":%lld", track);
    else
        fm_text_str(b, ",\"track\":null");
}

static void put_compliance(fm_text *b, long long masked, long long unmasked)
{
    if (masked + unmasked > 0)
        fm_text_json_num(b, (double)masked / (double)(masked + unmasked));
    else
        fm_text_str(b, "null");
}

int fm_http_remotes(fm_http *h, fm_mqtt_remote **out)
{
    *out = NULL;
    int n = fm_mqtt_remotes(h->mqtt, NULL, 0);
    if (n <= 0)
        return 0;
    if (!(*out = malloc((size_t)n * sizeof **out)))
        return -1;
    int now = fm_mqtt_remotes(h->mqtt, *out, n);
    return now < n ? now : n; /* cameras heard of meanwhile wait for the next request */
}

/* A remote camera (another node's, as MQTT last brought it): what its state message carries,
 * null before the first one. */
static void put_remote(fm_text *b, const fm_mqtt_remote *r)
{
    fm_text_printf(b, "%s{\"name\":", sep(b));
    fm_text_json_str(b, r->camera);
    fm_text_str(b, ",\"node\":");
    fm_text_json_str(b, r->node);
    fm_text_printf(b, ",\"local\":false,\"online\":%s,\"status\":",
                       r->online ? "true" : "false");
    if (!r->has_state) {
        fm_text_str(b, "null,\"fps\":null,\"people_now\":null,\"masked_now\":null,"
                           "\"unmasked_now\":null,\"people\":null,\"masked\":null,"
                           "\"unmasked\":null,\"compliance\":null,\"updated\":null");
    } else {
        fm_text_json_str(b, r->status);
        fm_text_str(b, ",\"fps\":");
        fm_text_json_num(b, r->fps);
        fm_text_printf(b,
                           ",\"people_now\":%d,\"masked_now\":%d,\"unmasked_now\":%d,"
                           "\"people\":%lld,\"masked\":%lld,\"unmasked\":%lld,\"compliance\":",
                           r->people_now, r->masked_now, r->unmasked_now, r->people, r->masked,
                           r->unmasked);
        fm_text_json_num(b, r->compliance < 0 ? NAN : r->compliance);
        fm_text_str(b, ",\"updated\":");
        fm_text_json_num(b, r->updated);
    }
    fm_text_printf(b, ",\"events\":%lld,\"last_event\":", r->events);
    if (r->last_event_id > 0)
        fm_text_json_str(b, r->last_event);
    else
        fm_text_str(b, "null");
    fm_text_str(b, "}");
}

static enum MHD_Result api_cameras(fm_http *h, struct MHD_Connection *c)
{
    fm_err err = {0};
    fm_mqtt_remote *remotes = NULL;
    int nremotes = fm_http_remotes(h, &remotes);
    if (nremotes < 0)
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    fm_history *hist = fm_http_history_take(h, &err);
    if (!hist) {
        free(remotes);
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    }
    /* this node's name: the one it has on MQTT; none without MQTT */
    fm_mqtt_stats ms;
    fm_mqtt_get_stats(h->mqtt, &ms);
    double now = fm_wall_now(), midnight = local_midnight(now);
    fm_text b = {0};
    fm_text_printf(&b, "{\"time\":");
    fm_text_json_num(&b, now);
    fm_text_str(&b, ",\"day_start\":");
    fm_text_json_num(&b, midnight);
    fm_text_str(&b, ",\"cameras\":[");
    int n = fm_site_state_count(h->state);
    fm_status bad = FM_OK;
    for (int i = 0; i < n; i++) {
        fm_site_cam_stats s;
        if (fm_site_state_get(h->state, i, &s, &err) != FM_OK)
            continue;
        day_sum today = {0};
        /* the hourly rows of hours that start today (local time) */
        if (fm_history_hours(hist, s.name, midnight, NAN, sum_hour, &today, &err) != FM_OK)
            bad = FM_ERR_IO;
        fm_text_printf(&b, "%s{\"name\":", sep(&b));
        fm_text_json_str(&b, s.name);
        fm_text_str(&b, ",\"node\":");
        if (h->mqtt)
            fm_text_json_str(&b, ms.node);
        else
            fm_text_str(&b, "null");
        fm_text_str(&b, ",\"local\":true,\"status\":");
        fm_text_json_str(&b, fm_cam_status_str(s.status));
        fm_text_str(&b, ",\"error\":");
        fm_text_json_str(&b, s.last_error);
        fm_text_str(&b, ",\"fps\":");
        fm_text_json_num(&b, s.fps);
        fm_text_printf(&b,
                           ",\"frames\":%lld,\"skipped\":%lld,\"faces\":%lld,\"people_now\":%d,"
                           "\"masked_now\":%d,\"unmasked_now\":%d,\"people\":%lld,\"masked\":%lld,"
                           "\"unmasked\":%lld,\"compliance\":",
                           s.frames, s.skipped, s.faces, s.people_now, s.masked_now,
                           s.unmasked_now, s.people, s.masked, s.unmasked);
        put_compliance(&b, s.masked, s.unmasked);
        fm_text_printf(&b, ",\"reconnects\":%lld,\"updated\":", s.reconnects);
        fm_text_json_num(&b, s.updated > 0 ? s.updated : NAN);
        fm_text_printf(&b,
                           ",\"today\":{\"people\":%lld,\"masked\":%lld,\"unmasked\":%lld,"
                           "\"compliance\":",
                           today.people, today.masked, today.unmasked);
        put_compliance(&b, today.masked, today.unmasked);
        fm_text_str(&b, "},\"live\":");
        char live[128];
        snprintf(live, sizeof live, "/api/cameras/%s/live.mjpeg", s.name);
        fm_text_json_str(&b, live);
        fm_text_str(&b, "}");
    }
    /* then the other nodes' cameras (MQTT aggregation): "local": false, no "live" */
    for (int i = 0; i < nremotes; i++)
        put_remote(&b, &remotes[i]);
    free(remotes);
    fm_text_str(&b, "]}\n");
    fm_http_history_give(h, hist);
    return send_json(c, &b, bad, &err);
}

/* --- /api/events ------------------------------------------------------------------------- */

static int put_event(void *ctx, const fm_history_event_row *r)
{
    fm_text *b = ctx;
    fm_text_printf(b, "%s{\"id\":%lld,\"camera\":", sep(b), r->id);
    fm_text_json_str(b, r->camera);
    fm_text_str(b, ",\"time\":");
    fm_text_json_num(b, r->time);
    fm_text_str(b, ",\"type\":");
    fm_text_json_str(b, r->type);
    put_track(b, r->track);
    fm_text_str(b, ",\"label\":");
    if (r->label)
        fm_text_json_str(b, r->label);
    else
        fm_text_str(b, "null");
    fm_text_printf(b, ",\"sent\":%s,\"payload\":", r->sent ? "true" : "false");
    /* the payload is the JSON object facemask wrote; sent as a string so that a damaged row
     * can never break the document */
    fm_text_json_str(b, r->payload);
    fm_text_str(b, "}");
    return b->oom;
}

static enum MHD_Result api_events(fm_http *h, struct MHD_Connection *c)
{
    static const char *const allowed[] = {"camera", "type", "since", "until", "limit", NULL};
    param_check pc;
    const char *bad = unknown_params(c, allowed, &pc);
    if (bad)
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, bad);
    char msg[256];
    const char *camera, *type;
    double since, until;
    int limit;
    if (camera_param(h, c, &camera, msg, sizeof msg) || type_param(c, &type, msg, sizeof msg) ||
        time_window(c, &since, &until, msg, sizeof msg) ||
        limit_param(c, &limit, msg, sizeof msg))
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, msg);
    fm_err err = {0};
    fm_history *hist = fm_http_history_take(h, &err);
    if (!hist)
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    fm_text b = {0};
    fm_text_str(&b, "{\"events\":[");
    fm_status s =
        fm_history_events(hist, camera, type, since, until, limit, put_event, &b, &err);
    fm_http_history_give(h, hist);
    fm_text_str(&b, "]}\n");
    return send_json(c, &b, s, &err);
}

/* --- /api/stats -------------------------------------------------------------------------- */

static int put_hour(void *ctx, const fm_history_hour *r)
{
    fm_text *b = ctx;
    fm_text_printf(b, "%s{\"camera\":", sep(b));
    fm_text_json_str(b, r->camera);
    fm_text_printf(b, ",\"hour\":%lld,\"people\":%lld,\"masked\":%lld,\"unmasked\":%lld,"
                          "\"compliance\":",
                       r->hour, r->people, r->masked, r->unmasked);
    put_compliance(b, r->masked, r->unmasked);
    fm_text_str(b, "}");
    return b->oom;
}

static enum MHD_Result api_stats(fm_http *h, struct MHD_Connection *c)
{
    static const char *const allowed[] = {"bucket", "camera", "since", "until", NULL};
    param_check pc;
    const char *bad = unknown_params(c, allowed, &pc);
    if (bad)
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, bad);
    char msg[256];
    const char *bucket = param(c, "bucket");
    if (bucket && strcmp(bucket, "hour") != 0) {
        snprintf(msg, sizeof msg, "bad 'bucket' value '%.40s': expected 'hour'", bucket);
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, msg);
    }
    const char *camera;
    double since, until;
    if (camera_param(h, c, &camera, msg, sizeof msg) ||
        time_window(c, &since, &until, msg, sizeof msg))
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, msg);
    fm_err err = {0};
    fm_history *hist = fm_http_history_take(h, &err);
    if (!hist)
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    fm_text b = {0};
    fm_text_str(&b, "{\"bucket\":\"hour\",\"rows\":[");
    /* an hour is in the window when it starts in it */
    fm_status s = fm_history_hours(hist, camera, since, until, put_hour, &b, &err);
    fm_http_history_give(h, hist);
    fm_text_str(&b, "]}\n");
    return send_json(c, &b, s, &err);
}

/* --- /api/snapshots ---------------------------------------------------------------------- */

static int put_snapshot(void *ctx, const fm_history_snapshot_row *r)
{
    fm_text *b = ctx;
    fm_text_printf(b, "%s{\"id\":%lld,\"camera\":", sep(b), r->id);
    fm_text_json_str(b, r->camera);
    fm_text_str(b, ",\"time\":");
    fm_text_json_num(b, r->time);
    put_track(b, r->track);
    fm_text_printf(b, ",\"url\":\"/api/snapshots/%lld\"}", r->id);
    return b->oom;
}

static enum MHD_Result api_snapshot_list(fm_http *h, struct MHD_Connection *c)
{
    static const char *const allowed[] = {"camera", "limit", NULL};
    param_check pc;
    const char *bad = unknown_params(c, allowed, &pc);
    if (bad)
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, bad);
    char msg[256];
    const char *camera;
    int limit;
    if (camera_param(h, c, &camera, msg, sizeof msg) || limit_param(c, &limit, msg, sizeof msg))
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, msg);
    fm_err err = {0};
    fm_history *hist = fm_http_history_take(h, &err);
    if (!hist)
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    fm_text b = {0};
    fm_text_str(&b, "{\"snapshots\":[");
    fm_status s = fm_history_snapshots(hist, camera, limit, put_snapshot, &b, &err);
    fm_http_history_give(h, hist);
    fm_text_str(&b, "]}\n");
    return send_json(c, &b, s, &err);
}

typedef struct {
    char camera[FM_SITE_NAME_MAX + 1];
    char path[1024];
    int too_long;
} snap_found;

static int got_snapshot(void *ctx, const fm_history_snapshot_row *r)
{
    snap_found *f = ctx;
    f->too_long = snprintf(f->camera, sizeof f->camera, "%s", r->camera ? r->camera : "") >=
                      (int)sizeof f->camera ||
                  snprintf(f->path, sizeof f->path, "%s", r->path ? r->path : "") >=
                      (int)sizeof f->path;
    return 1;
}

/* Opens rel inside the folder dir: every component a plain name (no "", ".", ".."), no
 * symlink anywhere below dir, the last one a regular file. -1 on any refusal. */
static int open_beneath(const char *dir, const char *rel)
{
    if (!*rel || rel[0] == '/' || strlen(rel) >= 1024)
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char part[1024];
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n >= sizeof part || (n == 1 && p[0] == '.') ||
            (n == 2 && p[0] == '.' && p[1] == '.')) {
            close(fd);
            return -1;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : O_NONBLOCK);
        int next = openat(fd, part, flags);
        close(fd);
        if (next < 0)
            return -1;
        fd = next;
        if (!slash)
            break;
        p = slash + 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static enum MHD_Result api_snapshot_file(fm_http *h, struct MHD_Connection *c, const char *idstr)
{
    char *end = NULL;
    errno = 0;
    long long id = strtoll(idstr, &end, 10);
    if (!isdigit((unsigned char)idstr[0]) || *end || errno || id < 1)
        return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such snapshot");
    fm_err err = {0};
    fm_history *hist = fm_http_history_take(h, &err);
    if (!hist)
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    snap_found f = {0};
    fm_status s = fm_history_snapshot(hist, id, got_snapshot, &f, &err);
    fm_http_history_give(h, hist);
    if (s == FM_ERR_ARG || (s == FM_OK && f.too_long))
        return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such snapshot");
    if (s != FM_OK)
        return fm_http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err.msg);
    const char *dir = NULL;
    for (int i = 0; i < h->site->ncameras; i++)
        if (!strcmp(h->site->cameras[i].name, f.camera))
            dir = h->site->cameras[i].snapshots;
    int fd = dir ? open_beneath(dir, f.path) : -1;
    if (fd < 0)
        return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such snapshot");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such snapshot");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "image/jpeg");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "private, max-age=3600");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* --- routing ----------------------------------------------------------------------------- */

enum MHD_Result fm_http_api(fm_http *h, struct MHD_Connection *c, const char *url)
{
    const char *p = url + 5; /* after "/api/" */
    static const char *const none[] = {NULL};
    param_check pc;
    if (!strcmp(p, "cameras")) {
        const char *bad = unknown_params(c, none, &pc);
        if (bad)
            return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST, bad);
        return api_cameras(h, c);
    }
    if (!strcmp(p, "events"))
        return api_events(h, c);
    if (!strcmp(p, "stats"))
        return api_stats(h, c);
    if (!strcmp(p, "snapshots"))
        return api_snapshot_list(h, c);
    if (!strncmp(p, "snapshots/", 10))
        return api_snapshot_file(h, c, p + 10);
    if (!strncmp(p, "cameras/", 8)) {
        const char *name = p + 8, *slash = strchr(name, '/');
        if (slash && !strcmp(slash, "/live.mjpeg") && slash - name <= FM_SITE_NAME_MAX) {
            char cam[FM_SITE_NAME_MAX + 1];
            memcpy(cam, name, (size_t)(slash - name));
            cam[slash - name] = '\0';
            int i = fm_site_state_find(h->state, cam);
            if (i >= 0)
                return fm_http_live_stream(h, c, i);
            return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such camera");
        }
    }
    return fm_http_send_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint");
}
