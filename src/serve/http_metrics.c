/* http_metrics.c - /metrics in Prometheus' text exposition format 0.0.4 (docs/api.md lists the
 * metrics). Every family has its HELP and TYPE lines before its samples; each camera's samples
 * carry camera="NAME", a remote camera's (MQTT aggregation) node="NODE" too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/http_internal.h"

typedef enum { GAUGE, COUNTER } kind;

typedef struct {
    const char *name, *help;
    kind type;
} family;

/* A label value with \, " and newline escaped (camera names never have them; kept safe). */
static void put_label(fm_text *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            fm_text_str(b, "\\\\");
        else if (*v == '"')
            fm_text_str(b, "\\\"");
        else if (*v == '\n')
            fm_text_str(b, "\\n");
        else
            fm_text_put(b, v, 1);
    }
}

/* A sample value: Prometheus' float syntax, NaN and +Inf included. */
static void put_value(fm_text *b, double v)
{
    if (isnan(v))
        fm_text_str(b, "NaN");
    else if (isinf(v))
        fm_text_str(b, v > 0 ? "+Inf" : "-Inf");
    else
        fm_text_printf(b, "%.17g", v);
}

static void header(fm_text *b, const char *name, const char *help, const char *type)
{
    fm_text_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(fm_text *b, const char *name, const char *suffix, const char *camera,
                   const char *le, double v)
{
    fm_text_printf(b, "%s%s{camera=\"", name, suffix);
    put_label(b, camera);
    fm_text_str(b, "\"");
    if (le)
        fm_text_printf(b, ",le=\"%s\"", le);
    fm_text_str(b, "} ");
    put_value(b, v);
    fm_text_str(b, "\n");
}

/* Resident set size in bytes from /proc/self/statm; -1 when unknown. */
static double resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (double)resident * (double)page : -1;
}

/* One sample of a family without labels. */
static void plain(fm_text *b, const char *name, double v)
{
    fm_text_printf(b, "%s ", name);
    put_value(b, v);
    fm_text_str(b, "\n");
}

/* The MQTT client's counters (fm_mqtt_get_stats) and, on an aggregating node, each remote
 * camera's gauges with node="NODE",camera="NAME". */
static void mqtt_metrics(fm_http *h, fm_text *b)
{
    fm_mqtt_stats ms;
    fm_mqtt_get_stats(h->mqtt, &ms);
    static const family fams[] = {
        {"facemask_mqtt_connected", "1 while the broker has accepted this node's session.",
         GAUGE},
        {"facemask_mqtt_connects_total", "MQTT sessions the broker accepted since start.",
         COUNTER},
        {"facemask_mqtt_disconnects_total", "MQTT sessions lost since start (reconnects follow).",
         COUNTER},
        {"facemask_mqtt_events_published_total", "Events published to the broker, re-sends "
         "included.", COUNTER},
        {"facemask_mqtt_events_acknowledged_total",
         "Events the broker acknowledged (marked sent in the history).", COUNTER},
        {"facemask_mqtt_events_unsent", "Stored events the broker has not acknowledged yet "
         "(NaN when the history cannot be read).", GAUGE},
    };
    fm_err err = {0};
    long long unsent = -1;
    fm_history *hist = fm_http_history_take(h, &err);
    if (hist) {
        unsent = fm_history_count(hist, "unsent", &err);
        fm_http_history_give(h, hist);
    }
    const double vals[] = {ms.connected, (double)ms.connects, (double)ms.disconnects,
                           (double)ms.published, (double)ms.acked,
                           unsent >= 0 ? (double)unsent : NAN};
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        header(b, fams[f].name, fams[f].help, fams[f].type == GAUGE ? "gauge" : "counter");
        plain(b, fams[f].name, vals[f]);
    }
    fm_mqtt_remote *r = NULL;
    int n = fm_http_remotes(h, &r);
    if (n <= 0) { /* not aggregating, none heard of yet (or out of memory: b's check says) */
        b->oom |= n < 0;
        return;
    }
    static const family rfams[] = {
        {"facemask_remote_up", "1 while the remote camera's node is online and its status is "
         "running.", GAUGE},
        {"facemask_remote_people_now", "People in view now at a remote camera, as last heard.",
         GAUGE},
        {"facemask_remote_masked_now", "Of those, labelled mask.", GAUGE},
        {"facemask_remote_unmasked_now", "Of those, labelled no_mask.", GAUGE},
        {"facemask_remote_compliance_ratio", "A remote camera's masked / (masked + unmasked) "
         "since its node started; NaN before any.", GAUGE},
        {"facemask_remote_camera_fps", "A remote camera's processed frames per second.", GAUGE},
    };
    for (size_t f = 0; f < sizeof rfams / sizeof rfams[0]; f++) {
        header(b, rfams[f].name, rfams[f].help, "gauge");
        for (int i = 0; i < n; i++) {
            if (!r[i].has_state)
                continue;
            double v = 0;
            switch (f) {
            case 0: v = r[i].online && !strcmp(r[i].status, "running"); break;
            case 1: v = r[i].people_now; break;
            case 2: v = r[i].masked_now; break;
            case 3: v = r[i].unmasked_now; break;
            case 4: v = r[i].compliance < 0 ? NAN : r[i].compliance; break;
            default: v = r[i].fps; break;
            }
            fm_text_printf(b, "%s{node=\"", rfams[f].name);
            put_label(b, r[i].node);
            fm_text_str(b, "\",camera=\"");
            put_label(b, r[i].camera);
            fm_text_str(b, "\"} ");
            put_value(b, v);
            fm_text_str(b, "\n");
        }
    }
    free(r);
}

