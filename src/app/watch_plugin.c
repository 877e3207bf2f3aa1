/* watch_plugin.c - `watch`, `bench --source` and `serve` reach the video pipeline through a
 * plugin.
 *
 * FFmpeg and SDL2 bring some 150 shared libraries and ~30 MB of memory with them; linking them
 * into the one executable made every `detect` pay for them. So the pipeline (src/app/watch.c,
 * src/video/, src/ui/) is built as facemask-video.so and loaded here, when a video command
 * runs. The plugin carries its own copy of the library (app/video_plugin.h says why that is
 * safe); the executable exports nothing. It is looked for beside the executable (a build tree),
 * then in ../lib/facemask/ (an installed copy). */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app/video_plugin.h"
#include "app/watch.h"
#include "core/paths.h"
#include "facemask.h"

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

fm_serve_opts fm_serve_default_opts(void)
{
    fm_serve_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.summary_every = 10;
    return o;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const fm_video_plugin *g_plugin;
static char g_error[3 * PATH_MAX + 256];

/* The candidates, in order: BIN/facemask-video.so, BIN/../lib/facemask/facemask-video.so. */
static int plugin_candidates(char out[2][PATH_MAX + 64])
{
    char dirs[FM_SELF_MAX][PATH_MAX];
    int n = fm_self_dirs(dirs);
    if (n == 0)
        return 0;
    const char *bin = dirs[n - 1]; /* the executable's folder */
    char parent[PATH_MAX];
    fm_parent_dir(bin, parent, sizeof parent);
    snprintf(out[0], sizeof out[0], "%s/" FM_VIDEO_PLUGIN_FILE, bin);
    snprintf(out[1], sizeof out[1], "%s%slib/facemask/" FM_VIDEO_PLUGIN_FILE, parent,
             strcmp(parent, "/") == 0 ? "" : "/");
    return 2;
}

static void load_plugin(void)
{
    char cand[2][PATH_MAX + 64];
    int n = plugin_candidates(cand);
    if (n == 0) {
        snprintf(g_error, sizeof g_error,
                 "video support not available: cannot find the facemask executable's folder");
        return;
    }
    const char *path = NULL;
    struct stat st;
    for (int i = 0; i < n && !path; i++)
        if (stat(cand[i], &st) == 0)
            path = cand[i];
    if (!path) {
        snprintf(g_error, sizeof g_error,
                 "video support not available: no " FM_VIDEO_PLUGIN_FILE " at %s or %s (build it "
                 "with `make`, or install it with `make install`)",
                 cand[0], cand[1]);
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(g_error, sizeof g_error, "video support not available: %s", e ? e : path);
        return;
    }
    const fm_video_plugin *(*get)(void);
    *(void **)&get = dlsym(h, FM_VIDEO_PLUGIN_SYMBOL);
    const fm_video_plugin *p = get ? get() : NULL;
    if (!p) {
        snprintf(g_error, sizeof g_error,
                 "%s: not a facemask video plugin (no " FM_VIDEO_PLUGIN_SYMBOL " in it)", path);
    } else if (p->abi != FM_VIDEO_PLUGIN_ABI || !p->version || !p->run ||
               strcmp(p->version, FM_VERSION_STRING) != 0 ||
               p->opts_size != sizeof(fm_watch_opts) || p->stats_size != sizeof(fm_watch_stats) ||
               !p->serve || p->serve_opts_size != sizeof(fm_serve_opts) ||
               p->serve_stats_size != sizeof(fm_serve_stats)) {
        snprintf(g_error, sizeof g_error,
                 "%s: a video plugin from another build of facemask (version %s, expected %s "
                 "with the same sources); rebuild or reinstall both",
                 path, p->version ? p->version : "?", FM_VERSION_STRING);
    } else {
        g_plugin = p;
        return;
    }
    dlclose(h);
}

fm_status fm_watch_start(const fm_watch_opts *o, fm_watch_stats *stats, fm_err *err)
{
    pthread_once(&g_once, load_plugin);
    if (!g_plugin)
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s", g_error);
    return g_plugin->run(o, stats, err);
}

fm_status fm_serve_start(const fm_serve_opts *o, fm_serve_stats *stats, fm_err *err)
{
    pthread_once(&g_once, load_plugin);
    if (!g_plugin) {
        memset(stats, 0, sizeof *stats);
        return fm_err_set(err, FM_ERR_UNSUPPORTED, "%s", g_error);
    }
    return g_plugin->serve(o, stats, err);
}
