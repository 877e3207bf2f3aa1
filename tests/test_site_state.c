/* serve's per-camera live state (src/site/state.h): exact counters and histogram buckets, the
 * compliance of people who left, bad indexes, and the live view's wait / wake between threads
 * (the threaded case runs under ThreadSanitizer in `make tsan-test`). */
#include <pthread.h>
#include <string.h>
#include <stdlib.h>

#include "site/state.h"
#include "test.h"

static fm_site_state *two_cameras(void)
{
    fm_err err = {0};
    const char *names[] = {"front-door", "hall"};
    fm_site_state *st = fm_site_state_new(2, names, &err);
    FM_CHECK_MSG(st != NULL, "%s", err.msg);
    return st;
}

static void test_site_state_counts(void)
{
    fm_err err = {0};
    fm_site_state *st = two_cameras();
    if (!st)
        return;
    FM_CHECK_INT(fm_site_state_count(st), 2);
    FM_CHECK_INT(fm_site_state_find(st, "hall"), 1);
    FM_CHECK_INT(fm_site_state_find(st, "hal"), -1);
    fm_site_cam_stats s;
    FM_CHECK_INT(fm_site_state_get(st, 0, &s, &err), FM_OK);
    FM_CHECK(strcmp(s.name, "front-door") == 0);
    FM_CHECK_INT(s.status, FM_CAM_STARTING);
    FM_CHECK_NEAR(s.compliance, -1, 0);
    FM_CHECK(s.latency_p50_ms == 0 && s.latency_p90_ms == 0);

    /* latencies 4 ms, 10 ms (on a bound: counts as <= it), 0.3 s, 7 s (only +Inf), NaN (none) */
    double lat[] = {0.004, 0.01, 0.3, 7.0, NAN};
    for (int i = 0; i < 5; i++)
        fm_site_state_frame(st, 0, &(fm_site_frame){.latency_s = lat[i], .faces = i,
                                                    .people_now = 3, .masked_now = 2,
                                                    .unmasked_now = 1, .fps = 12.5});
    fm_site_state_skipped(st, 0, 7);
    fm_site_state_skipped(st, 0, -3); /* ignored */
    fm_site_state_reconnect(st, 0);
    fm_site_state_person(st, 0, "mask");
    fm_site_state_person(st, 0, "mask");
    fm_site_state_person(st, 0, "no_mask");
    fm_site_state_person(st, 0, "unknown");
    fm_site_state_frame(st, 9, &(fm_site_frame){.faces = 1}); /* bad index: ignored */
    fm_site_state_frame(st, -1, &(fm_site_frame){.faces = 1});
    FM_CHECK_INT(fm_site_state_get(st, 0, &s, &err), FM_OK);
    FM_CHECK_INT(s.status, FM_CAM_RUNNING);
    FM_CHECK_INT(s.frames, 5);
    FM_CHECK_INT(s.faces, 0 + 1 + 2 + 3 + 4);
    FM_CHECK_INT(s.skipped, 7);
    FM_CHECK_INT(s.reconnects, 1);
    FM_CHECK_INT(s.people_now, 3);
    FM_CHECK_INT(s.masked_now, 2);
    FM_CHECK_INT(s.unmasked_now, 1);
    FM_CHECK_NEAR(s.fps, 12.5, 0);
    FM_CHECK_INT(s.people, 4);
    FM_CHECK_INT(s.masked, 2);
    FM_CHECK_INT(s.unmasked, 1);
    FM_CHECK_NEAR(s.compliance, 2.0 / 3.0, 1e-12);
    FM_CHECK_INT(s.latency_count, 4);
    FM_CHECK_NEAR(s.latency_sum, 0.004 + 0.01 + 0.3 + 7.0, 1e-12);
    /* bounds 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 */
    long long want[FM_SITE_LATENCY_BUCKETS] = {1, 2, 2, 2, 2, 2, 3, 3, 3, 3};
    for (int b = 0; b < FM_SITE_LATENCY_BUCKETS; b++)
        FM_CHECK_MSG(s.latency_le[b] == want[b], "bucket %d: %lld, expected %lld", b,
                     s.latency_le[b], want[b]);
    FM_CHECK(s.updated > 1.7e9);
    /* quantiles of 4, 10, 300, 7000 ms (core/hist.h: the sample of rank round(3 q), within 1%) */
    FM_CHECK_NEAR(s.latency_p50_ms, 300.0, 3.0);
    FM_CHECK_NEAR(s.latency_p90_ms, 7000.0, 70.0);

    fm_site_state_status(st, 1, FM_CAM_FAILED, "rtsp://x: connection refused");
    FM_CHECK_INT(fm_site_state_get(st, 1, &s, &err), FM_OK);
    FM_CHECK_INT(s.status, FM_CAM_FAILED);
    FM_CHECK(strcmp(s.last_error, "rtsp://x: connection refused") == 0);
    FM_CHECK(strcmp(fm_cam_status_str(s.status), "failed") == 0);
    FM_CHECK_INT(s.frames, 0);

    FM_CHECK_INT(fm_site_state_get(st, 2, &s, &err), FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "no camera 2 (2 cameras)");
    fm_site_state_free(st);

    const char *bad[] = {"ok", ""};
    FM_CHECK(fm_site_state_new(2, bad, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "camera 1: name of 0 characters");
    FM_CHECK(fm_site_state_new(0, bad, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "0 cameras");
}

typedef struct {
    fm_site_state *st;
    int frames;
} producer;

static void *produce(void *p)
{
    producer *pr = p;
    uint8_t jpeg[64];
    for (int i = 1; i <= pr->frames; i++) {
        memset(jpeg, i & 0xff, sizeof jpeg);
        fm_site_state_put_jpeg(pr->st, 1, jpeg, (size_t)(16 + i % 48), NULL);
        fm_site_state_frame(pr->st, 1, &(fm_site_frame){.latency_s = 0.02, .faces = 1});
    }
    return NULL;
}

static void test_site_state_live_view(void)
{
    fm_site_state *st = two_cameras();
    if (!st)
        return;
    unsigned long long seq = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    /* nothing yet: a timeout */
    FM_CHECK_INT(fm_site_state_get_jpeg(st, 1, &seq, &buf, &cap, &len, 0.01), 0);
    fm_site_state_watch(st, 1);
    fm_site_state_watch(st, 1);
    fm_site_state_unwatch(st, 1);
    FM_CHECK_INT(fm_site_state_viewers(st, 1), 1);
    FM_CHECK_INT(fm_site_state_viewers(st, 0), 0);

    producer pr = {st, 2000};
    pthread_t t;
    FM_CHECK(pthread_create(&t, NULL, produce, &pr) == 0);
    unsigned long long last = 0;
    int got = 0, ordered = 1, whole = 1;
    while (seq < (unsigned long long)pr.frames) {
        int r = fm_site_state_get_jpeg(st, 1, &seq, &buf, &cap, &len, 5.0);
        if (r != 1)
            break;
        got++;
        ordered &= seq > last;
        last = seq;
        /* frame number seq was len = 16 + seq % 48 bytes, all equal to seq & 0xff */
        whole &= len == (size_t)(16 + seq % 48);
        for (size_t k = 0; k < len; k++)
            whole &= buf[k] == (uint8_t)(seq & 0xff);
    }
    pthread_join(t, NULL);
    FM_CHECK(got >= 1);
    FM_CHECK(ordered);
    FM_CHECK(whole);
    FM_CHECK_INT((long long)seq, pr.frames);
    fm_site_cam_stats s;
    FM_CHECK_INT(fm_site_state_get(st, 1, &s, NULL), FM_OK);
    FM_CHECK_INT(s.frames, pr.frames);

    /* a viewer waiting for a frame that never comes is woken at shutdown */
    fm_site_state_wake(st);
    FM_CHECK_INT(fm_site_state_get_jpeg(st, 1, &seq, &buf, &cap, &len, 30.0), 0);
    free(buf);
    fm_site_state_free(st);
}

void suite_site_state(void);
void suite_site_state(void)
{
    FM_RUN(test_site_state_counts);
    FM_RUN(test_site_state_live_view);
}
