/* det_trainer.c - `facemask train-detector`: YuNet fine-tuned on VOC scene photos (see
 * det_trainer.h for the procedure). */
#include "train/det_trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/progress.h"
#include "data/augment.h"
#include "data/voc.h"
#include "face/detector.h"
#include "nn/net.h"
#include "onnx/onnx.h"
#include "onnx/write.h"
#include "train/det_eval.h"
#include "train/det_report.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "train/yunet_assign.h"

#define MAX_EPOCHS 200
#define VAL_SALT FM_DET_VAL_SALT

fm_det_train_opts fm_det_train_default_opts(void)
{
    fm_det_train_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = "models/detector";
    o.epochs = 25;
    o.input_size = 640;
    o.batch = 8;
    o.seed = 42;
    o.threads = 2;
    o.train_fraction = 0.5f;
    o.val_fraction = 0.15f;
    o.lr = 2e-4f;
    o.weight_decay = 5e-4f;
    o.patience = 4;
    o.unmasked_repeat = 1;
    o.evaluate = 1;
    o.conf = 0.2f;
    return o;
}

/* ---- the loss ------------------------------------------------------------------------------ */

fm_status fm_det_loss_init(fm_det_loss *l, const fm_tnet *t, int w, int h, fm_err *err)
{
    memset(l, 0, sizeof *l);
    static const char *const kinds[3] = {"cls", "obj", "bbox"};
    for (int k = 0; k < 3; k++)
        for (int lv = 0; lv < FM_YUNET_LEVELS; lv++) {
            char name[16];
            snprintf(name, sizeof name, "%s_%d", kinds[k], 8 << lv);
            int found = -1;
            for (int o = 0; o < fm_tnet_num_outputs(t); o++)
                if (strcmp(fm_tnet_output_name(t, o), name) == 0)
                    found = o;
            if (found < 0)
                return fm_err_set(err, FM_ERR_FORMAT, "not a YuNet-layout model: no output '%s'",
                                  name);
            int *dst = k == 0 ? l->cls : k == 1 ? l->obj : l->bbox;
            dst[lv] = found;
        }
    l->grid = fm_yunet_grid_of(w, h);
    return FM_OK;
}

static size_t cells_of(const fm_yunet_grid *g, int lv)
{
    return (size_t)g->rows[lv] * (size_t)g->cols[lv];
}

/* One sample's loss: its head views, SimOTA, fm_yunet_loss. */
static double sample_loss(fm_det_loss *l, const fm_tnet_loss_io *io, int s)
{
    int i = io->sample0 + s;
    fm_yunet_head head;
    fm_yunet_head_grad grad;
    for (int lv = 0; lv < FM_YUNET_LEVELS; lv++) {
        size_t c = cells_of(&l->grid, lv);
        head.cls[lv] = io->out[l->cls[lv]] + (size_t)s * c;
        head.obj[lv] = io->out[l->obj[lv]] + (size_t)s * c;
        head.bbox[lv] = io->out[l->bbox[lv]] + (size_t)s * c * 4;
        grad.cls[lv] = io->dout ? io->dout[l->cls[lv]] + (size_t)s * c : NULL;
        grad.obj[lv] = io->dout ? io->dout[l->obj[lv]] + (size_t)s * c : NULL;
        grad.bbox[lv] = io->dout ? io->dout[l->bbox[lv]] + (size_t)s * c * 4 : NULL;
    }
    int nb = l->nboxes[i];
    float(*faces)[4] = malloc(((size_t)nb + 1) * sizeof *faces);
    int max_pos = nb * FM_YUNET_MAX_POS_PER_FACE;
    fm_yunet_pos *pos = malloc(((size_t)max_pos + 1) * sizeof *pos);
    fm_err err = {0};
    l->npos[i] = 0;
    if (!faces || !pos) {
        free(faces);
        free(pos);
        l->status[i] = FM_ERR_NOMEM;
        return 0;
    }
    for (int b = 0; b < nb; b++) {
        const fm_det_box *x = &l->boxes[i][b];
        faces[b][0] = x->x1, faces[b][1] = x->y1, faces[b][2] = x->x2, faces[b][3] = x->y2;
    }
    int npos = fm_yunet_assign(&l->grid, &head, (const float(*)[4])faces, nb, pos, max_pos, &err);
    double loss = 0;
    fm_yunet_loss_parts parts = {0, 0, 0, 0};
    if (npos < 0)
        l->status[i] = err.status;
    else if ((loss = fm_yunet_loss(&l->grid, &head, pos, npos, NULL,
                                   io->dout ? &grad : NULL, &parts)) < 0)
        l->status[i] = FM_ERR_ARG, loss = 0;
    else
        l->npos[i] = npos;
    if (l->parts) {
        l->parts[3 * i] = parts.cls;
        l->parts[3 * i + 1] = parts.obj;
        l->parts[3 * i + 2] = parts.bbox;
    }
    free(faces);
    free(pos);
    return loss;
}

