/* facemask bench: per-stage timings of the detector over repeated runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "app/app.h"
#include "app/watch.h"
#include "serve/serve.h"
#include "core/file.h"
#include "data/crop.h"
#include "face/classifier.h"
#include "face/detector.h"
#include "io/image.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of sorted values, nearest rank. */
static double pct(const double *sorted, int n, double p)
{
    int k = (int)(p / 100.0 * (n - 1) + 0.5);
    return sorted[k < 0 ? 0 : (k >= n ? n - 1 : k)];
}

static void report(const char *what, int threads, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("facemask %s threads=%d median_ms=%.3f p10_ms=%.3f p90_ms=%.3f runs=%d\n", what,
           threads, pct(v, n, 50), pct(v, n, 10), pct(v, n, 90), n);
}

enum { O_IMAGE = 256, O_RUNS, O_LAYERS, O_CLASSIFIER, O_NO_CLASSIFY, O_DETECTOR, O_DET_SIZE, O_SOURCE,
       O_SITE, O_SECONDS };

static const fm_opt bench_opts[] = {
    {"image", O_IMAGE, "PATH",
     "the photo to time (default $FM_SHARED/demo/pyimagesearch_example_01.png, "
     "else ../shared/demo/ beside the project)"},
    {"runs", O_RUNS, "N", "timed runs after 3 warm-up runs (default 30)"},
    {"threads", 'j', "LIST", "thread counts to time, comma-separated (default 1,2)"},
    {"layers", O_LAYERS, NULL, "also print the median time of every layer of the network"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP},
    {"classifier", O_CLASSIFIER, "DIR", "the mask classifier (default <models>/mask)"},
    {"no-classify", O_NO_CLASSIFY, NULL, "time the face detector only"},
    {"detector", O_DETECTOR, "D", "tuned (default, the fine-tuned YuNet-n), yunet (stock YuNet-n), res10, or a YuNet-layout .onnx file"},
    {"det-size", O_DET_SIZE, "S", "YuNet: long side (default 640); res10: S x S or WxH"},
    {"source", O_SOURCE, "FILE",
     "instead run the whole watch pipeline on a video file (every frame, no "
     "display) and print its throughput and per-stage latencies"},
    {"site", O_SITE, "FILE",
     "instead run `serve` on this site file for --seconds and print each camera's "
     "processed frames per second, skipped frames and latency (frame read to events "
     "written: median and 90th percentile); -j N gives the inference workers"},
    {"seconds", O_SECONDS, "SEC", "--site: how long to run (default 60)"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_bench_spec = {
    "bench",
    "bench [--image PATH] [OPTIONS]\nbench --source FILE [OPTIONS]\n"
    "bench --site FILE [--seconds SEC] [-j N]",
    "Times each stage of face detection (decode, preprocess, forward, postprocess) over "
    "N runs for each thread count and prints the median and the 10th/90th percentiles in "
    "milliseconds, one line per stage, named after the detector (\"yunet forward\", "
    "\"res10 forward\", ...); then the mask classifier on the biggest face found: crop + "
    "preprocess, one forward, and the whole per-face call (two forwards for a model whose "
    "classifier.cfg has flip_average 1).",
    bench_opts,
    NULL};

/* The classifier on one face: crop + preprocess, one forward, and fm_classifier_face whole. */
static int bench_classifier(const unsigned char *bytes, size_t size, const char *image,
                            const char *mdir, const char *cls_dir, int threads, int runs,
                            const fm_face *face)
{
    char cdir[4200];
    fm_classifier_dir(cls_dir, mdir, cdir, sizeof cdir);
    fm_err err = {0};
    fm_net_opts opts = fm_net_default_opts();
    opts.threads = threads;
    fm_classifier *c = fm_classifier_load(cdir, &opts, &err);
    if (!c) {
        fprintf(stderr, "facemask: %s (use --no-classify to time detection only)\n", err.msg);
        return 1;
    }
    fm_image *img = fm_image_decode(bytes, size, image, 0, &err);
    const fm_classifier_cfg *cfg = fm_classifier_config(c);
    fm_image *crop = fm_image_new(cfg->input_size, cfg->input_size, &err);
    double *t = calloc((size_t)runs * 3, sizeof *t);
    int status = 0;
    if (!img || !crop || !t) {
        fprintf(stderr, "facemask: %s\n", err.msg);
        status = 1;
        goto done;
    }
    fm_box box = {(float)img->w / 4, (float)img->h / 4, (float)img->w * 3 / 4,
                  (float)img->h * 3 / 4};
    if (face)
        box = (fm_box){face->x1, face->y1, face->x2, face->y2};
    fm_net *net = fm_classifier_net(c);
    for (int r = -3; r < runs; r++) {
        double t0 = fm_now_ms();
        if (fm_crop_face(img, box, cfg->margin, cfg->square, cfg->input_size, crop, &err) !=
            FM_OK) {
            fprintf(stderr, "facemask: %s\n", err.msg);
            status = 1;
            break;
        }
        fm_crop_to_input(crop, fm_net_input(net, 0)->data);
        double t1 = fm_now_ms();
        fm_net_forward(net, NULL);
        double t2 = fm_now_ms();
        /* per face: what detect and watch run, with the model's mirrored pass if it has one */
        float p;
        fm_face f = {.x1 = box.x1, .y1 = box.y1, .x2 = box.x2, .y2 = box.y2};
        fm_classifier_face(c, img, &f, &p, NULL);
        double t3 = fm_now_ms();
        if (r < 0)
            continue;
        t[r] = t1 - t0;
        t[runs + r] = t2 - t1;
        t[2 * runs + r] = t3 - t2;
    }
    if (status == 0) {
        char what[64];
        snprintf(what, sizeof what, "mask%d preprocess", cfg->input_size);
        report(what, threads, t, runs);
        snprintf(what, sizeof what, "mask%d forward", cfg->input_size);
        report(what, threads, t + runs, runs);
        snprintf(what, sizeof what, "mask%d per_face", cfg->input_size);
        report(what, threads, t + 2 * runs, runs);
    }
done:
    free(t);
    fm_image_free(crop);
    fm_image_free(img);
    fm_classifier_free(c);
    return status;
}

/* The watch pipeline over a file, once per thread count. */
static int bench_pipeline(const char *source, const char *model_dir, const char *cls_dir,
                          int classify, const char *threads_arg, const char *detector,
                          int det_w, int det_h)
{
    char list[256];
    snprintf(list, sizeof list, "%s", threads_arg);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        fm_watch_opts o = fm_watch_default_opts();
        if (!fm_parse_int("--threads", tok, 1, 64, &o.threads))
            return 2;
        o.source = source;
        o.model_dir = model_dir;
        o.detector = detector;
        o.det_w = det_w;
        o.det_h = det_h;
        o.classifier_dir = cls_dir;
        o.classify = classify;
        o.status = 0;
        fm_watch_stats s;
        fm_err err = {0};
        if (fm_watch_start(&o, &s, &err) != FM_OK) {
            fprintf(stderr, "facemask: %s\n", err.msg);
            return 1;
        }
        printf("facemask pipeline threads=%d source=%s frames=%lld skipped=%lld wall_s=%.3f "
               "fps=%.2f classified=%lld people=%lld\n",
               o.threads, source, s.frames, s.skipped, s.wall_s, s.fps, s.classified, s.people);
        printf("facemask pipeline threads=%d stage=decode median_ms=%.3f p90_ms=%.3f\n", o.threads,
               s.read_med, s.read_p90);
        printf("facemask pipeline threads=%d stage=detect median_ms=%.3f p90_ms=%.3f\n", o.threads,
               s.detect_med, s.detect_p90);
        printf("facemask pipeline threads=%d stage=classify median_ms=%.3f p90_ms=%.3f\n",
               o.threads, s.classify_med, s.classify_p90);
        printf("facemask pipeline threads=%d stage=track median_ms=%.3f p90_ms=%.3f\n", o.threads,
               s.track_med, s.track_p90);
        printf("facemask pipeline threads=%d stage=output median_ms=%.3f p90_ms=%.3f\n", o.threads,
               s.output_med, s.output_p90);
        printf("facemask pipeline threads=%d stage=latency median_ms=%.3f p90_ms=%.3f\n",
               o.threads, s.latency_med, s.latency_p90);
    }
    return 0;
}

/* `serve` on a site file for a fixed time: each camera's throughput and latency. The
 * figures are the run's whole length (connecting and the first frames included). */
static int bench_site(const char *site, const char *model_dir, const char *cls_dir,
                      const char *threads_arg, double seconds)
{
    fm_serve_opts o = fm_serve_default_opts();
    o.config = site;
    o.model_dir = model_dir;
    o.classifier_dir = cls_dir;
    o.duration = seconds;
    o.quiet = 1;
    if (threads_arg && !fm_parse_int("--threads", threads_arg, 1, 64, &o.threads))
        return 2;
    fm_serve_stats s;
    fm_err err = {0};
    if (fm_serve_start(&o, &s, &err) != FM_OK) {
        fprintf(stderr, "facemask bench: %s\n", err.msg);
        return s.config_error ? 2 : 1;
    }
    double wall = s.wall_s > 0 ? s.wall_s : 1e-9, min_fps = -1, worst_p90 = 0;
    for (int i = 0; i < s.ncameras; i++) {
        const fm_site_cam_stats *c = &s.cameras[i];
        double fps = (double)c->frames / wall;
        printf("facemask site camera=%s frames=%lld skipped=%lld fps=%.2f latency_median_ms=%.1f "
               "latency_p90_ms=%.1f reconnects=%lld status=%s\n",
               c->name, c->frames, c->skipped, fps, c->latency_p50_ms, c->latency_p90_ms,
               c->reconnects, fm_cam_status_str(c->status));
        if (min_fps < 0 || fps < min_fps)
            min_fps = fps;
        if (c->latency_p90_ms > worst_p90)
            worst_p90 = c->latency_p90_ms;
    }
    printf("facemask site cameras=%d threads=%d wall_s=%.1f frames=%lld skipped=%lld "
           "min_camera_fps=%.2f max_camera_latency_p90_ms=%.1f ended=%s\n",
           s.ncameras, o.threads, s.wall_s, s.frames, s.skipped, min_fps, worst_p90,
           s.end_reason);
    return s.camera_errors ? 1 : 0;
}

static const char *default_image(char *buf, size_t size)
{
    const char *shared = getenv("FM_SHARED");
    if (shared && *shared) {
        snprintf(buf, size, "%s/demo/pyimagesearch_example_01.png", shared);
        return buf;
    }
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, size, "%s/../../shared/demo/pyimagesearch_example_01.png", exe);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    snprintf(buf, size, "../shared/demo/pyimagesearch_example_01.png");
    return buf;
}

