/* video_plugin.h - what the executable and the video plugin (facemask-video.so) share.
 *
 * The plugin is self-contained: it links its own copy of libfacemask (the PIC static archive)
 * and exports one symbol, fm_video_plugin_get. The executable exports nothing. The two meet only
 * through this table, which says which build the plugin comes from, so an executable never
 * runs a plugin built from other sources (an older install, another checkout): the structures
 * it passes would not mean the same.
 *
 * State: each side has its own copy of the library's code and static data. Nothing the
 * executable creates (a detector, a pool, a tracker) crosses over: the plugin gets options
 * (strings and numbers) and returns statistics, and builds its own models from them. The
 * library's mutable statics are few, and none is shared across the boundary:
 *   - core/log.c's level: the executable's copy serves the image commands; the plugin sets its
 *     own from fm_watch_opts.quiet (fm_serve_opts.quiet) at the start of fm_watch_run
 *     (fm_serve_run), so --quiet reaches FFmpeg's and SDL's messages, and everything watch and
 *     serve print goes through the plugin's copy;
 *   - core/log.c's "status line shown" flag: set and read by watch inside the plugin, and by
 *     the progress bar (detect, classify, eval, train) inside the executable, never across;
 *   - process-wide state (signal handlers, FFmpeg's and SDL's log callbacks, the formats
 *     src/video looks up once) exists only in the plugin, which alone uses it.
 * A new static that one side sets and the other reads must travel in fm_watch_opts the same
 * way (and FM_VIDEO_PLUGIN_ABI or the structure sizes change with it).
 */
#ifndef FM_VIDEO_PLUGIN_H
#define FM_VIDEO_PLUGIN_H

#include <stddef.h>

#include "app/watch.h"
#include "serve/serve.h"

/* Raised when the table below changes. */
#define FM_VIDEO_PLUGIN_ABI 2 /* 2: serve */

typedef struct {
    int abi;                 /* FM_VIDEO_PLUGIN_ABI the plugin was built with */
    const char *version;     /* FM_VERSION_STRING (facemask.h) of its build */
    size_t opts_size;        /* sizeof(fm_watch_opts) in its build */
    size_t stats_size;       /* sizeof(fm_watch_stats) */
    fm_status (*run)(const fm_watch_opts *o, fm_watch_stats *stats, fm_err *err);
    size_t serve_opts_size;  /* sizeof(fm_serve_opts) */
    size_t serve_stats_size; /* sizeof(fm_serve_stats) */
    fm_status (*serve)(const fm_serve_opts *o, fm_serve_stats *stats, fm_err *err);
} fm_video_plugin;

/* The plugin's one export. */
#define FM_VIDEO_PLUGIN_SYMBOL "fm_video_plugin_get"
const fm_video_plugin *fm_video_plugin_get(void);

/* The plugin's file name, and where the executable looks for it (BIN: its folder):
 * BIN/facemask-video.so (a build tree), then BIN/../lib/facemask/facemask-video.so (installed). */
#define FM_VIDEO_PLUGIN_FILE "facemask-video.so"

#endif
