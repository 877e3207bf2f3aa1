/* Ctrl-C / SIGTERM in the middle of `facemask watch --record`: the recording is finalised and
 * playable with exactly the frames that were processed, and the events end with a final
 * summary and an "end" line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The value of "key": in the last line of text containing `marker`, or -1. */
static long long last_field(const char *text, const char *marker, const char *key)
{
    const char *hit = NULL;
    for (const char *p = text; p && (p = strstr(p, marker)) != NULL; p++)
        hit = p;
    if (!hit)
        return -1;
    while (hit > text && hit[-1] != '\n')
        hit--; /* the start of that line */
    const char *eol = strchr(hit, '\n');
    const char *k = strstr(hit, key);
    if (!k || (eol && k > eol))
        return -1;
    return atoll(k + strlen(key));
}

static void run_signal_case(int sig)
{
    const char *dir = fm_test_tmpdir();
    char ev[600], rec[600], pidf[600], cmd[3000];
    snprintf(ev, sizeof ev, "%s/events.jsonl", dir);
    snprintf(rec, sizeof rec, "%s/out.mp4", dir);
    snprintf(pidf, sizeof pidf, "%s/pid", dir);
    /* The clip is played three times over a pipe-free concat list so the run lasts long
     * enough to be interrupted in the middle even on a fast machine. */
    char list[600];
    snprintf(list, sizeof list, "%s/list.txt", dir);
    FILE *f = fopen(list, "w");
    FM_CHECK(f != NULL);
    if (!f)
        return;
    char abs_clip[1024];
    snprintf(cmd, sizeof cmd, "readlink -f %s/demo/uengmim_test_video.avi", fm_test_shared());
    char *out = NULL;
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    snprintf(abs_clip, sizeof abs_clip, "%s", out ? out : "");
    abs_clip[strcspn(abs_clip, "\n")] = '\0';
    free(out);
    for (int i = 0; i < 3; i++)
        fprintf(f, "file '%s'\n", abs_clip);
    fclose(f);
    char clip[600];
    snprintf(clip, sizeof clip, "%s/long.mkv", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -loglevel error -y -f concat -safe 0 -i %s -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p %s",
             list, clip);
    FM_CHECK_INT(fm_test_cmd(cmd, NULL), 0);

    snprintf(cmd, sizeof cmd,
             "%s watch --detector res10 "
             "--source %s --model-dir %s/models --classifier models/mask --record %s "
             "--events %s --quiet >/dev/null 2>%s/stderr & echo $! > %s",
             fm_test_bin(), clip, fm_test_shared(), rec, ev, dir, pidf);
    FM_CHECK_INT(fm_test_cmd(cmd, NULL), 0);
    char *pidtext = fm_test_read_file(pidf, NULL);
    int pid = pidtext ? atoi(pidtext) : 0;
    free(pidtext);
    FM_CHECK(pid > 0);
    if (pid <= 0)
        return;
    /* Wait (bounded) until people have appeared, then interrupt. */
    int appeared = 0;
    for (int t = 0; t < 600 && !appeared; t++) {
        char *text = fm_test_read_file(ev, NULL);
        appeared = text && strstr(text, "\"appear\"") != NULL;
        free(text);
        if (!appeared)
            sleep_ms(100);
    }
    FM_CHECK_MSG(appeared, "no appear event within 60 s");
    sleep_ms(300);
    kill(pid, sig);
    int alive = 1;
    for (int t = 0; t < 300 && alive; t++) {
        alive = kill(pid, 0) == 0;
        if (alive)
            sleep_ms(100);
    }
    FM_CHECK_MSG(!alive, "watch did not stop within 30 s of the signal");
    if (alive) {
        kill(pid, SIGKILL);
        return;
    }
    char errp[700];
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    char *errtext = fm_test_read_file(errp, NULL);
    FM_CHECK_MSG(errtext && !strstr(errtext, "Sanitizer") && !strstr(errtext, "runtime error") &&
                     !strstr(errtext, "facemask:"),
                 "watch printed: %s", errtext ? errtext : "(nothing readable)");
    free(errtext);
    char *text = fm_test_read_file(ev, NULL);
    FM_CHECK(text != NULL);
    if (!text)
        return;
    FM_CHECK_STR_CONTAINS(text, "\"final\":true");
    FM_CHECK_STR_CONTAINS(text, "{\"event\":\"end\"");
    FM_CHECK_STR_CONTAINS(text, "\"reason\":\"signal\"");
    long long frames = last_field(text, "\"final\":true", "\"frame\":");
    /* mid-run: more than nothing, fewer than the three plays of 104 frames */
    FM_CHECK_MSG(frames > 0 && frames < 312, "processed %lld frames", frames);
    /* every person who appeared also left */
    int appear = 0, leave = 0;
    for (const char *p = text; (p = strstr(p, "\"event\":\"appear\"")) != NULL; p++)
        appear++;
    for (const char *p = text; (p = strstr(p, "\"event\":\"leave\"")) != NULL; p++)
        leave++;
    FM_CHECK(appear > 0 && appear == leave);
    free(text);

    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
             "stream=codec_name,nb_read_frames -of csv=p=0 %s",
             rec);
    out = NULL;
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    char want[64];
    snprintf(want, sizeof want, "h264,%lld", frames);
    FM_CHECK_STR_CONTAINS(out, want);
    free(out);
}

static void test_sigterm_finalises_recording(void)
{
    run_signal_case(SIGTERM);
}

static void test_sigint_finalises_recording(void)
{
    run_signal_case(SIGINT);
}

void suite_watch_signal(void);
void suite_watch_signal(void)
{
    FM_RUN(test_sigterm_finalises_recording);
    FM_RUN(test_sigint_finalises_recording);
}
