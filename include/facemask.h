/* facemask.h - libfacemask: faces and face masks in images and video, from C (or anything that
 * calls C: C++, Go's cgo, Python's ctypes). This header is the whole public interface and its
 * manual.
 *
 * What it does: a face detector (YuNet, the default, with five landmarks per face; or OpenCV's
 * res10 SSD) finds faces in an 8-bit BGR or RGB image, and facemask's MobileNetV2 classifier
 * says, for each face, how likely it is that it wears a mask. For video, a stream follows
 * people across frames: stable ids, a label that does not flicker, and each person counted once.
 * The models are read from files (see "Models" below); nothing is fetched at run time.
 *
 * Example (error checks shortened):
 *
 *     #include <facemask.h>
 *     #include <stdio.h>
 *
 *     int main(int argc, char **argv)
 *     {
 *         char err[512];
 *         fm_options opts = {0};                   // all defaults: YuNet, 1 thread, conf 0.5
 *         fm_ctx *ctx = fm_open(&opts, err, sizeof err);
 *         if (!ctx) { fprintf(stderr, "%s\n", err); return 1; }
 *         const fm_result *faces;
 *         int w, h;
 *         int n = fm_detect_file(ctx, argv[1], &faces, &w, &h);   // or fm_detect on pixels
 *         if (n < 0) fprintf(stderr, "%s\n", fm_error(ctx));
 *         for (int i = 0; i < n; i++)
 *             printf("%s %.2f at %.0f,%.0f-%.0f,%.0f\n", faces[i].label, faces[i].mask_prob,
 *                    faces[i].x1, faces[i].y1, faces[i].x2, faces[i].y2);
 *         fm_close(ctx);
 *         return n < 0;
 *     }
 *
 *     cc app.c $(pkg-config --cflags --libs facemask)
 *
 * examples/detect_json.c (an image in, a JSON line out) and examples/detect.py (the same with
 * Python's ctypes) are complete programs.
 *
 * Conventions:
 * - Handles are opaque: fm_ctx (a detector and a classifier), fm_stream (one video's tracks).
 *   Each is created by an *_open function and freed by the matching *_close, which accepts NULL.
 * - Errors: a function that can fail returns NULL or -1. fm_open and fm_stream_open write the
 *   reason into the caller's buffer; afterwards each handle keeps the message of its own last
 *   failure (fm_error, fm_stream_error). Messages are one line naming what failed and what was
 *   expected, e.g. "models/yunet/yunet_n_640_640.onnx: cannot open YuNet: No such file or
 *   directory (...)". The library never prints, never exits and never aborts on bad input.
 * - Memory: results are owned by the handle that produced them and stay valid until the next
 *   call on that handle that produces results of the same kind, or until it is closed. Nothing
 *   the caller passes in is kept after the call returns, except the fm_ctx a stream borrows.
 * - Threads: there is no global state. Different handles can be used on different threads at
 *   the same time (one fm_ctx per thread, each with its own worker threads); one handle must not
 *   be used by two threads at once. fm_version may be called from anywhere.
 * - Units: boxes and landmarks are in pixels of the image passed in, (x1, y1) the top-left and
 *   (x2, y2) the bottom-right corner, in continuous coordinates (a box covers x1 <= x < x2);
 *   scores and probabilities are 0..1; times in seconds.
 *
 * Models: a models folder laid out as facemask installs it:
 *     <models>/detector/detector.onnx         the default detector (YuNet-n fine-tuned on
 *                                             masked faces by facemask, ONNX)
 *     <models>/yunet/yunet_n_640_640.onnx     "yunet": stock YuNet-n
 *     <models>/res10/deploy.prototxt, res10_300x300_ssd_iter_140000.caffemodel    "res10"
 *     <models>/mask/classifier.cfg, .prototxt, .caffemodel       the mask classifier
 * fm_options.model_dir names it; when NULL, the folder is $FACEMASK_MODELS, else the first of
 * ../share/facemask/models and ../models that exists beside the library file (libfacemask.so,
 * or the program that linked libfacemask.a) and then beside the running executable. `make
 * install` puts the models in PREFIX/share/facemask/models and the library in PREFIX/lib, so
 * an installed library finds them by itself. A missing model is an fm_open error that names
 * the file, the folders looked in, and FACEMASK_MODELS.
 *
 * Versions: the library's soname is libfacemask.so.MAJOR; a program built against this header
 * runs with any library of the same MAJOR whose MINOR is the same or later. The structures below
 * are part of the ABI: when one changes, MAJOR changes.
 */