double fm_det_loss_fn(void *user, const fm_tnet_loss_io *io)
{
    double sum = 0;
    for (int s = 0; s < io->n; s++)
        sum += sample_loss(user, io, s);
    return sum;
}

/* The batch's positives, or -1 (err set) when a sample's assignment failed. */
static int batch_positives(const fm_det_loss *l, int n, fm_err *err)
{
    int np = 0;
    for (int i = 0; i < n; i++) {
        if (l->status[i] != FM_OK) {
            fm_err_set(err, l->status[i], "detector loss failed on sample %d (%s)", i,
                       fm_status_str(l->status[i]));
            return -1;
        }
        np += l->npos[i];
    }
    return np;
}

/* Points the loss at this batch's faces, with per-sample state for n samples. */
static fm_status loss_bind(fm_det_loss *l, const fm_det_box *const *boxes, const int *nboxes,
                           int n, fm_err *err)
{
    l->boxes = boxes;
    l->nboxes = nboxes;
    free(l->npos);
    free(l->status);
    l->npos = calloc((size_t)n + 1, sizeof *l->npos);
    l->status = calloc((size_t)n + 1, sizeof *l->status);
    if (!l->npos || !l->status)
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory for the detector loss");
    return FM_OK;
}

static void loss_unbind(fm_det_loss *l)
{
    free(l->npos);
    free(l->status);
    l->npos = NULL;
    l->status = NULL;
}

fm_status fm_det_step(fm_tnet *t, fm_det_loss *l, const float *x, int n,
                      const fm_det_box *const *boxes, const int *nboxes, uint64_t seed,
                      double *loss, int *npos, fm_err *err)
{
    fm_status st = loss_bind(l, boxes, nboxes, n, err);
    double sum = 0;
    if (st == FM_OK)
        st = fm_tnet_train_outputs(t, x, n, seed, fm_det_loss_fn, l, &sum, err);
    int np = st == FM_OK ? batch_positives(l, n, err) : -1;
    loss_unbind(l);
    if (np < 0)
        return st != FM_OK ? st : err ? err->status : FM_ERR_ARG;
    /* YuNet divides every loss by the batch's positives: the backward is linear in the
     * output gradients, so scaling the weight gradients afterwards is the same */
    double scale = 1.0 / (np > 1 ? np : 1);
    float *g = fm_tnet_grads(t);
    size_t count = fm_tnet_num_params(t);
    for (size_t k = 0; k < count; k++)
        g[k] = (float)(g[k] * scale);
    *loss = sum * scale;
    if (npos)
        *npos = np;
    return FM_OK;
}

fm_status fm_det_eval_loss(fm_tnet *t, fm_det_loss *l, const float *x, int n,
                           const fm_det_box *const *boxes, const int *nboxes, double *loss_sum,
                           int *npos, fm_err *err)
{
    int no = fm_tnet_num_outputs(t);
    float **out = calloc((size_t)no, sizeof *out);
    fm_status st = out ? loss_bind(l, boxes, nboxes, n, err)
                       : fm_err_set(err, FM_ERR_NOMEM, "out of memory for the detector loss");
    for (int k = 0; st == FM_OK && k < no; k++)
        if (!(out[k] = malloc((size_t)n * fm_tnet_output_size(t, k) * sizeof(float))))
            st = fm_err_set(err, FM_ERR_NOMEM, "out of memory for the detector outputs");
    if (st == FM_OK)
        st = fm_tnet_forward_outputs(t, x, n, out, err);
    if (st == FM_OK) {
        fm_tnet_loss_io io = {0, n, no, (const float *const *)out, NULL};
        *loss_sum = fm_det_loss_fn(l, &io);
        int np = batch_positives(l, n, err);
        if (np < 0)
            st = err ? err->status : FM_ERR_ARG;
        else
            *npos = np;
    }
    for (int k = 0; out && k < no; k++)
        free(out[k]);
    free(out);
    loss_unbind(l);
    return st;
}

