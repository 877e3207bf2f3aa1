/* rtsp_server.c - test helper: serves one H.264 file over RTSP, on 127.0.0.1 only.
 *
 *     build/rtsp_server FILE PORT
 *
 * FILE is an .mp4/.mov or .mkv file holding H.264 video; it is served, not looped, at
 * rtsp://127.0.0.1:PORT/test (TCP interleaved or UDP, as the client asks), each client
 * getting its own pipeline from the start of the file. PORT 0 picks a free port. Prints
 * "ready PORT" on stdout once listening; exits 0 on SIGTERM or SIGINT, 1 on an error
 * (port taken, bad arguments), with the reason on stderr. It never binds any address other
 * than 127.0.0.1. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#define LOOPBACK "127.0.0.1"

static gboolean on_signal(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: rtsp_server FILE.mp4|FILE.mkv PORT\n");
        return 1;
    }
    const char *file = argv[1];
    char *end = NULL;
    long port = strtol(argv[2], &end, 10);
    if (!*argv[2] || *end || port < 0 || port > 65535) {
        fprintf(stderr, "rtsp_server: port '%s' is not a number in 0..65535\n", argv[2]);
        return 1;
    }
    const char *dot = strrchr(file, '.');
    const char *demux = NULL;
    if (dot && (strcasecmp(dot, ".mp4") == 0 || strcasecmp(dot, ".mov") == 0))
        demux = "qtdemux";
    else if (dot && strcasecmp(dot, ".mkv") == 0)
        demux = "matroskademux";
    if (!demux) {
        fprintf(stderr, "rtsp_server: %s: expected an .mp4, .mov or .mkv file\n", file);
        return 1;
    }
    if (strpbrk(file, "\"\\")) {
        fprintf(stderr, "rtsp_server: %s: quotes and backslashes in the path are not supported\n",
                file);
        return 1;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror(file);
        return 1;
    }
    fclose(f);

    gst_init(NULL, NULL);
    const char *needed[] = {demux, "rtph264pay"};
    for (size_t i = 0; i < 2; i++) {
        GstElementFactory *ef = gst_element_factory_find(needed[i]);
        if (!ef) {
            fprintf(stderr,
                    "rtsp_server: GStreamer element '%s' is missing (install "
                    "gstreamer1.0-plugins-good)\n",
                    needed[i]);
            return 1;
        }
        gst_object_unref(ef);
    }

    GstRTSPServer *server = gst_rtsp_server_new();
    gst_rtsp_server_set_address(server, LOOPBACK);
    char service[16];
    snprintf(service, sizeof service, "%ld", port);
    gst_rtsp_server_set_service(server, service);

    GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
    char *launch = g_strdup_printf("( filesrc location=\"%s\" ! %s ! rtph264pay name=pay0 pt=96 "
                                   "config-interval=-1 )",
                                   file, demux);
    gst_rtsp_media_factory_set_launch(factory, launch);
    g_free(launch);
    gst_rtsp_media_factory_set_shared(factory, FALSE);
    GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
    gst_rtsp_mount_points_add_factory(mounts, "/test", factory); /* takes the factory */
    g_object_unref(mounts);

    GError *gerr = NULL;
    GSource *listen = gst_rtsp_server_create_source(server, NULL, &gerr);
    if (!listen) {
        fprintf(stderr, "rtsp_server: cannot listen on %s:%ld: %s\n", LOOPBACK, port,
                gerr ? gerr->message : "unknown error");
        g_clear_error(&gerr);
        g_object_unref(server);
        return 1;
    }
    g_source_attach(listen, NULL);

    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGTERM, on_signal, loop);
    g_unix_signal_add(SIGINT, on_signal, loop);
    printf("ready %d\n", gst_rtsp_server_get_bound_port(server));
    fflush(stdout);
    g_main_loop_run(loop);

    g_source_destroy(listen);
    g_source_unref(listen);
    g_main_loop_unref(loop);
    g_object_unref(server);
    return 0;
}