#ifndef FACEMASK_H
#define FACEMASK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FM_VERSION_MAJOR 0
#define FM_VERSION_MINOR 1
#define FM_VERSION_PATCH 0
#define FM_VERSION_STRING "0.1.0"

/* Marks the functions libfacemask.so exports (only these; everything else is internal). */
#if defined(__GNUC__)
#define FM_API __attribute__((visibility("default")))
#else
#define FM_API
#endif

/* ------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------ */

/* The version of the library actually loaded, "MAJOR.MINOR.PATCH" (a static string); the three
 * numbers are stored where the pointers are not NULL. Compare with FM_VERSION_* (the header a
 * program was compiled with) to detect a mismatch. */
FM_API const char *fm_version(int *major, int *minor, int *patch);

/* ------------------------------------------------------------------------------------------
 * Detector + classifier: fm_ctx
 * ------------------------------------------------------------------------------------------ */

/* Options for fm_open. Zero-initialise (`fm_options o = {0};`): every zero or NULL field means
 * its default. Strings are read during fm_open only. */
typedef struct {
    const char *model_dir;      /* models folder; NULL: looked up as described under "Models" */
    const char *detector;       /* NULL or "tuned": the fine-tuned YuNet-n from
                                 * <models>/detector/; "yunet": stock YuNet-n from
                                 * <models>/yunet/; "res10": the
                                 * res10 SSD from <models>/res10/; anything else: the path of a
                                 * .onnx file with YuNet's outputs (cls_8 .. kps_32), such as
                                 * OpenCV Zoo's face_detection_yunet_2023mar.onnx */
    const char *classifier_dir; /* mask classifier folder; NULL: <models>/mask */
    int detect_only;            /* 1: load no classifier; faces get label "" and mask_prob -1 */
    int threads;                /* worker threads for inference, counting the caller's, 1..64;
                                 * 0: 1. Each fm_ctx has its own */
    int det_width, det_height;  /* detector input size; 0, 0: the model's default. YuNet: the
                                 * image is scaled so its long side is det_width (32..4096,
                                 * default 640), det_height must be 0. res10: det_width x
                                 * det_height (64..4096 each; det_height 0: square; default
                                 * 300 x 300) */
    float conf;                 /* minimum detector score, (0, 1]; 0: 0.5 */
    int max_faces;              /* most faces reported per image (the highest scores), 1..65536;
                                 * 0: 1024 */
} fm_options;

typedef struct fm_ctx fm_ctx;

/* Loads the detector and (unless detect_only) the classifier. opts may be NULL (all defaults).
 * Returns a new handle, or NULL with a one-line reason in errbuf (errsize bytes, always
 * NUL-terminated when errsize > 0; errbuf may be NULL): an option out of range, an unknown
 * detector name, a missing or malformed model file, out of memory. Free with fm_close. */
FM_API fm_ctx *fm_open(const fm_options *opts, char *errbuf, size_t errsize);

/* Frees the handle and everything it owns (results included). NULL is a no-op. Close every
 * stream that borrows ctx first. */
FM_API void fm_close(fm_ctx *ctx);

/* The message of ctx's last failed call, "" when it has not failed yet. Owned by ctx; valid
 * until its next call. */
FM_API const char *fm_error(const fm_ctx *ctx);

/* Channel order of 8-bit, 3-channel interleaved pixels. */
typedef enum {
    FM_PIXELS_BGR = 0, /* blue, green, red: OpenCV's cv::Mat, Windows DIBs */
    FM_PIXELS_RGB = 1  /* red, green, blue: most decoders, PIL/NumPy images */
} fm_pixels;

