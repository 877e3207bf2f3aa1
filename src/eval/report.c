#include "eval/report.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- JSON -------------------------------------------------------------------------- */

void fm_jsonw_init(fm_jsonw *j, FILE *f, int indent)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->indent = indent < 0 ? 0 : indent > 16 ? 16 : indent;
    j->digits = 10;
}

void fm_jsonw_set_digits(fm_jsonw *j, int digits)
{
    j->digits = digits < 1 ? 1 : digits > 17 ? 17 : digits;
}

static int jw_fail(fm_jsonw *j, const char *call, const char *what)
{
    if (j->err.status == FM_OK)
        fm_err_set(&j->err, FM_ERR_ARG, "json writer: %s at depth %d: %s", call, j->depth, what);
    return 0;
}

static void jw_newline(fm_jsonw *j)
{
    if (!j->indent)
        return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth * j->indent; i++)
        fputc(' ', j->f);
}

/* Checks that a value may come now and writes the separator before it. */
static int jw_value_begin(fm_jsonw *j, const char *call)
{
    if (j->err.status)
        return 0;
    if (j->done)
        return jw_fail(j, call, "the document is already complete");
    if (j->depth == 0)
        return 1;
    int top = j->depth - 1;
    if (j->kind[top] == 'o') {
        if (!j->key_pending)
            return jw_fail(j, call, "a value inside an object needs a key first");
        return 1; /* the key wrote the separator */
    }
    if (j->count[top])
        fputc(',', j->f);
    jw_newline(j);
    j->count[top] = 1;
    return 1;
}

static void jw_value_end(fm_jsonw *j)
{
    j->key_pending = 0;
    if (j->depth == 0)
        j->done = 1;
}

static void jw_open(fm_jsonw *j, unsigned char kind, const char *call)
{
    if (!jw_value_begin(j, call))
        return;
    if (j->depth >= FM_JSONW_MAX_DEPTH) {
        jw_fail(j, call, "nesting deeper than FM_JSONW_MAX_DEPTH");
        return;
    }
    fputc(kind == 'o' ? '{' : '[', j->f);
    j->key_pending = 0;
    j->kind[j->depth] = kind;
    j->count[j->depth] = 0;
    j->depth++;
}

static void jw_close(fm_jsonw *j, unsigned char kind, const char *call)
{
    if (j->err.status)
        return;
    if (j->depth == 0 || j->kind[j->depth - 1] != kind) {
        jw_fail(j, call,
                j->depth == 0 ? "nothing is open"
                : kind == 'o' ? "the innermost open value is an array"
                              : "the innermost open value is an object");
        return;
    }
    if (j->key_pending) {
        jw_fail(j, call, "the last key has no value");
        return;
    }
    j->depth--;
    if (j->count[j->depth])
        jw_newline(j);
    fputc(kind == 'o' ? '}' : ']', j->f);
    jw_value_end(j);
}

void fm_jsonw_object_begin(fm_jsonw *j) { jw_open(j, 'o', "object_begin"); }
void fm_jsonw_object_end(fm_jsonw *j) { jw_close(j, 'o', "object_end"); }
void fm_jsonw_array_begin(fm_jsonw *j) { jw_open(j, 'a', "array_begin"); }
void fm_jsonw_array_end(fm_jsonw *j) { jw_close(j, 'a', "array_end"); }

void fm_jsonw_key(fm_jsonw *j, const char *key)
{
    if (j->err.status)
        return;
    if (j->depth == 0 || j->kind[j->depth - 1] != 'o') {
        jw_fail(j, "key", "keys belong directly inside an object");
        return;
    }
    if (j->key_pending) {
        jw_fail(j, "key", "the previous key has no value");
        return;
    }
    if (!key) {
        jw_fail(j, "key", "the key is NULL");
        return;
    }
    int top = j->depth - 1;
    if (j->count[top])
        fputc(',', j->f);
    jw_newline(j);
    j->count[top] = 1;
    fm_json_quoted(j->f, key);
    fputs(j->indent ? ": " : ":", j->f);
    j->key_pending = 1;
}