/* ---- freezing the landmark branch ------------------------------------------------------------ */

/* d(sum of every non-landmark output) / d out = 1: the layers that get no gradient from it
 * feed the landmark outputs only. */
static double probe_loss(void *user, const fm_tnet_loss_io *io)
{
    const fm_tnet *t = user;
    for (int k = 0; k < io->noutputs; k++) {
        if (strncmp(fm_tnet_output_name(t, k), "kps_", 4) == 0)
            continue;
        size_t m = (size_t)io->n * fm_tnet_output_size(t, k);
        for (size_t j = 0; j < m; j++)
            io->dout[k][j] = 1.0f;
    }
    return 0;
}

fm_status fm_det_freeze_landmarks(fm_tnet *t, const float *x, int n, int *frozen, fm_err *err)
{
    double dummy;
    fm_status st = fm_tnet_train_outputs(t, x, n, 0, probe_loss, t, &dummy, err);
    if (st != FM_OK)
        return st;
    const float *g = fm_tnet_grads(t);
    *frozen = 0;
    for (int i = 0; i < fm_tnet_num_layers(t); i++) {
        size_t off, cnt = fm_tnet_layer_params(t, i, &off);
        int any = 0;
        for (size_t k = 0; k < cnt && !any; k++)
            any = g[off + k] != 0.0f;
        if (cnt == 0 || any)
            continue;
        if ((st = fm_tnet_set_trainable(t, fm_tnet_layer_name(t, i), 0, err)) != FM_OK)
            return st;
        (*frozen)++;
    }
    return FM_OK;
}

/* ---- data ------------------------------------------------------------------------------------ */

typedef struct {
    char *image, *name; /* path; file name (trained_on.txt) */
    fm_det_box *boxes;
    int n;
    int side;           /* 0 held out, 1 training, 2 validation */
    fm_image *img;      /* decoded (training and validation images) */
} scene;

typedef struct {
    scene *s;
    int n;
    int count[3];            /* images per side */
    long long faces[3];      /* faces per side */
    int skipped;             /* unreadable images */
} scenes;

static void scenes_free(scenes *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->s[i].image);
        free(d->s[i].boxes);
        fm_image_free(d->s[i].img);
    }
    free(d->s);
    memset(d, 0, sizeof *d);
}

static fm_status scene_from(const fm_voc_item *it, scene *s, fm_err *err)
{
    fm_voc v;
    fm_status st = fm_voc_load(it->xml, &v, err);
    if (st != FM_OK)
        return st;
    s->image = malloc(strlen(it->image) + 1);
    s->boxes = malloc(((size_t)v.n_objects + 1) * sizeof *s->boxes);
    if (!s->image || !s->boxes) {
        fm_voc_free(&v);
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory reading %s", it->xml);
    }
    strcpy(s->image, it->image);
    const char *slash = strrchr(s->image, '/');
    s->name = slash ? (char *)slash + 1 : s->image;
    for (int k = 0; k < v.n_objects; k++) {
        const fm_voc_object *o = &v.objects[k];
        s->boxes[k] = (fm_det_box){o->xmin, o->ymin, o->xmax, o->ymax, fm_voc_label(o->name)};
    }
    s->n = v.n_objects;
    fm_voc_free(&v);
    return FM_OK;
}

/* The names listed in a trained_on.txt (one a line, '#' comments) as one string of
 * "\nNAME\n" entries, or NULL (err set) when it cannot be read. */
