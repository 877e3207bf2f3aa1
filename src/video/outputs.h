/* outputs.h - the image outputs `watch` and `serve` write besides the events: one snapshot of
 * each person seen without a mask, and frames fitted into a recording of one size.
 *
 *     fm_snapshot_set taken = {0};
 *     for each track event e of a frame:
 *         if (fm_snapshot_wanted(&taken, &e)) {                 // a no_mask person, once
 *             char path[4096];
 *             if (fm_snapshot_save("snaps", img, e.id, frame, path, sizeof path, &err) != FM_OK)
 *                 ...                                            // path names the file anyway
 *         }
 *     fm_snapshot_set_free(&taken);
 *
 * Snapshots are named DIR/no_mask_idIIII_frameFFFFFF.jpg (JPEG quality 90), written under a
 * temporary name (DIR/.no_mask_...jpg.part) and renamed, so a snapshot file is whole or absent,
 * also after a crash or a full disk (the partial file is removed).
 */
#ifndef FM_VIDEO_OUTPUTS_H
#define FM_VIDEO_OUTPUTS_H

#include <stddef.h>

#include "core/err.h"
#include "io/image.h"
#include "track/tracker.h"

/* The track ids already snapshot (a growing bitmap; zero-initialise it). */
typedef struct {
    unsigned char *taken;
    int cap;
} fm_snapshot_set;

/* 1 when e is an appear or label event with the label no_mask for a track not snapshot yet;
 * the track then counts as taken. 0 otherwise (and when memory is short). */
int fm_snapshot_wanted(fm_snapshot_set *s, const fm_track_event *e);
void fm_snapshot_set_free(fm_snapshot_set *s);

/* Saves img as the snapshot of track `id` at `frame` in folder dir (which must exist); path
 * (path_len bytes) gets the file's name, also on failure (for the message). */
fm_status fm_snapshot_save(const char *dir, const fm_image *img, int id, long long frame,
                           char *path, size_t path_len, fm_err *err);

/* src scaled to fit canvas (aspect kept), centred on black: a frame of another size than the
 * recording (an image folder), so the recording keeps one size. */
void fm_image_letterbox(const fm_image *src, fm_image *canvas);

#endif
