/* report.h - training and evaluation reports: a streaming JSON writer and SVG charts.
 *
 * JSON: a writer on a FILE*, with no allocation. Keys, commas, indentation and string
 * escaping are handled; nesting is checked on every call (a value where a key is due, a
 * closing bracket of the wrong kind, more than FM_JSONW_MAX_DEPTH levels): the first
 * misuse or write error sticks and is returned by fm_jsonw_finish, later calls do
 * nothing.
 *
 *     fm_jsonw j;
 *     fm_jsonw_init(&j, stdout, 2);           // indent 2 spaces (0 = one line)
 *     fm_jsonw_object_begin(&j);
 *     fm_jsonw_key(&j, "accuracy"); fm_jsonw_double(&j, 0.9731);
 *     fm_jsonw_key(&j, "classes");
 *     fm_jsonw_array_begin(&j);
 *     fm_jsonw_string(&j, "mask"); fm_jsonw_string(&j, "no_mask");
 *     fm_jsonw_array_end(&j);
 *     fm_jsonw_object_end(&j);
 *     if (fm_jsonw_finish(&j, &err)) fprintf(stderr, "facemask: %s\n", err.msg);
 *
 * Numbers: integers exactly; doubles with `digits` significant digits (%.*g, default 10),
 * NaN and infinities as null. Strings go through the one escaper, fm_json_quoted
 * (core/json.h): valid UTF-8 passes through, '"', '\\' and control characters are escaped,
 * and each ill-formed UTF-8 sequence becomes U+FFFD, so the output is always valid UTF-8.
 *
 * SVG: fm_svg_write draws any of three parts, stacked top to bottom, 960 px wide:
 *  (a) training curves: two panels, loss and accuracy per epoch, train and validation,
 *      axes with ticks, a legend, optional dashed markers where phase 2 starts and at
 *      the best epoch (each curve is one <polyline>); without either accuracy series
 *      (the detector's trainer has none), the loss panel alone, full width;
 *  (b) a confusion matrix heat map: counts with row-normalised percentages (the recall
 *      of each true class), shaded by that percentage, class names on both axes (column
 *      names turn 45 degrees when wider than a cell); cells under 40 px (more than 9
 *      classes) show the count only, every cell also has a <title> tooltip with both;
 *  (c) a small table of strings (first row is the header).
 * Text uses <text> elements in font-family sans-serif; all caller strings are escaped.
 *
 *     fm_svg_curves cv = {.n_epochs = 10, .train_loss = tl, .val_loss = vl,
 *                         .train_acc = ta, .val_acc = va, .phase2_epoch = 6, .best_epoch = 9};
 *     const char *names[] = {"mask", "no_mask"};
 *     fm_svg_report r = {.title = "facemask training", .curves = &cv,
 *                        .confusion = &cm, .class_names = names};
 *     fm_svg_save("report.svg", &r, &err);
 */
#ifndef FM_REPORT_H
#define FM_REPORT_H

#include <stdio.h>

#include "core/err.h"
#include "core/json.h"
#include "eval/metrics.h"

/* ---- JSON -------------------------------------------------------------------------- */

#define FM_JSONW_MAX_DEPTH 32

/* A plain struct; fields are private to report.c. */
typedef struct {
    FILE *f;
    int indent;  /* spaces per level; 0 = compact, one line */
    int digits;  /* significant digits of doubles, 1..17 */
    int depth;
    unsigned char kind[FM_JSONW_MAX_DEPTH]; /* 'o' object, 'a' array per open level */
    unsigned char count[FM_JSONW_MAX_DEPTH]; /* 0 = empty so far, 1 = has members */
    int key_pending; /* inside an object: a key was written, its value is due */
    int done;        /* the top-level value is complete */
    fm_err err;      /* first failure (status FM_OK while none) */
} fm_jsonw;

/* Starts a document on f (not owned). indent: 0..16 spaces per level. */

void fm_jsonw_init(fm_jsonw *j, FILE *f, int indent);
/* Significant digits for fm_jsonw_double (clamped to 1..17; 17 round-trips a double). */
void fm_jsonw_set_digits(fm_jsonw *j, int digits);

void fm_jsonw_object_begin(fm_jsonw *j);
void fm_jsonw_object_end(fm_jsonw *j);
void fm_jsonw_array_begin(fm_jsonw *j);
void fm_jsonw_array_end(fm_jsonw *j);
/* A member name; only directly inside an object, and each key needs one value. */
void fm_jsonw_key(fm_jsonw *j, const char *key);
void fm_jsonw_string(fm_jsonw *j, const char *s); /* NULL writes null */
void fm_jsonw_int(fm_jsonw *j, long long v);
void fm_jsonw_double(fm_jsonw *j, double v);
/* A float setting (a learning rate, a threshold) with FLT_DIG (6) significant digits at most,
 * so 2e-4f prints as 0.0002, not as the double it widens to (0.0001999999949); every decimal
 * of up to 6 digits that was parsed into a float prints back as written. */
void fm_jsonw_float(fm_jsonw *j, float v);
void fm_jsonw_bool(fm_jsonw *j, int v);
void fm_jsonw_null(fm_jsonw *j);
/* An array of n doubles (each as fm_jsonw_double). */
void fm_jsonw_doubles(fm_jsonw *j, const double *v, size_t n);

/* Ends the document: writes a final newline when indenting and flushes. FM_ERR_ARG
 * ("json writer: ...") on misuse or an unfinished document, FM_ERR_IO on a write error.
 * The message names the offending call and the nesting depth. */
fm_status fm_jsonw_finish(fm_jsonw *j, fm_err *err);

/* A confusion matrix as a JSON object (value position, e.g. after a key):
 * {"classes": [names...], "matrix": [[row of true class 0], ...] (rows true, columns
 * predicted), "total", "accuracy", "macro_f1", "per_class": {name: {"precision",
 * "recall", "f1", "support", "tp", "fp", "fn"}}}. names: n_classes strings. */
void fm_jsonw_confusion(fm_jsonw *j, const fm_confusion *cm, const char *const *names);

/* ---- SVG ----------------------------------------------------------------------------- */

/* Per-epoch series, epoch e (1-based) at index e - 1. A NULL series is not drawn; a NaN
 * entry is skipped (the line joins its neighbours). Accuracies are fractions 0..1. */
typedef struct {
    int n_epochs;
    const double *train_loss, *val_loss;
    const double *train_acc, *val_acc;
    int phase2_epoch; /* first epoch of phase 2 (marker before it); 0 = no marker */
    int best_epoch;   /* marker at this epoch; 0 = none */
} fm_svg_curves;

/* A rows x cols grid of strings, row-major; row 0 is the header. */
typedef struct {
    int rows, cols;
    const char *const *cells;
    const char *title; /* NULL = none */
} fm_svg_table;

/* Any part may be absent (NULL); class_names is required with confusion. */
typedef struct {
    const char *title;               /* heading on top; NULL = none */
    const fm_svg_curves *curves;
    const fm_confusion *confusion;
    const char *const *class_names;  /* confusion->n_classes names */
    const char *confusion_title;     /* NULL = "Confusion matrix" */
    const fm_svg_table *table;
} fm_svg_report;

/* Writes a complete SVG document to f. FM_ERR_ARG for inconsistent input (negative
 * counts, a table too large: at most 64 rows x 12 columns), FM_ERR_IO on a write error. */
fm_status fm_svg_write(FILE *f, const fm_svg_report *r, fm_err *err);
/* fm_svg_write into a new file at path. */
fm_status fm_svg_save(const char *path, const fm_svg_report *r, fm_err *err);

#endif