static char *read_names(const char *path, fm_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fm_err_set(err, FM_ERR_IO, "%s: cannot read", path);
        return NULL;
    }
    size_t cap = 4096, len = 1;
    char *all = malloc(cap), line[1024];
    if (all)
        strcpy(all, "\n");
    while (all && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        size_t n = strlen(line);
        if (len + n + 2 > cap) {
            char *m = realloc(all, cap = 2 * cap + n);
            if (!m) {
                free(all);
                all = NULL;
                break;
            }
            all = m;
        }
        memcpy(all + len, line, n);
        len += n;
        all[len++] = '\n';
        all[len] = '\0';
    }
    fclose(f);
    if (!all)
        fm_err_set(err, FM_ERR_NOMEM, "out of memory reading %s", path);
    return all;
}

static int listed(const char *names, const char *name)
{
    char key[300];
    snprintf(key, sizeof key, "\n%s\n", name);
    return strstr(names, key) != NULL;
}

/* Lists the folder, reads the annotations and splits the images; decodes the training and
 * validation images (an unreadable one is skipped, said and counted). */
static fm_status scenes_load(const fm_det_train_opts *o, scenes *d, fm_err *err)
{
    memset(d, 0, sizeof *d);
    fm_voc_dir dir;
    fm_status st = fm_voc_list(o->voc_dir, &dir, err);
    if (st != FM_OK)
        return st;
    if (!(d->s = calloc((size_t)dir.n + 1, sizeof *d->s))) {
        fm_voc_dir_free(&dir);
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory listing %s", o->voc_dir);
    }
    char *names = NULL;
    if (o->trained_on && !(names = read_names(o->trained_on, err))) {
        fm_voc_dir_free(&dir);
        return err ? err->status : FM_ERR_IO;
    }
    int train_kept = 0;
    for (int i = 0; i < dir.n && st == FM_OK; i++) {
        scene *s = &d->s[d->n];
        if ((st = scene_from(&dir.items[i], s, err)) != FM_OK)
            break;
        d->n++;
        if (fm_voc_is_train_image(s->image, o->seed, o->train_fraction))
            s->side = fm_voc_is_train_image(s->image, o->seed ^ VAL_SALT, o->val_fraction) ? 2 : 1;
        if (names && !listed(names, s->name))
            s->side = 0;
        if (s->side == 1 && o->max_images > 0 && train_kept >= o->max_images)
            continue; /* kept for trained_on.txt, not used */
        if (s->side != 0) {
            fm_err e2 = {0};
            if (!(s->img = fm_image_load(s->image, 0, &e2))) {
                fm_log(FM_LOG_WARN, "skipping %s", e2.msg);
                d->skipped++;
                continue;
            }
            train_kept += s->side == 1;
        }
        d->count[s->side]++;
        d->faces[s->side] += s->n;
    }
    fm_voc_dir_free(&dir);
    free(names);
    if (st == FM_OK && d->faces[1] == 0)
        st = fm_err_set(err, FM_ERR_FORMAT,
                        "%s: no annotated faces in the training half (%d readable images)",
                        o->voc_dir, d->count[1]);
    if (st != FM_OK)
        scenes_free(d);
    return st;
}

/* Indices of the usable scenes of one side. */
static int side_list(const scenes *d, int side, int *out)
{
    int n = 0;
    for (int i = 0; i < d->n; i++)
        if (d->s[i].side == side && (side == 0 || d->s[i].img))
            out[n++] = i;
    return n;
}

static fm_status write_trained_on(const char *dir, const scenes *d, fm_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/trained_on.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot write", path);
    fprintf(f, "# scene images on the training side of this detector (training and validation); "
               "the others are held out\n");
    for (int i = 0; i < d->n; i++)
        if (d->s[i].side != 0)
            fprintf(f, "%s\n", d->s[i].name);
    return fclose(f) == 0 ? FM_OK : fm_err_set(err, FM_ERR_IO, "%s: write failed", path);
}

/* ---- training ------------------------------------------------------------------------------- */

/* What one run holds while it trains. */
typedef struct {
    const fm_det_train_opts *o;
    scenes *d;
    fm_tnet *t;
    fm_det_loss loss;
    fm_pool *pool;
    int S, B;
    float *x;               /* B x 3 x S x S */
    fm_det_box *boxes;      /* B x max faces */
    int max_faces;
    const fm_det_box **bp;  /* per sample of a batch */
    int *nb;
    fm_det_aug_job *jobs;
    /* log */
    int n_epochs, best_epoch;
    double train_loss[MAX_EPOCHS], val_loss[MAX_EPOCHS], seconds[MAX_EPOCHS];
} run;