/* One face found in an image. */
typedef struct {
    float x1, y1, x2, y2;  /* the box, pixels, clipped to the image; always x2 > x1, y2 > y1 */
    float score;           /* detector confidence, conf..1 */
    int nlandmarks;        /* 5 with YuNet, 0 with res10 */
    float landmarks[5][2]; /* (x, y) pixels, not clipped: the person's right eye, left eye, nose
                            * tip, right and left mouth corner */
    float mask_prob;       /* P(mask), 0..1, from the classifier; -1 with detect_only */
    const char *label;     /* "mask" when mask_prob >= 0.5, else "no_mask"; "" with
                            * detect_only. A static string */
} fm_result;

/* Finds the faces in an image and classifies each. pixels: height rows of width pixels, 3 bytes
 * each in the given channel order, rows stride bytes apart (stride >= 3 * width); width and
 * height 1..65535 and width * height at most 64 Mi pixels. The pixels are only read, and not
 * kept.
 * Returns the number of faces (0 or more, at most max_faces) and points *faces (if faces is not
 * NULL) at them, highest score first; the array is owned by ctx and valid until the next
 * fm_detect, fm_detect_file or fm_close on ctx. Returns -1 on a bad argument or a failed
 * inference (out of memory), with the reason in fm_error(ctx); *faces is then NULL. */
FM_API int fm_detect(fm_ctx *ctx, const unsigned char *pixels, int width, int height, int stride,
                     fm_pixels format, const fm_result **faces);

/* As fm_detect, for a JPEG or PNG file (EXIF orientation applied, so the boxes are in pixels of
 * the upright image). width and height, when not NULL, receive the image's size. -1 also when
 * the file cannot be read or decoded (the message names the file). */
FM_API int fm_detect_file(fm_ctx *ctx, const char *path, const fm_result **faces, int *width,
                          int *height);

/* For callers with their own face detector: P(mask) of a face crop (the whole image is the
 * face; it is resized to the classifier's input). Pixels as for fm_detect. Returns 0 and stores
 * the probability in *mask_prob, or -1 (a bad argument, or ctx opened with detect_only) with
 * the reason in fm_error(ctx). */
FM_API int fm_classify(fm_ctx *ctx, const unsigned char *pixels, int width, int height,
                       int stride, fm_pixels format, float *mask_prob);

/* ------------------------------------------------------------------------------------------
 * Video: fm_stream
 *
 * Feed a stream the frames of one video in order. It detects and classifies with its fm_ctx,
 * follows each face across frames (IoU matching with a constant-velocity prediction), and
 * gives every person an id (1, 2, ...). A person is confirmed after 3 consecutive frames (a
 * one-frame false positive is never counted) and leaves after 1 s unseen. A person's label is a
 * moving average of the classifier's votes with hysteresis (no_mask below 0.35, mask above
 * 0.65, "unknown" until 3 votes), so it does not flicker; the classifier runs only on the faces
 * that need it (new, undecided, every 10th frame, or grown). It is the tracker `facemask watch`
 * uses.
 *
 *     fm_stream *s = fm_stream_open(ctx, err, sizeof err);
 *     for each frame:
 *         const fm_person *people;
 *         int n = fm_stream_frame(s, pixels, w, h, stride, FM_PIXELS_BGR, t_seconds, &people);
 *         const fm_stream_event *ev;
 *         int nev = fm_stream_events(s, &ev);        // appear / label / leave
 *     fm_stream_finish(s, t_end);                    // everyone still here leaves
 *     fm_counts c;
 *     fm_stream_counts(s, &c);                       // people, mask, no_mask
 *     fm_stream_close(s);
 * ------------------------------------------------------------------------------------------ */

typedef struct fm_stream fm_stream;

/* A confirmed person seen in the current frame. */
typedef struct {
    int id;                /* >= 1, the same for the same person in every frame */
    float x1, y1, x2, y2;  /* this frame's box, pixels */
    float score;           /* detector confidence of this frame's box */
    int nlandmarks;        /* 5 with YuNet, 0 with res10 */
    float landmarks[5][2]; /* as fm_result */
    const char *label;     /* "mask", "no_mask" or "unknown" (not yet decided); static */
    float mask_prob;       /* the smoothed P(mask), -1 before the first classification */
} fm_person;