void fm_jsonw_string(fm_jsonw *j, const char *s)
{
    if (!jw_value_begin(j, "string"))
        return;
    if (s)
        fm_json_quoted(j->f, s);
    else
        fputs("null", j->f);
    jw_value_end(j);
}

void fm_jsonw_int(fm_jsonw *j, long long v)
{
    if (!jw_value_begin(j, "int"))
        return;
    fprintf(j->f, "%lld", v);
    jw_value_end(j);
}

void fm_jsonw_double(fm_jsonw *j, double v)
{
    if (!jw_value_begin(j, "double"))
        return;
    if (isfinite(v))
        fprintf(j->f, "%.*g", j->digits, v == 0 ? 0.0 : v); /* no "-0" */
    else
        fputs("null", j->f);
    jw_value_end(j);
}

void fm_jsonw_float(fm_jsonw *j, float v)
{
    if (!jw_value_begin(j, "float"))
        return;
    if (isfinite(v))
        fprintf(j->f, "%.*g", j->digits < FLT_DIG ? j->digits : FLT_DIG,
                v == 0 ? 0.0 : (double)v);
    else
        fputs("null", j->f);
    jw_value_end(j);
}

void fm_jsonw_bool(fm_jsonw *j, int v)
{
    if (!jw_value_begin(j, "bool"))
        return;
    fputs(v ? "true" : "false", j->f);
    jw_value_end(j);
}

void fm_jsonw_null(fm_jsonw *j)
{
    if (!jw_value_begin(j, "null"))
        return;
    fputs("null", j->f);
    jw_value_end(j);
}

void fm_jsonw_doubles(fm_jsonw *j, const double *v, size_t n)
{
    fm_jsonw_array_begin(j);
    for (size_t i = 0; i < n; i++)
        fm_jsonw_double(j, v[i]);
    fm_jsonw_array_end(j);
}

fm_status fm_jsonw_finish(fm_jsonw *j, fm_err *err)
{
    if (j->err.status == FM_OK && !j->done)
        jw_fail(j, "finish", j->depth ? "values are still open" : "nothing was written");
    if (j->err.status == FM_OK) {
        if (j->indent)
            fputc('\n', j->f);
        if (fflush(j->f) != 0 || ferror(j->f))
            fm_err_set(&j->err, FM_ERR_IO, "json writer: write failed");
    }
    if (j->err.status) {
        if (err)
            *err = j->err;
        return j->err.status;
    }
    return FM_OK;
}

void fm_jsonw_confusion(fm_jsonw *j, const fm_confusion *cm, const char *const *names)
{
    int n = cm->n_classes;
    fm_jsonw_object_begin(j);
    fm_jsonw_key(j, "classes");
    fm_jsonw_array_begin(j);
    for (int c = 0; c < n; c++)
        fm_jsonw_string(j, names[c]);
    fm_jsonw_array_end(j);
    fm_jsonw_key(j, "matrix");
    fm_jsonw_array_begin(j);
    for (int r = 0; r < n; r++) {
        fm_jsonw_array_begin(j);
        for (int c = 0; c < n; c++)
            fm_jsonw_int(j, cm->counts[r][c]);
        fm_jsonw_array_end(j);
    }
    fm_jsonw_array_end(j);
    fm_jsonw_key(j, "total");
    fm_jsonw_int(j, fm_confusion_total(cm));
    fm_jsonw_key(j, "accuracy");
    fm_jsonw_double(j, fm_confusion_accuracy(cm));
    fm_jsonw_key(j, "macro_f1");
    fm_jsonw_double(j, fm_confusion_macro_f1(cm));
    fm_jsonw_key(j, "per_class");
    fm_jsonw_object_begin(j);
    for (int c = 0; c < n; c++) {
        fm_class_stats s = fm_confusion_class(cm, c);
        fm_jsonw_key(j, names[c]);
        fm_jsonw_object_begin(j);
        fm_jsonw_key(j, "precision");
        fm_jsonw_double(j, s.precision);
        fm_jsonw_key(j, "recall");
        fm_jsonw_double(j, s.recall);
        fm_jsonw_key(j, "f1");
        fm_jsonw_double(j, s.f1);
        fm_jsonw_key(j, "support");
        fm_jsonw_int(j, s.support);
        fm_jsonw_key(j, "tp");
        fm_jsonw_int(j, s.tp);
        fm_jsonw_key(j, "fp");
        fm_jsonw_int(j, s.fp);
        fm_jsonw_key(j, "fn");
        fm_jsonw_int(j, s.fn);
        fm_jsonw_object_end(j);
    }
    fm_jsonw_object_end(j);
    fm_jsonw_object_end(j);
}