/* Augments scenes idx[0..n) into r->x with seeds from (epoch, entry). An entry is a scene
 * index plus copy * d->n for the extra copies of an image with an unmasked face
 * (unmasked_repeat), so each copy gets its own crop; copy 0 is the scene index itself. */
static fm_status make_batch(run *r, const int *idx, int n, const fm_det_aug_params *p,
                            uint64_t epoch, fm_err *err)
{
    size_t per = (size_t)3 * r->S * r->S;
    for (int k = 0; k < n; k++) {
        const scene *s = &r->d->s[idx[k] % r->d->n];
        r->jobs[k] = (fm_det_aug_job){s->img, s->boxes, s->n,
                                      fm_aug_seed(r->o->seed, epoch, (uint64_t)idx[k]),
                                      r->x + (size_t)k * per,
                                      r->boxes + (size_t)k * r->max_faces, 0, FM_OK};
    }
    fm_status st = fm_det_augment_many(r->pool, r->jobs, n, p, err);
    for (int k = 0; k < n; k++) {
        r->bp[k] = r->jobs[k].out;
        r->nb[k] = r->jobs[k].nout;
    }
    return st;
}

/* The validation loss per positive (no augmentation: the detector's own mapping). */
static fm_status val_loss(run *r, const int *val, int nval, double *out, fm_err *err)
{
    fm_det_aug_params none = fm_det_aug_none(r->S);
    double sum = 0;
    long long np = 0;
    for (int b0 = 0; b0 < nval; b0 += r->B) {
        int n = nval - b0 < r->B ? nval - b0 : r->B, k;
        double l;
        fm_status st = make_batch(r, val + b0, n, &none, 0, err);
        if (st == FM_OK)
            st = fm_det_eval_loss(r->t, &r->loss, r->x, n, r->bp, r->nb, &l, &k, err);
        if (st != FM_OK)
            return st;
        sum += l;
        np += k;
    }
    *out = np > 0 ? sum / (double)np : 0;
    return FM_OK;
}

static void shuffle(int *a, int n, uint64_t seed)
{
    fm_rng rng;
    fm_rng_init(&rng, seed);
    for (int i = n - 1; i > 0; i--) {
        int k = (int)fm_rng_below(&rng, (uint64_t)i + 1), t = a[i];
        a[i] = a[k];
        a[k] = t;
    }
}

/* One epoch over the training images; *loss gets the mean step loss. */
static fm_status train_epoch(run *r, fm_optim *opt, int *train, int ntrain, int epoch,
                             double *loss, fm_err *err)
{
    const fm_det_train_opts *o = r->o;
    fm_det_aug_params aug = fm_det_aug_defaults(r->S);
    shuffle(train, ntrain, fm_aug_seed(o->seed, 3000u, (uint64_t)epoch));
    long steps = (ntrain + r->B - 1) / r->B;
    char what[64];
    snprintf(what, sizeof what, "train-detector epoch %d/%d", epoch + 1, o->epochs);
    fm_progress prog;
    fm_progress_start(&prog, what, "steps", steps, o->quiet);
    double sum = 0;
    fm_status st = FM_OK;
    for (long s = 0; s < steps && st == FM_OK; s++) {
        int b0 = (int)(s * r->B), n = ntrain - b0 < r->B ? ntrain - b0 : r->B;
        double l;
        if ((st = make_batch(r, train + b0, n, &aug, (uint64_t)epoch + 1, err)) != FM_OK ||
            (st = fm_det_step(r->t, &r->loss, r->x, n, r->bp, r->nb,
                              fm_aug_seed(o->seed, 4000u, (uint64_t)s), &l, NULL, err)) != FM_OK)
            break;
        fm_optim_step(opt, fm_tnet_params(r->t), fm_tnet_grads(r->t), fm_tnet_trainable_mask(r->t));
        sum += l;
        fm_progress_update(&prog, s + 1);
    }
    fm_progress_end(&prog);
    *loss = steps ? sum / (double)steps : 0;
    return st;
}

