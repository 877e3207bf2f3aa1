/* writer.h - recording BGR frames to a video file (FFmpeg).
 *
 * The container follows the extension: .mp4 (MPEG-4 part 14), .mkv (Matroska) or .avi.
 * MP4 and MKV get H.264 (libx264, preset "veryfast", CRF 23) when this FFmpeg has libx264,
 * else MPEG-4 part 2; AVI always gets MPEG-4 part 2. Pixels go through libswscale to
 * yuv420p. Frames are stamped 0, 1/fps, 2/fps, ... in the order they are written.
 *
 *     fm_err err = {0};
 *     fm_writer *wr = fm_writer_open("out.mkv", 640, 480, 10.0, &err);
 *     if (!wr) { fprintf(stderr, "facemask: %s\n", err.msg); return 1; }
 *     for (...) if (fm_writer_write(wr, img, &err) != FM_OK) break;
 *     if (fm_writer_close(wr, &err) != FM_OK) fprintf(stderr, "facemask: %s\n", err.msg);
 *
 * Odd sizes: yuv420p needs even sizes, so an odd width or height is padded by one column
 * or row that repeats the last one; the file then reports the padded size (e.g. 641x481).
 * fm_writer_close flushes the encoder and writes the trailer. MP4 is written fragmented (an
 * empty moov, then a fragment per keyframe, about every 2 s), so an MP4 cut short by a full
 * disk, SIGKILL or a power loss still plays up to its last whole fragment; a Matroska file is
 * readable up to its last frame.
 * After a failed write the writer takes no more frames (each call fails at once, without
 * FFmpeg's complaints about timestamps); fm_writer_close then closes the file without a
 * trailer, and so does fm_writer_abort.
 */
#ifndef FM_VIDEO_WRITER_H
#define FM_VIDEO_WRITER_H

#include "core/err.h"
#include "io/image.h"

typedef struct fm_writer fm_writer;

/* Creates (or truncates) `path` for frames of w x h pixels (1..16384 each) at fps frames/s
 * (0 < fps <= 1000). NULL with a one-line message on a bad argument, an unknown extension
 * or a file that cannot be created. */
fm_writer *fm_writer_open(const char *path, int w, int h, double fps, fm_err *err);

/* Encodes one frame; it must be w x h as given to fm_writer_open. The image is only read. */
fm_status fm_writer_write(fm_writer *wr, const fm_image *bgr, fm_err *err);

/* Flushes the encoder, writes the trailer, closes the file and frees the handle, also when it
 * fails (the status says whether the file is complete). NULL is fine. */
fm_status fm_writer_close(fm_writer *wr, fm_err *err);

/* Closes the file as it is (no encoder flush, no trailer) and frees the handle: for a writer
 * whose output failed. NULL is fine. */
void fm_writer_abort(fm_writer *wr);

/* The encoder in use: "libx264" or "mpeg4". */
const char *fm_writer_codec(const fm_writer *wr);
/* Frames written so far. */
long long fm_writer_frames(const fm_writer *wr);

#endif