enum MHD_Result fm_http_metrics(fm_http *h, struct MHD_Connection *c)
{
    if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
        return fm_http_send_error(c, MHD_HTTP_BAD_REQUEST,
                                  "unknown parameter (expected none)");
    int n = fm_site_state_count(h->state);
    fm_site_cam_stats stats[FM_SITE_MAX_CAMERAS];
    int got[FM_SITE_MAX_CAMERAS] = {0};
    for (int i = 0; i < n && i < FM_SITE_MAX_CAMERAS; i++)
        got[i] = fm_site_state_get(h->state, i, &stats[i], NULL) == FM_OK;

    static const family fams[] = {
        {"facemask_camera_fps", "Processed frames per second, the pipeline's recent rate.",
         GAUGE},
        {"facemask_frames_processed_total", "Frames run through the detector.", COUNTER},
        {"facemask_frames_skipped_total", "Frames read but not processed (every N, or late).",
         COUNTER},
        {"facemask_faces_total", "Faces detected, summed over processed frames.", COUNTER},
        {"facemask_people_now", "People (tracks) in view now.", GAUGE},
        {"facemask_masked_now", "People in view now whose label is mask.", GAUGE},
        {"facemask_unmasked_now", "People in view now whose label is no_mask.", GAUGE},
        {"facemask_people_total", "People who left view since start.", COUNTER},
        {"facemask_people_masked_total", "People who left view since start, labelled mask.",
         COUNTER},
        {"facemask_people_unmasked_total",
         "People who left view since start, labelled no_mask.", COUNTER},
        {"facemask_compliance_ratio",
         "masked / (masked + unmasked) of the people since start; NaN before any.", GAUGE},
        {"facemask_reconnects_total", "Times a live source was reopened.", COUNTER},
        {"facemask_camera_up", "1 while the camera's frames flow (status running).", GAUGE},
    };
    fm_text b = {0};
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        header(&b, fams[f].name, fams[f].help, fams[f].type == GAUGE ? "gauge" : "counter");
        for (int i = 0; i < n; i++) {
            if (!got[i])
                continue;
            const fm_site_cam_stats *s = &stats[i];
            double v = 0;
            switch (f) {
            case 0: v = s->fps; break;
            case 1: v = (double)s->frames; break;
            case 2: v = (double)s->skipped; break;
            case 3: v = (double)s->faces; break;
            case 4: v = s->people_now; break;
            case 5: v = s->masked_now; break;
            case 6: v = s->unmasked_now; break;
            case 7: v = (double)s->people; break;
            case 8: v = (double)s->masked; break;
            case 9: v = (double)s->unmasked; break;
            case 10: v = s->compliance < 0 ? NAN : s->compliance; break;
            case 11: v = (double)s->reconnects; break;
            default: v = s->status == FM_CAM_RUNNING; break;
            }
            sample(&b, fams[f].name, "", s->name, NULL, v);
        }
    }
    const char *lat = "facemask_inference_latency_seconds";
    header(&b, lat, "Time from frame read to annotations done.", "histogram");
    for (int i = 0; i < n; i++) {
        if (!got[i])
            continue;
        const fm_site_cam_stats *s = &stats[i];
        for (int k = 0; k < FM_SITE_LATENCY_BUCKETS; k++) {
            char le[32];
            snprintf(le, sizeof le, "%g", fm_site_latency_bounds[k]);
            sample(&b, lat, "_bucket", s->name, le, (double)s->latency_le[k]);
        }
        sample(&b, lat, "_bucket", s->name, "+Inf", (double)s->latency_count);
        sample(&b, lat, "_sum", s->name, NULL, s->latency_sum);
        sample(&b, lat, "_count", s->name, NULL, (double)s->latency_count);
    }
    if (h->mqtt)
        mqtt_metrics(h, &b);
    header(&b, "facemask_live_streams", "Live views (MJPEG streams) open now.", "gauge");
    plain(&b, "facemask_live_streams", fm_http_live_streams(h->live));
    header(&b, "facemask_http_connections",
           "HTTP connections open now (this one, idle ones and live views included).", "gauge");
    plain(&b, "facemask_http_connections", fm_http_connections(h));
    header(&b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
    plain(&b, "process_resident_memory_bytes", resident_bytes());
    return fm_http_send_buf(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
}