int fm_cmd_bench(int argc, char **argv)
{
    const char *image = NULL, *model_dir = NULL, *threads_arg = "1,2", *cls_dir = NULL;
    const char *source = NULL, *detector = NULL, *site = NULL;
    double seconds = 60;
    int threads_given = 0;
    int runs = 30, layers = 0, classify = 1, det_w = 0, det_h = 0;
    const fm_cmd_spec *cspec = &fm_bench_spec;
    fm_args args;
    fm_args_init(&args, cspec, argc, argv);
    const char *val;
    for (int k; (k = fm_args_next(&args, &val)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_IMAGE: image = val; break;
        case 'm': model_dir = val; break;
        case 'j': threads_arg = val; threads_given = 1; break;
        case O_SITE: site = val; break;
        case O_SECONDS: {
            float f;
            if (!fm_parse_float("--seconds", val, 1.0f, 1e7f, &f))
                return fm_try_help(cspec);
            seconds = f;
            break;
        }
        case O_LAYERS: layers = 1; break;
        case O_CLASSIFIER: cls_dir = val; break;
        case O_NO_CLASSIFY: classify = 0; break;
        case O_DETECTOR: detector = val; break;
        case O_SOURCE: source = strcmp(val, "-") == 0 ? "pipe:0" : val; break;
        case O_RUNS:
            if (!fm_parse_int("--runs", val, 1, 100000, &runs))
                return fm_try_help(cspec);
            break;
        case O_DET_SIZE:
            if (!fm_parse_det_size("--det-size", val, &det_w, &det_h))
                return fm_try_help(cspec);
            break;
        }
    }
    if (args.operand < argc)
        return fm_usage_error(cspec, "unexpected argument '%s'", argv[args.operand]);
    {
        char list[256];
        int ntok = 0, t;
        snprintf(list, sizeof list, "%s", threads_arg);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","), ntok++)
            if (!fm_parse_int("--threads", tok, 1, 64, &t))
                return fm_try_help(cspec);
        if (ntok == 0)
            return fm_usage_error(cspec, "--threads expects a list of thread counts such as 1,2");
    }
    if (site && source)
        return fm_usage_error(cspec, "--site and --source are two different benchmarks: give one");
    if (site)
        return bench_site(site, model_dir, cls_dir, threads_given ? threads_arg : NULL, seconds);
    if (source)
        return bench_pipeline(source, model_dir, cls_dir, classify, threads_arg, detector, det_w,
                              det_h);
    char imgbuf[4096], mdir[4096];
    if (!image)
        image = default_image(imgbuf, sizeof imgbuf);
    fm_models_dir(model_dir, mdir, sizeof mdir);

    unsigned char *bytes = NULL;
    size_t size = 0;
    fm_err rerr = {0};
    if (fm_read_file(image, (size_t)1 << 30, "an image", &bytes, &size, &rerr) != FM_OK) {
        fprintf(stderr, "facemask: %s\n", rerr.msg);
        return 1;
    }

    int status = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", threads_arg);
    int header = 0; /* printed once a detector loaded, so a bad --detector is one line */
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int threads;
        if (!fm_parse_int("--threads", tok, 1, 64, &threads)) {
            status = 2;
            break;
        }
        fm_err err = {0};
        fm_net_opts opts = fm_net_default_opts();
        opts.threads = threads;
        fm_detector_spec spec = {detector, mdir, det_w, det_h};
        fm_detector *det = fm_detector_create(&spec, &opts, &err);
        if (!det) {
            fprintf(stderr, "facemask: %s\n", err.msg);
            status = 1;
            break;
        }
        /* one run first: YuNet plans its net for the image's padded size */
        fm_image *first = fm_image_decode(bytes, size, image, 0, &err);
        int settled = first ? fm_detector_run(det, first, 0.5f, NULL, 0, NULL) : -1;
        fm_image_free(first);
        if (settled < 0) {
            fprintf(stderr, "facemask: %s\n", first ? fm_detector_error(det) : err.msg);
            fm_detector_free(det);
            status = 1;
            break;
        }
        if (!header++)
            printf("facemask bench image=%s runs=%d\n", image, runs);
        const char *dname = fm_detector_name(det);
        fm_net *net = fm_detector_net(det);
        fm_net_set_profiling(net, layers);
        int nl = fm_net_num_layers(net);
        double *t = calloc((size_t)runs * (5 + (size_t)nl), sizeof *t);
        if (!t) {
            fm_detector_free(det);
            status = 1;
            break;
        }
        double *dec = t, *pre = t + runs, *fwd = t + 2 * runs, *post = t + 3 * runs,
               *total = t + 4 * runs, *lay = t + 5 * runs;
        fm_face faces[256];
        int nfaces = 0;
        for (int r = -3; r < runs; r++) {
            double t0 = fm_now_ms();
            fm_image *img = fm_image_decode(bytes, size, image, 0, &err);
            double t1 = fm_now_ms();
            if (!img) {
                fprintf(stderr, "facemask: %s\n", err.msg);
                status = 1;
                break;
            }
            fm_det_timing tm;
            nfaces = fm_detector_run(det, img, 0.5f, faces, 256, &tm);
            fm_image_free(img);
            if (nfaces < 0) {
                fprintf(stderr, "facemask: %s\n", fm_detector_error(det));
                status = 1;
                break;
            }
            if (r < 0)
                continue;
            dec[r] = t1 - t0;
            pre[r] = tm.preprocess_ms;
            fwd[r] = tm.forward_ms;
            post[r] = tm.postprocess_ms;
            total[r] = dec[r] + pre[r] + fwd[r] + post[r];
            for (int k = 0; k < nl; k++)
                lay[(size_t)k * runs + r] = fm_net_layer_ms(net, k);
        }
        if (status == 0) {
            char what[64];
            snprintf(what, sizeof what, "%s decode", dname);
            report(what, threads, dec, runs);
            snprintf(what, sizeof what, "%s preprocess", dname);
            report(what, threads, pre, runs);
            snprintf(what, sizeof what, "%s forward", dname);
            report(what, threads, fwd, runs);
            snprintf(what, sizeof what, "%s postprocess", dname);
            report(what, threads, post, runs);
            snprintf(what, sizeof what, "%s total", dname);
            report(what, threads, total, runs);
            printf("facemask %s threads=%d faces=%d\n", dname, threads, nfaces);
            if (layers) {
                for (int k = 0; k < nl; k++) {
                    double *v = lay + (size_t)k * runs;
                    qsort(v, (size_t)runs, sizeof *v, cmp_double);
                    printf("  layer %-32s %-40s median_ms=%.3f\n", fm_net_layer_name(net, k),
                           fm_net_layer_type(net, k), pct(v, runs, 50));
                }
            }
        }
        if (status == 0 && classify)
            status = bench_classifier(bytes, size, image, mdir, cls_dir, threads, runs,
                                      nfaces > 0 ? &faces[0] : NULL);
        free(t);
        fm_detector_free(det);
        if (status)
            break;
    }
    free(bytes);
    return status;
}