/* Epochs with early stopping; the best validation epoch's weights are left in t. */
static fm_status train_loop(run *r, int *train, int ntrain, const int *val, int nval, fm_err *err)
{
    const fm_det_train_opts *o = r->o;
    fm_optim_opts oo = fm_optim_default_opts(FM_OPTIM_ADAM);
    oo.lr = o->lr;
    oo.weight_decay = o->weight_decay;
    size_t np = fm_tnet_num_params(r->t);
    fm_optim *opt = fm_optim_create(&oo, np, err);
    float *best = malloc(np * sizeof *best);
    if (!opt || !best) {
        fm_optim_free(opt);
        free(best);
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory for the optimiser");
    }
    memcpy(best, fm_tnet_params(r->t), np * sizeof *best);
    double best_loss = INFINITY;
    fm_status st = val_loss(r, val, nval, &best_loss, err);
    printf("train-detector: validation loss before training %.4f\n", best_loss);
    int since = 0;
    for (int e = 0; st == FM_OK && e < o->epochs && e < MAX_EPOCHS; e++) {
        double t0 = fm_now_ms();
        /* cosine decay to a tenth over the epochs */
        fm_optim_set_lr(opt, (float)(o->lr * (0.1 + 0.45 * (1 + cos(M_PI * e / o->epochs)))));
        if ((st = train_epoch(r, opt, train, ntrain, e, &r->train_loss[e], err)) != FM_OK ||
            (st = val_loss(r, val, nval, &r->val_loss[e], err)) != FM_OK)
            break;
        r->seconds[e] = (fm_now_ms() - t0) / 1e3;
        r->n_epochs = e + 1;
        int better = r->val_loss[e] < best_loss - 1e-5;
        printf("train-detector epoch %2d/%d: train loss %.4f | val loss %.4f | %.1f s%s\n", e + 1,
               o->epochs, r->train_loss[e], r->val_loss[e], r->seconds[e], better ? " *" : "");
        fflush(stdout);
        if (better) {
            best_loss = r->val_loss[e];
            r->best_epoch = e + 1;
            memcpy(best, fm_tnet_params(r->t), np * sizeof *best);
            since = 0;
        } else if (++since >= o->patience) {
            printf("train-detector: no better validation loss for %d epochs, stopping; best "
                   "epoch %d\n", o->patience, r->best_epoch);
            break;
        }
    }
    memcpy(fm_tnet_params(r->t), best, np * sizeof *best);
    fm_optim_free(opt);
    free(best);
    return st;
}

/* ---- the run ------------------------------------------------------------------------------ */

/* Refusals that need nothing read: the size, and a model already in out_dir. */
static fm_status check_opts(const fm_det_train_opts *o, fm_err *err)
{
    if (!o->voc_dir || !o->model_path || !o->out_dir)
        return fm_err_set(err, FM_ERR_ARG, "train-detector: the VOC folder, the model and the "
                                           "output folder are required");
    if (o->input_size < 32 || o->input_size % 32 != 0 || o->input_size > 2048)
        return fm_err_set(err, FM_ERR_ARG, "input size %d: must be a multiple of 32, 32..2048",
                          o->input_size);
    if (o->batch < 1 || o->epochs < 1 || o->threads < 1)
        return fm_err_set(err, FM_ERR_ARG, "batch, epochs and threads must be at least 1");
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", o->out_dir, FM_DET_MODEL_FILE);
    if (!o->overwrite && stat(path, &st) == 0)
        return fm_err_set(err, FM_ERR_ARG, "%s already holds a model (%s); nothing written",
                          o->out_dir, FM_DET_MODEL_FILE);
    /* the detector's own check of the layout, with its message naming the missing output */
    fm_detector_spec spec = {o->model_path, NULL, 0, 0};
    fm_detector *d = fm_detector_create(&spec, NULL, err);
    if (!d)
        return err ? err->status : FM_ERR_FORMAT;
    fm_detector_free(d);
    return FM_OK;
}