/* ---- SVG ----------------------------------------------------------------------------- */

#define SVG_W 960
#define FONT "sans-serif"
#define C_TEXT "#1f2937"
#define C_MUTED "#6b7280"
#define C_AXIS "#9ca3af"
#define C_GRID "#e5e7eb"
#define C_TRAIN "#2563eb"
#define C_VAL "#ea580c"
#define C_PHASE "#7c3aed"
#define C_BEST "#059669"
#define TABLE_MAX_ROWS 64
#define TABLE_MAX_COLS 12

static void svg_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
            else
                fputc(' ', f); /* control characters are not allowed in XML 1.0 */
        }
    }
}

/* <text> with escaped content. anchor: "start", "middle" or "end"; extra: more attributes. */
static void svg_text(FILE *f, double x, double y, double size, const char *anchor,
                     const char *fill, const char *extra, const char *s)
{
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-family=\"" FONT "\" font-size=\"%g\" "
            "text-anchor=\"%s\" fill=\"%s\"%s%s>",
            x, y, size, anchor, fill, extra ? " " : "", extra ? extra : "");
    svg_esc(f, s);
    fputs("</text>\n", f);
}

/* Rough width of s in a sans-serif face of the given size (for layout only). */
static double text_width(const char *s, double size)
{
    return s ? 0.6 * size * (double)strlen(s) : 0.0;
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` intervals. */
static double nice_step(double range, int target)
{
    if (!(range > 0))
        return 1;
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double step = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    return step * mag;
}

static int step_decimals(double step)
{
    int d = (int)ceil(-log10(step) - 1e-9);
    return d < 0 ? 0 : d > 6 ? 6 : d;
}

typedef struct {
    double x0, y0, w, h;      /* plot area in px */
    double xmin, xmax, ymin, ymax;
} plot_area;

static double px(const plot_area *p, double x)
{
    return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * p->w;
}

static double py(const plot_area *p, double y)
{
    return p->y0 + p->h - (y - p->ymin) / (p->ymax - p->ymin) * p->h;
}

static void series_range(const double *v, int n, double *lo, double *hi)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (v[i] < *lo)
                *lo = v[i];
            if (v[i] > *hi)
                *hi = v[i];
        }
}

static void draw_series(FILE *f, const plot_area *p, const double *v, int n, const char *color,
                        const char *dash, const char *name)
{
    if (!v)
        return;
    fprintf(f, "<polyline class=\"curve\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
               "stroke-width=\"2\" stroke-linejoin=\"round\"%s%s%s points=\"",
            name, color, dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
    int first = 1;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            fprintf(f, "%s%.1f,%.1f", first ? "" : " ", px(p, i + 1), py(p, v[i]));
            first = 0;
        }
    fputs("\"/>\n", f);
    if (n <= 40)
        for (int i = 0; i < n; i++)
            if (isfinite(v[i]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                        px(p, i + 1), py(p, v[i]), color);
}

static void draw_vmarker(FILE *f, const plot_area *p, double x, const char *color,
                         const char *label, int label_left, double label_y)
{
    if (x < p->xmin || x > p->xmax)
        return;
    double X = px(p, x);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>\n",
            X, p->y0, X, p->y0 + p->h, color);
    svg_text(f, X + (label_left ? -4 : 4), p->y0 + label_y, 11, label_left ? "end" : "start",
             color, NULL, label);
}

/* One panel of the training curves at (x, y), w x h px. */
static void draw_curve_panel(FILE *f, double x, double y, double w, double h, const char *title,
                             const fm_svg_curves *c, const double *tr, const double *va,
                             int is_acc)
{
    plot_area p = {x + 62, y + 40, w - 62 - 14, h - 40 - 46, 0, 0, 0, 0};
    int n = c->n_epochs;
    p.xmin = 1;
    p.xmax = n > 1 ? n : 2;
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    series_range(tr, n, &lo, &hi);
    series_range(va, n, &lo, &hi);
    if (lo > hi) { /* no data */
        lo = 0;
        hi = 1;
    }
    if (is_acc) {
        if (hi > 1)
            hi = 1;
        if (lo > hi)
            lo = hi;
    } else if (lo > 0) {
        lo = 0; /* losses from zero */
    }
    if (hi - lo < 1e-9) {
        hi = lo + (fabs(lo) > 0 ? fabs(lo) * 0.1 : 1);
    }
    double ystep = nice_step(hi - lo, 5);
    p.ymin = floor(lo / ystep + 1e-9) * ystep;
    p.ymax = ceil(hi / ystep - 1e-9) * ystep;
    if (p.ymax <= p.ymin)
        p.ymax = p.ymin + ystep;

    /* frame, title and legend */
    fprintf(f, "<g class=\"panel\">\n");
    svg_text(f, x + 8, y + 20, 15, "start", C_TEXT, "font-weight=\"bold\"", title);
    double lx = x + w - 14 - 190;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_TRAIN
               "\" stroke-width=\"2.5\"/>\n",
            lx, y + 16, lx + 22, y + 16);
    svg_text(f, lx + 27, y + 20, 12, "start", C_TEXT, NULL, "train");
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_VAL
               "\" stroke-width=\"2.5\"/>\n",
            lx + 80, y + 16, lx + 102, y + 16);
    svg_text(f, lx + 107, y + 20, 12, "start", C_TEXT, NULL, "validation");

    /* grid and y ticks */
    int yd = step_decimals(is_acc ? ystep * 100 : ystep);
    for (int i = 0;; i++) {
        double v = p.ymin + i * ystep;
        if (v > p.ymax + ystep * 1e-6)
            break;
        double Y = py(&p, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID
                   "\" stroke-width=\"1\"/>\n",
                p.x0, Y, p.x0 + p.w, Y);
        char lab[32];
        if (is_acc)
            snprintf(lab, sizeof lab, "%.*f%%", yd, v * 100);
        else
            snprintf(lab, sizeof lab, "%.*f", yd, v);
        svg_text(f, p.x0 - 8, Y + 4, 11, "end", C_MUTED, NULL, lab);
    }
    /* x ticks: integer epochs */
    double xstep = nice_step(p.xmax - p.xmin, 8);
    if (xstep < 1)
        xstep = 1;
    for (int i = 0;; i++) {
        double e = i == 0 ? 1 : floor(1 / xstep) * xstep + i * xstep;
        if (e > p.xmax + 1e-9)
            break;
        if (e < 1 || (n <= 1 && e > 1))
            continue;
        double X = px(&p, e);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_AXIS
                   "\" stroke-width=\"1\"/>\n",
                X, p.y0 + p.h, X, p.y0 + p.h + 5);
        char lab[32];
        snprintf(lab, sizeof lab, "%.0f", e);
        svg_text(f, X, p.y0 + p.h + 18, 11, "middle", C_MUTED, NULL, lab);
    }
    /* axes */
    fprintf(f, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"" C_AXIS
               "\" stroke-width=\"1\"/>\n",
            p.x0, p.y0, p.y0 + p.h, p.x0 + p.w);
    svg_text(f, p.x0 + p.w / 2, p.y0 + p.h + 38, 12, "middle", C_TEXT, NULL, "epoch");
    char rot[96];
    snprintf(rot, sizeof rot, "transform=\"rotate(-90 %.1f %.1f)\"", x + 14, p.y0 + p.h / 2);
    svg_text(f, x + 14, p.y0 + p.h / 2, 12, "middle", C_TEXT, rot, is_acc ? "accuracy" : "loss");

    /* markers, then curves on top */
    if (c->phase2_epoch > 1 && c->phase2_epoch <= n)
        draw_vmarker(f, &p, c->phase2_epoch - 0.5, C_PHASE, "phase 2 \xe2\x86\x92", 0, 12);
    if (c->best_epoch >= 1 && c->best_epoch <= n) {
        char lab[32];
        snprintf(lab, sizeof lab, "best (%d)", c->best_epoch);
        int left = c->best_epoch > n / 2;
        draw_vmarker(f, &p, c->best_epoch, C_BEST, lab, left, 26);
    }
    draw_series(f, &p, tr, n, C_TRAIN, NULL, is_acc ? "train_acc" : "train_loss");
    draw_series(f, &p, va, n, C_VAL, NULL, is_acc ? "val_acc" : "val_loss");
    if (c->best_epoch >= 1 && c->best_epoch <= n && va && isfinite(va[c->best_epoch - 1]))
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"white\" stroke=\"" C_BEST
                   "\" stroke-width=\"2\"/>\n",
                px(&p, c->best_epoch), py(&p, va[c->best_epoch - 1]));
    if (n == 0)
        svg_text(f, p.x0 + p.w / 2, p.y0 + p.h / 2, 13, "middle", C_MUTED, NULL, "no data");
    fputs("</g>\n", f);
}

#define CURVES_H 320.0

static void draw_curves(FILE *f, double y, const fm_svg_curves *c)
{
    if (!c->train_acc && !c->val_acc) { /* nothing to show as accuracy: loss, full width */
        draw_curve_panel(f, 16, y, SVG_W - 16 * 2, CURVES_H, "Loss", c, c->train_loss,
                         c->val_loss, 0);
        return;
    }
    double w = (SVG_W - 16 * 3) / 2.0;
    draw_curve_panel(f, 16, y, w, CURVES_H, "Loss", c, c->train_loss, c->val_loss, 0);
    draw_curve_panel(f, 16 * 2 + w, y, w, CURVES_H, "Accuracy", c, c->train_acc, c->val_acc, 1);
}

typedef struct {
    double cell, label_w, w, h;
    int rotate;     /* column names too wide for a cell: drawn at -45 degrees */
    double names_h; /* height of the column-name band under the grid */
} cm_layout;

static cm_layout confusion_layout(const fm_confusion *cm, const char *const *names)
{
    cm_layout L;
    int n = cm->n_classes;
    L.cell = n <= 4 ? 96 : 384.0 / n;
    double name_w = 0;
    for (int c = 0; c < n; c++) {
        double tw = text_width(names[c], 12);
        if (tw > name_w)
            name_w = tw;
    }
    L.rotate = name_w > L.cell - 8;
    L.names_h = L.rotate ? 0.71 * name_w + 18 : 24;
    L.label_w = 34 + name_w + 10; /* "true" rotated, names, gap */
    L.w = L.label_w + n * L.cell + 8;
    L.h = 58 + n * L.cell + L.names_h + 26;
    return L;
}

static void draw_confusion(FILE *f, double x, double y, const fm_confusion *cm,
                           const char *const *names, const char *title)
{
    int n = cm->n_classes;
    cm_layout L = confusion_layout(cm, names);
    double gx = x + L.label_w, gy = y + 58;
    fputs("<g class=\"confusion\">\n", f);
    svg_text(f, x + 8, y + 20, 15, "start", C_TEXT, "font-weight=\"bold\"",
             title ? title : "Confusion matrix");
    svg_text(f, x + 8, y + 38, 11, "start", C_MUTED, NULL,
             "count and % of the true class (row)");
    for (int r = 0; r < n; r++) {
        long long row = 0;
        for (int c = 0; c < n; c++)
            row += cm->counts[r][c];
        for (int c = 0; c < n; c++) {
            long long v = cm->counts[r][c];
            double frac = row > 0 ? (double)v / (double)row : 0.0;
            /* white (247,251,255) to dark blue (8,48,107) */
            int R = (int)lround(247 + (8 - 247) * frac);
            int G = (int)lround(251 + (48 - 251) * frac);
            int B = (int)lround(255 + (107 - 255) * frac);
            double cx = gx + c * L.cell, cy = gy + r * L.cell;
            const char *ink = frac > 0.5 ? "white" : C_TEXT;
            char num[32], pct[32];
            snprintf(num, sizeof num, "%lld", v);
            if (row > 0)
                snprintf(pct, sizeof pct, "%.1f%%", frac * 100);
            else
                snprintf(pct, sizeof pct, "-");
            fprintf(f, "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                       "fill=\"#%02x%02x%02x\" stroke=\"white\" stroke-width=\"2\"><title>true ",
                    cx, cy, L.cell, L.cell, R, G, B);
            svg_esc(f, names[r]);
            fputs(", predicted ", f);
            svg_esc(f, names[c]);
            fprintf(f, ": %s (%s of the row)</title></rect>\n", num, pct);
            if (L.cell >= 56) {
                svg_text(f, cx + L.cell / 2, cy + L.cell / 2 - 2, L.cell >= 80 ? 18 : 14, "middle",
                         ink, "font-weight=\"bold\"", num);
                svg_text(f, cx + L.cell / 2, cy + L.cell / 2 + 16, 11, "middle", ink, NULL, pct);
            } else if (L.cell >= 40) {
                svg_text(f, cx + L.cell / 2, cy + L.cell / 2 - 1, 11, "middle", ink,
                         "font-weight=\"bold\"", num);
                svg_text(f, cx + L.cell / 2, cy + L.cell / 2 + 11, 8.5, "middle", ink, NULL, pct);
            } else { /* too small for both: the count, the percentage in the tooltip */
                svg_text(f, cx + L.cell / 2, cy + L.cell / 2 + 4, L.cell >= 30 ? 10 : 8,
                         "middle", ink, NULL, num);
            }
        }
        svg_text(f, gx - 8, gy + (r + 0.5) * L.cell + 4, 12, "end", C_TEXT, NULL, names[r]);
    }
    for (int c = 0; c < n; c++) {
        double cx = gx + (c + 0.5) * L.cell, cy = gy + n * L.cell + 18;
        if (!L.rotate) {
            svg_text(f, cx, cy, 12, "middle", C_TEXT, NULL, names[c]);
        } else {
            char rot[96];
            snprintf(rot, sizeof rot, "transform=\"rotate(-45 %.1f %.1f)\"", cx + 4, cy - 6);
            svg_text(f, cx + 4, cy - 6, L.cell >= 30 ? 12 : 10, "end", C_TEXT, rot, names[c]);
        }
    }
    svg_text(f, gx + n * L.cell / 2, gy + n * L.cell + L.names_h + 16, 12, "middle", C_MUTED,
             "font-weight=\"bold\"", "predicted");
    char rot[96];
    snprintf(rot, sizeof rot, "font-weight=\"bold\" transform=\"rotate(-90 %.1f %.1f)\"", x + 18,
             gy + n * L.cell / 2);
    svg_text(f, x + 18, gy + n * L.cell / 2, 12, "middle", C_MUTED, rot, "true");
    fputs("</g>\n", f);
}

static void table_widths(const fm_svg_table *t, double *colw, double *w, double *h)
{
    *w = 0;
    for (int c = 0; c < t->cols; c++) {
        colw[c] = 40;
        for (int r = 0; r < t->rows; r++) {
            double tw = text_width(t->cells[r * t->cols + c], 12) + 24;
            if (tw > colw[c])
                colw[c] = tw;
        }
        *w += colw[c];
    }
    *h = (t->title ? 58 : 8) + t->rows * 24.0 + 8;
}

static void draw_table(FILE *f, double x, double y, const fm_svg_table *t)
{
    double colw[TABLE_MAX_COLS], w, h;
    table_widths(t, colw, &w, &h);
    fputs("<g class=\"table\">\n", f);
    double ty = y + 8;
    if (t->title) {
        svg_text(f, x + 8, y + 20, 15, "start", C_TEXT, "font-weight=\"bold\"", t->title);
        ty = y + 58;
    }
    for (int r = 0; r < t->rows; r++) {
        double ry = ty + r * 24.0;
        if (r > 0 && r % 2 == 0)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"24\" "
                       "fill=\"#f3f4f6\"/>\n",
                    x, ry, w);
        double cx = x;
        for (int c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            /* first column left-aligned (labels), the rest right-aligned (numbers) */
            if (c == 0)
                svg_text(f, cx + 10, ry + 16, 12, "start", r ? C_TEXT : C_MUTED,
                         r ? NULL : "font-weight=\"bold\"", s ? s : "");
            else
                svg_text(f, cx + colw[c] - 10, ry + 16, 12, "end", r ? C_TEXT : C_MUTED,
                         r ? NULL : "font-weight=\"bold\"", s ? s : "");
            cx += colw[c];
        }
        if (r == 0)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_AXIS
                       "\" stroke-width=\"1\"/>\n",
                    x, ry + 24, x + w, ry + 24);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_AXIS
               "\" stroke-width=\"1\"/>\n",
            x, ty + t->rows * 24.0, x + w, ty + t->rows * 24.0);
    fputs("</g>\n", f);
}

fm_status fm_svg_write(FILE *f, const fm_svg_report *r, fm_err *err)
{
    const fm_svg_curves *cv = r->curves;
    const fm_svg_table *t = r->table;
    if (cv && cv->n_epochs < 0)
        return fm_err_set(err, FM_ERR_ARG, "svg: %d epochs, expected >= 0", cv->n_epochs);
    if (r->confusion) {
        if (!r->class_names)
            return fm_err_set(err, FM_ERR_ARG, "svg: a confusion matrix needs class names");
        int n = r->confusion->n_classes;
        if (n < 1 || n > FM_CONFUSION_MAX_CLASSES)
            return fm_err_set(err, FM_ERR_ARG, "svg: confusion matrix with %d classes", n);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                if (r->confusion->counts[i][k] < 0)
                    return fm_err_set(err, FM_ERR_ARG,
                                      "svg: confusion count [%d][%d] is negative (%lld)", i, k,
                                      r->confusion->counts[i][k]);
    }
    if (t && (t->rows < 1 || t->rows > TABLE_MAX_ROWS || t->cols < 1 ||
              t->cols > TABLE_MAX_COLS || !t->cells))
        return fm_err_set(err, FM_ERR_ARG,
                          "svg: table of %d x %d cells, expected 1..%d rows x 1..%d columns",
                          t->rows, t->cols, TABLE_MAX_ROWS, TABLE_MAX_COLS);

    /* layout */
    double y = 16;
    double title_y = 0, curves_y = 0, bottom_y = 0;
    if (r->title) {
        title_y = y + 22;
        y += 44;
    }
    if (cv) {
        curves_y = y;
        y += CURVES_H + 20;
    }
    bottom_y = y;
    double cm_w = 0, cm_h = 0, tab_x = 16, tab_y = y, tab_w = 0, tab_h = 0;
    double colw[TABLE_MAX_COLS];
    if (r->confusion) {
        cm_layout L = confusion_layout(r->confusion, r->class_names);
        cm_w = L.w;
        cm_h = L.h;
    }
    if (t) {
        table_widths(t, colw, &tab_w, &tab_h);
        if (r->confusion) {
            tab_x = 16 + cm_w + 48;
            if (tab_x + tab_w > SVG_W - 16) { /* no room beside: below */
                tab_x = 16;
                tab_y = y + cm_h + 20;
            }
        }
    }
    double bottom = bottom_y + cm_h;
    if (t && tab_y + tab_h > bottom)
        bottom = tab_y + tab_h;
    double total_h = ceil(bottom + 16);
    double total_w = SVG_W;
    if (t && tab_x + tab_w + 16 > total_w)
        total_w = ceil(tab_x + tab_w + 16);

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            total_w, total_h, total_w, total_h);
    if (r->title)
        svg_text(f, 24, title_y, 20, "start", C_TEXT, "font-weight=\"bold\"", r->title);
    if (cv)
        draw_curves(f, curves_y, cv);
    if (r->confusion)
        draw_confusion(f, 16, bottom_y, r->confusion, r->class_names, r->confusion_title);
    if (t)
        draw_table(f, tab_x, tab_y, t);
    fputs("</svg>\n", f);
    if (fflush(f) != 0 || ferror(f))
        return fm_err_set(err, FM_ERR_IO, "svg: write failed");
    return FM_OK;
}

fm_status fm_svg_save(const char *path, const fm_svg_report *r, fm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    fm_status st = fm_svg_write(f, r, err);
    if (fclose(f) != 0 && st == FM_OK)
        st = fm_err_set(err, FM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    else if (st)
        fm_err_prefix(err, "%s: ", path);
    return st;
}
