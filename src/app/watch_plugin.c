/* watch_plugin.c - `watch` and `bench --source` reach the video pipeline through a plugin.
 *
 * FFmpeg and SDL2 bring some 150 shared libraries and ~30 MB of memory with them; linking them
 * into the one executable made every `detect` pay for them. So the pipeline (src/app/watch.c,
 * src/video/, src/ui/) is built as facemask-video.so beside the executable and loaded here,
 * when a video command runs. The plugin uses the executable's own detector, classifier and
 * tracker (the executable exports its symbols). */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/watch.h"

fm_watch_opts fm_watch_default_opts(void)
{
    fm_watch_opts o;
    memset(&o, 0, sizeof o);
    o.classify = 1;
    o.threads = 2;
    o.conf = 0.5f;
    o.every = 1;
    o.summary_every = 10;
    o.status = 1;
    o.folder_fps = 10;
    return o;
}

typedef fm_status (*watch_run_fn)(const fm_watch_opts *, fm_watch_stats *, fm_err *);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static watch_run_fn g_run;
static char g_error[PATH_MAX + 256];

static void load_plugin(void)
{
    char exe[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(g_error, sizeof g_error, "cannot find the facemask executable's folder");
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(path, sizeof path, "%s/facemask-video.so", exe);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(g_error, sizeof g_error,
                 "video support not available: %s (build it with `make`, it belongs beside the "
                 "facemask executable)",
                 e ? e : path);
        return;
    }
    *(void **)&g_run = dlsym(h, "fm_watch_run");
    if (!g_run)
        snprintf(g_error, sizeof g_error, "%s: no fm_watch_run in it", path);
}

fm_status fm_watch_start(const fm_watch_opts *o, fm_watch_stats *stats, fm_err *err)
{
    pthread_once(&g_once, load_plugin);
    if (!g_run)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s", g_error);
    return g_run(o, stats, err);
}