static fm_status run_alloc(run *r, fm_net *net, fm_err *err)
{
    const fm_det_train_opts *o = r->o;
    r->S = o->input_size;
    r->B = o->batch;
    r->max_faces = 1;
    for (int i = 0; i < r->d->n; i++)
        if (r->d->s[i].n > r->max_faces)
            r->max_faces = r->d->s[i].n;
    if (!(r->t = fm_tnet_create_outputs(net, NULL, r->B, o->threads, err)) ||
        fm_tnet_set_logit_outputs(r->t, 1, err) != FM_OK ||
        fm_det_loss_init(&r->loss, r->t, r->S, r->S, err) != FM_OK ||
        !(r->pool = fm_pool_create(o->threads, err)))
        return err ? err->status : FM_ERR_ARG;
    r->x = malloc((size_t)r->B * 3 * r->S * r->S * sizeof *r->x);
    r->boxes = malloc((size_t)r->B * r->max_faces * sizeof *r->boxes);
    r->bp = malloc((size_t)r->B * sizeof *r->bp);
    r->nb = malloc((size_t)r->B * sizeof *r->nb);
    r->jobs = malloc((size_t)r->B * sizeof *r->jobs);
    if (!r->x || !r->boxes || !r->bp || !r->nb || !r->jobs)
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory for a batch of %d at %dx%d", r->B,
                          r->S, r->S);
    return FM_OK;
}

static void run_free(run *r)
{
    fm_tnet_free(r->t);
    fm_pool_free(r->pool);
    free(r->x);
    free(r->boxes);
    free(r->bp);
    free(r->nb);
    free(r->jobs);
}

/* Held-out figures of the saved and the source model. */
static fm_status evaluate(const fm_det_train_opts *o, const scenes *d, const char *model,
                          fm_det_eval *tuned, fm_det_eval *source, fm_err *err)
{
    fm_det_eval_item *items = malloc(((size_t)d->count[0] + 1) * sizeof *items);
    if (!items)
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory for the evaluation");
    int n = 0;
    for (int i = 0; i < d->n; i++)
        if (d->s[i].side == 0)
            items[n++] = (fm_det_eval_item){d->s[i].image, d->s[i].boxes, d->s[i].n};
    fm_progress prog;
    fm_progress_start(&prog, "train-detector: held-out (fine-tuned)", "images", n, o->quiet);
    fm_status st = fm_det_eval_run(model, items, n, o->conf, o->threads, tuned, &prog, err);
    fm_progress_end(&prog);
    if (st == FM_OK) {
        fm_progress_start(&prog, "train-detector: held-out (source)", "images", n, o->quiet);
        st = fm_det_eval_run(o->model_path, items, n, o->conf, o->threads, source, &prog, err);
        fm_progress_end(&prog);
    }
    free(items);
    return st;
}

static void print_eval(const char *name, const fm_det_eval *e)
{
    printf("  %-10s face AP %.4f, recall %.4f (%lld/%lld faces, %d images); by width 0-16 "
           "%.3f, 16-32 %.3f, 32-64 %.3f, 64+ %.3f; masked %.4f, unmasked %.4f\n",
           name, e->ap, e->recall, e->found, e->faces, e->images,
           fm_det_eval_ratio(e->w_found[0], e->w_total[0]),
           fm_det_eval_ratio(e->w_found[1], e->w_total[1]),
           fm_det_eval_ratio(e->w_found[2], e->w_total[2]),
           fm_det_eval_ratio(e->w_found[3], e->w_total[3]),
           fm_det_eval_ratio(e->l_found[0], e->l_total[0]),
           fm_det_eval_ratio(e->l_found[1], e->l_total[1]));
}