typedef enum {
    FM_STREAM_APPEAR = 1, /* a person was confirmed (counted once) */
    FM_STREAM_LABEL = 2,  /* a person's label changed */
    FM_STREAM_LEAVE = 3   /* a person is gone (1 s unseen, or fm_stream_finish) */
} fm_stream_event_type;

typedef struct {
    int type;                 /* an fm_stream_event_type */
    int id;                   /* the person */
    double t;                 /* seconds: the frame (or finish) that produced it */
    long long frame;          /* 0-based number of that fm_stream_frame call */
    const char *label;        /* appear, label: the current label; leave: the label the person
                               * carried longest. Static */
    const char *prev_label;   /* label: the label before the change; else "unknown" */
    float mask_prob;          /* appear, label: smoothed P(mask); leave: the mean of all the
                               * person's classifications; -1 when there were none */
    float x1, y1, x2, y2;     /* appear, label: this frame's box; leave: the largest box seen */
    float score;              /* detector confidence of that box */
    double first_seen, last_seen; /* seconds of the person's first and last detection */
    int frames;               /* frames the person was detected in */
    int votes;                /* classifications the person received */
} fm_stream_event;

/* Totals so far. */
typedef struct {
    long long frames;  /* fm_stream_frame calls */
    long long faces;   /* detections, summed over frames */
    long long people;  /* confirmed persons, each once; == mask + no_mask + unknown */
    long long mask, no_mask, unknown; /* persons by the label they carried longest */
    int active;        /* persons present now */
    double compliance; /* mask / (mask + no_mask) among the persons seen in the last 60 s;
                        * -1 when there are none */
} fm_counts;

/* A stream of frames analysed with ctx (its detector, classifier, conf and threads). ctx is
 * borrowed: it must outlive the stream, and the stream and its ctx belong to one thread at a
 * time. fm_detect on ctx between frames is allowed and does not disturb the stream. Returns
 * NULL with the reason in errbuf (as fm_open) when memory is short or ctx is NULL. */
FM_API fm_stream *fm_stream_open(fm_ctx *ctx, char *errbuf, size_t errsize);

/* Frees the stream (not its ctx). NULL is a no-op. */
FM_API void fm_stream_close(fm_stream *s);

/* The message of the stream's last failed call, "" when none. */
FM_API const char *fm_stream_error(const fm_stream *s);

/* Analyses the next frame, taken at t_seconds of the stream's clock (a time before the previous
 * frame's is taken as the previous frame's). Pixels as for fm_detect; frames may change size.
 * Returns the number of confirmed persons in this frame and points *people (if not NULL) at
 * them, in id order; owned by the stream, valid until its next fm_stream_frame, finish or
 * close. The frame's events are then read with fm_stream_events. -1 on a bad argument or a
 * failed inference, with the reason in fm_stream_error; the frame is then not counted. */
FM_API int fm_stream_frame(fm_stream *s, const unsigned char *pixels, int width, int height,
                           int stride, fm_pixels format, double t_seconds,
                           const fm_person **people);

/* The events of the last fm_stream_frame or fm_stream_finish: leaves first, then appears and
 * label changes in id order. Returns their number and points *events (if not NULL) at them;
 * owned by the stream, valid until its next frame, finish or close. */
FM_API int fm_stream_events(fm_stream *s, const fm_stream_event **events);

/* End of the video: everyone still present leaves (FM_STREAM_LEAVE events at t_seconds, read
 * with fm_stream_events). Returns the number of events (-1 when s is NULL). The stream stays
 * usable and keeps its totals. */
FM_API int fm_stream_finish(fm_stream *s, double t_seconds);

/* The totals after the last frame or finish. */
FM_API void fm_stream_counts(const fm_stream *s, fm_counts *out);

#ifdef __cplusplus
}
#endif

#endif
