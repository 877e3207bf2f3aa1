/* facemask serve: every camera of a site in one process (serve/serve.h). */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "core/log.h"
#include "serve/serve.h"

enum { O_CONFIG = 256, O_CLASSIFIER, O_TIMEOUT, O_SUMMARY_EVERY, O_DURATION };

static const fm_opt serve_opts[] = {
    {"config", O_CONFIG, "FILE",
     "the site file (required): cameras, mqtt, http, database "
     "(docs/site.example.yaml)"},
    {"threads", 'j', "N",
     "inference workers shared by all cameras (1..64, default 2); each takes the "
     "next camera, in turn, that has a new frame"},
    {"summary-every", O_SUMMARY_EVERY, "SEC",
     "seconds of stream time between summary events (default 10)"},
    {"timeout", O_TIMEOUT, "SEC",
     "live sources: seconds without an answer or without data before the "
     "stream counts as dropped (default 10)"},
    {"duration", O_DURATION, "SEC",
     "stop after SEC seconds, as on SIGTERM (a trial or a soak run; default: run until "
     "stopped)"},
    {"model-dir", 'm', "DIR", FM_MODEL_DIR_HELP},
    {"classifier", O_CLASSIFIER, "DIR", "the mask classifier (default <models>/mask)"},
    {"quiet", 'q', NULL, "only errors on stderr (no FFmpeg messages, no warnings)"},
    {NULL, 0, NULL, NULL}};

const fm_cmd_spec fm_serve_spec = {
    "serve",
    "serve --config FILE [OPTIONS]",
    "Runs every camera of a site in one process: each camera's events go into the "
    "SQLite history (database.path), with snapshots and recordings as the file asks; "
    "one pool of inference workers serves all cameras fairly. Runs until Ctrl-C or "
    "SIGTERM, or until every source has ended (files without loop: true).",
    serve_opts,
    "A camera whose source cannot be opened or drops is retried with backoff (0.5 s "
    "doubling to 8 s) while the others run; a file that cannot be read ends that camera "
    "with source_error, summary and end lines, and the exit status is 1.\n"
    "An error in the site file is one line naming the file, the line and the key; exit "
    "status 2.\n"
    "If the history, a recording or a snapshot cannot be written, that output stops "
    "with one message, the run goes on, and the exit status is 1.\n"
    "Ctrl-C or SIGTERM stop cleanly: every camera's tracks end and its events end with "
    "a final summary and an end line. Report the history with `facemask report`."};

int fm_cmd_serve(int argc, char **argv)
{
    const fm_cmd_spec *spec = &fm_serve_spec;
    fm_serve_opts o = fm_serve_default_opts();
    float f;
    fm_args args;
    fm_args_init(&args, spec, argc, argv);
    const char *v;
    for (int k; (k = fm_args_next(&args, &v)) != FM_ARGS_END;) {
        switch (k) {
        case FM_ARGS_HELP: return 0;
        case FM_ARGS_ERROR: return 2;
        case O_CONFIG: o.config = v; break;
        case 'm': o.model_dir = v; break;
        case O_CLASSIFIER: o.classifier_dir = v; break;
        case 'q': o.quiet = 1; break;
        case 'j':
            if (!fm_parse_int("--threads", v, 1, 64, &o.threads))
                return fm_try_help(spec);
            break;
        case O_SUMMARY_EVERY:
            if (!fm_parse_float("--summary-every", v, 0.1, 86400.0, &f))
                return fm_try_help(spec);
            o.summary_every = f;
            break;
        case O_DURATION:
            if (!fm_parse_float("--duration", v, 0.1f, 1e9f, &f))
                return fm_try_help(spec);
            o.duration = f;
            break;
        case O_TIMEOUT:
            if (!fm_parse_float("--timeout", v, 0.1f, 3600.0f, &f))
                return fm_try_help(spec);
            o.timeout = f;
            break;
        }
    }
    if (args.operand < argc)
        return fm_usage_error(spec, "unexpected argument '%s' (the site is given with --config)",
                              argv[args.operand]);
    if (!o.config)
        return fm_usage_error(spec, "--config FILE is required (see docs/site.example.yaml)");
    if (o.quiet)
        fm_log_set_level(FM_LOG_ERROR);
    fm_serve_stats s;
    fm_err err = {0};
    if (fm_serve_start(&o, &s, &err) != FM_OK) {
        fprintf(stderr, "facemask serve: %s\n", err.msg);
        return s.config_error ? 2 : 1;
    }
    if (!o.quiet)
        fprintf(stderr,
                "facemask: %d camera%s: %lld frames processed, %lld skipped, %lld events "
                "stored; ended: %s%s\n",
                s.ncameras, s.ncameras == 1 ? "" : "s", s.frames, s.skipped, s.events,
                s.end_reason, s.output_errors ? "; an output failed (see above)" : "");
    return s.output_errors || s.camera_errors ? 1 : 0;
}