/* Trains t on the scenes' training side; leaves the best weights in t. */
static fm_status train_all(run *r, int *frozen, fm_err *err)
{
    scenes *d = r->d;
    int *train = malloc(((size_t)d->n + 1) * sizeof *train);
    int *val = malloc(((size_t)d->n + 1) * sizeof *val);
    fm_status st = FM_OK;
    if (!train || !val) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory");
        goto done;
    }
    int ntrain = side_list(d, 1, train), nval = side_list(d, 2, val);
    printf("train-detector: %d training images (%lld faces), %d validation (%lld), %d held out "
           "(%lld); %d unreadable skipped\n",
           ntrain, d->faces[1], nval, d->faces[2], d->count[0], d->faces[0], d->skipped);
    /* an image with an unmasked face is seen unmasked_repeat times an epoch */
    int nimages = ntrain, rep = r->o->unmasked_repeat < 1 ? 1 : r->o->unmasked_repeat;
    if (rep > 1) {
        int *more = realloc(train, ((size_t)d->n * (size_t)rep + 1) * sizeof *train);
        if (!more) {
            st = fm_err_set(err, FM_ERR_NOMEM, "out of memory");
            goto done;
        }
        train = more;
        for (int c = 1; c < rep; c++)
            for (int i = 0; i < nimages; i++) {
                const scene *sc = &d->s[train[i]];
                int unmasked = 0;
                for (int k = 0; k < sc->n; k++)
                    unmasked |= sc->boxes[k].label == FM_VOC_WITHOUT_MASK;
                if (unmasked)
                    train[ntrain++] = train[i] + c * d->n;
            }
        printf("train-detector: the %d images with an unmasked face are seen %d times an epoch "
               "(%d entries)\n", (ntrain - nimages) / (rep - 1), rep, ntrain);
    }
    fm_det_aug_params none = fm_det_aug_none(r->S);
    int nprobe = ntrain < r->B ? ntrain : r->B;
    if ((st = make_batch(r, train, nprobe, &none, 0, err)) != FM_OK ||
        (st = fm_det_freeze_landmarks(r->t, r->x, nprobe, frozen, err)) != FM_OK)
        goto done;
    printf("train-detector: %d landmark-only layers frozen\n", *frozen);
    st = train_loop(r, train, ntrain, val, nval, err);
done:
    free(train);
    free(val);
    return st;
}

fm_status fm_det_train_run(const fm_det_train_opts *o, fm_err *err)
{
    double t_start = fm_now_ms() / 1e3;
    fm_status st = check_opts(o, err);
    if (st != FM_OK)
        return st;
    scenes d;
    if ((st = scenes_load(o, &d, err)) != FM_OK)
        return st;
    fm_net_opts no = fm_net_default_opts();
    no.input_shape = fm_shape4(1, 3, o->input_size, o->input_size);
    fm_net *net = fm_onnx_load_net(o->model_path, &no, err);
    run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.d = &d;
    int frozen = 0;
    char model[4200];
    snprintf(model, sizeof model, "%s/%s", o->out_dir, FM_DET_MODEL_FILE);
    if (!net || (st = run_alloc(&r, net, err)) != FM_OK || (st = train_all(&r, &frozen, err)) != FM_OK ||
        (st = fm_tnet_write_back(r.t, net, err)) != FM_OK ||
        (st = fm_train_mkdir(o->out_dir, err)) != FM_OK ||
        (st = fm_onnx_save_net(o->model_path, net, model, o->overwrite, err)) != FM_OK ||
        (st = write_trained_on(o->out_dir, &d, err)) != FM_OK) {
        st = st != FM_OK ? st : err ? err->status : FM_ERR_ARG;
        goto done;
    }
    double train_s = fm_now_ms() / 1e3 - t_start;
    printf("train-detector: wrote %s (training took %.1f s)\n", model, train_s);
    fm_det_eval tuned, source;
    if (o->evaluate && (st = evaluate(o, &d, model, &tuned, &source, err)) != FM_OK)
        goto done;
    if (o->evaluate) {
        printf("held-out half, IoU 0.5, score >= %.2f:\n", o->conf);
        print_eval("fine-tuned", &tuned);
        print_eval("source", &source);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fm_det_report rep = {o->command, o->voc_dir, o->model_path, o->seed, r.S, r.B, o->threads,
                         o->lr, o->weight_decay, o->unmasked_repeat, r.n_epochs, r.best_epoch,
                         r.train_loss,
                         r.val_loss, r.seconds, d.count[1], d.count[2], d.count[0], d.skipped,
                         d.faces[1], d.faces[2], d.faces[0], frozen,
                         o->evaluate ? &tuned : NULL, o->evaluate ? &source : NULL, o->conf,
                         train_s, fm_now_ms() / 1e3 - t_start, (double)ru.ru_maxrss / 1024.0};
    if ((st = fm_det_report_write(o->out_dir, &rep, err)) != FM_OK)
        goto done;
    printf("train-detector: %.1f s in all, peak memory %.0f MB; wrote %s/{%s,trained_on.txt,"
           "report.json,report.svg}\n",
           rep.wall_seconds, rep.peak_memory_mb, o->out_dir, FM_DET_MODEL_FILE);
done:
    run_free(&r);
    fm_net_free(net);
    scenes_free(&d);
    return st;
}
