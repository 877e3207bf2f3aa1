/* video_plugin.c - the video plugin's entry (linked into facemask-video.so only). */
#include "app/video_plugin.h"

#include "facemask.h"

const fm_video_plugin *fm_video_plugin_get(void)
{
    static const fm_video_plugin plugin = {FM_VIDEO_PLUGIN_ABI, FM_VERSION_STRING,
                                           sizeof(fm_watch_opts), sizeof(fm_watch_stats),
                                           fm_watch_run,
                                           sizeof(fm_serve_opts), sizeof(fm_serve_stats),
                                           fm_serve_run};
    return &plugin;
}
