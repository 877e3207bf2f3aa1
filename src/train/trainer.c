/* trainer.c - `facemask train`: datasets, cached front features, two phases and saving the
 * model; its report is written by trainer_report.c. See trainer.h for the procedure. */
#include "train/trainer.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/progress.h"
#include "caffe/caffemodel.h"
#include "caffe/prototxt.h"
#include "caffe/caffe.h"
#include "nn/net.h"
#include "train/det_crops.h"
#include "train/optim.h"
#include "train/tnet.h"
#include "train/trainer_int.h"

#define HEAD_HIDDEN 128

fm_train_opts fm_train_default_opts(void)
{
    fm_train_opts o;
    memset(&o, 0, sizeof o);
    o.voc_train_fraction = 0.5f;
    o.voc_min_width = 8;
    o.crops_conf = 0.2f;
    o.out_dir = "models/mask";
    o.epochs = 20;
    o.fine_tune_epochs = 10;
    o.input_size = 128;
    o.fine_tune_from = "expanded_conv_12/expand";
    o.cut = "expanded_conv_13/project";
    o.seed = 42;
    o.batch = 32;
    o.threads = 2;
    o.val_fraction = 0.15f;
    o.test_fraction = 0.1f;
    o.lr_head = 1e-3f;
    o.lr_fine = 1e-4f;
    o.weight_decay = 1e-4f;
    o.patience = 4;
    o.variants = 3;
    o.lowres_prob = 0.3f;
    o.lowres_min = 12;
    o.lowres_max = 0;
    o.margin = 0.0f;
    o.square = 1;
    o.flip_average = 0;
    o.augment = 1;
    return o;
}

fm_status fm_train_mkdir(const char *dir, fm_err *err)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf - 1)
        return fm_err_set(err, FM_ERR_ARG, "bad output folder '%s'", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return fm_err_set(err, FM_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
        buf[i] = c;
    }
    return FM_OK;
}

/* ---- datasets ------------------------------------------------------------------------ */

static char *dup_s(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A new dataset with the samples of a then b (paths copied); b's groups are renumbered
 * after a's, and b's labels mapped by class name onto a's classes. */
static fm_dataset *concat(const fm_dataset *a, const fm_dataset *b, fm_err *err)
{
    fm_dataset *d = calloc(1, sizeof *d);
    if (!d)
        goto oom;
    d->n_classes = a->n_classes;
    d->classes = calloc((size_t)a->n_classes, sizeof *d->classes);
    d->samples = calloc((size_t)(a->n + b->n) + 1, sizeof *d->samples);
    if (!d->classes || !d->samples)
        goto oom;
    for (int c = 0; c < a->n_classes; c++)
        if (!(d->classes[c] = dup_s(a->classes[c])))
            goto oom;
    int max_group = -1;
    for (int i = 0; i < a->n; i++) {
        d->samples[d->n] = a->samples[i];
        if (!(d->samples[d->n].path = dup_s(a->samples[i].path)))
            goto oom;
        if (a->samples[i].group > max_group)
            max_group = a->samples[i].group;
        d->n++;
    }
    for (int i = 0; i < b->n; i++) {
        const char *name = b->classes[b->samples[i].label];
        int label = -1;
        for (int c = 0; c < a->n_classes; c++)
            if (strcmp(a->classes[c], name) == 0)
                label = c;
        if (label < 0) {
            fm_dataset_free(d);
            fm_err_set(err, FM_ERR_FORMAT, "class '%s' of the scene faces is not a class of the "
                                           "training folders", name);
            return NULL;
        }
        d->samples[d->n] = b->samples[i];
        d->samples[d->n].label = label;
        d->samples[d->n].group = b->samples[i].group + max_group + 1;
        if (!(d->samples[d->n].path = dup_s(b->samples[i].path)))
            goto oom;
        d->n++;
    }
    return d;
oom:
    fm_dataset_free(d);
    fm_err_set(err, FM_ERR_NOMEM, "out of memory combining datasets");
    return NULL;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static double split_hash(const char *path, uint64_t seed)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (const unsigned char *p = (const unsigned char *)base_name(path); *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

int fm_voc_is_train_image(const char *path, uint64_t seed, float fraction)
{
    return split_hash(path, seed) < (double)fraction;
}

int fm_voc_split_trains(const fm_voc_split *s, const char *path)
{
    double h = split_hash(path, s->seed);
    return h < (double)s->fraction && !(h >= (double)s->skip_lo && h < (double)s->skip_hi);
}

/* Keeps the samples whose image is trained on (keep_train) / is held out (not on the training
 * side; a development fold is neither). */
static fm_dataset *filter_voc(const fm_dataset *ds, const fm_voc_split *split, int keep_train,
                              fm_err *err)
{
    fm_dataset empty = {.n_classes = ds->n_classes, .classes = ds->classes};
    fm_dataset *d = concat(ds, &empty, err);
    if (!d)
        return NULL;
    int k = 0;
    for (int i = 0; i < d->n; i++) {
        const char *path = d->samples[i].path;
        if (keep_train ? fm_voc_split_trains(split, path)
                       : !fm_voc_is_train_image(path, split->seed, split->fraction))
            d->samples[k++] = d->samples[i];
        else
            free(d->samples[i].path);
    }
    d->n = k;
    return d;
}

/* ---- the model files ------------------------------------------------------------------ */

/* The base prototxt's layers up to (not including) its 'Logits' classifier, with our
 * input size and head. */
static fm_status write_prototxt(const char *base_proto, int S, const char *out, fm_err *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    fm_status rst = fm_read_file(base_proto, FM_PTXT_MAX_BYTES, "a prototxt", &buf, &len, err);
    if (rst != FM_OK)
        return rst;
    char *text = (char *)buf; /* NUL-terminated by fm_read_file */
    char *first = strstr(text, "\nlayer {");
    char *logits = strstr(text, "name: \"Logits\"");
    char *end = NULL;
    if (logits) {
        for (char *p = logits; p > text; p--)
            if (strncmp(p, "\nlayer {", 8) == 0) {
                end = p;
                break;
            }
    }
    if (!first || !end || end <= first || !strstr(text, "name: \"pool\"")) {
        free(text);
        return fm_err_set(err, FM_ERR_FORMAT,
                          "%s: expected MobileNetV2 layers with a 'pool' and a 'Logits' layer",
                          base_proto);
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        free(text);
        return fm_err_set(err, FM_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
    }
    fprintf(f,
            "# facemask mask classifier: ImageNet MobileNetV2 (up to its global pool) fine-tuned\n"
            "# by `facemask train`, with a new head. Input RGB, (pixel - 128) / 128.\n"
            "name: \"facemask_mask_classifier\"\n"
            "input: \"data\"\n"
            "input_shape { dim: 1 dim: 3 dim: %d dim: %d }\n",
            S, S);
    fwrite(first, 1, (size_t)(end - first), f);
    fprintf(f,
            "\nlayer {\n  name: \"fc1\"\n  type: \"InnerProduct\"\n  bottom: \"pool\"\n  top: \"fc1\"\n"
            "  inner_product_param { num_output: %d }\n}\n"
            "layer {\n  name: \"fc1/relu\"\n  type: \"ReLU\"\n  bottom: \"fc1\"\n  top: \"fc1\"\n}\n"
            "layer {\n  name: \"dropout\"\n  type: \"Dropout\"\n  bottom: \"fc1\"\n  top: \"fc1\"\n"
            "  dropout_param { dropout_ratio: 0.5 }\n}\n"
            "layer {\n  name: \"fc2\"\n  type: \"InnerProduct\"\n  bottom: \"fc1\"\n  top: \"fc2\"\n"
            "  inner_product_param { num_output: 2 }\n}\n"
            "layer {\n  name: \"prob\"\n  type: \"Softmax\"\n  bottom: \"fc2\"\n  top: \"prob\"\n}\n",
            HEAD_HIDDEN);
    free(text);
    if (fclose(f) != 0)
        return fm_err_set(err, FM_ERR_IO, "%s: write failed", out);
    return FM_OK;
}

/* Glorot-uniform weights (Keras' Dense default), zero bias. */
static void glorot(float *w, int fan_out, int fan_in, uint64_t seed)
{
    fm_rng r;
    fm_rng_init(&r, seed);
    double limit = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < (size_t)fan_out * (size_t)fan_in; i++)
        w[i] = (float)fm_rng_range(&r, -limit, limit);
}

/* The base weights (all but Logits) and a freshly initialised head. */
static fm_status write_initial_model(const char *base_model, const char *out, uint64_t seed,
                                     fm_err *err)
{
    fm_caffemodel *base = fm_caffemodel_read(base_model, err);
    if (!base)
        return err ? err->status : FM_ERR_IO;
    fm_caffe_layer *layers = calloc((size_t)base->nlayers + 2, sizeof *layers);
    float *w1 = malloc(sizeof(float) * HEAD_HIDDEN * 1280), *b1 = calloc(HEAD_HIDDEN, sizeof(float));
    float *w2 = malloc(sizeof(float) * 2 * HEAD_HIDDEN), *b2 = calloc(2, sizeof(float));
    fm_status st = FM_OK;
    if (!layers || !w1 || !b1 || !w2 || !b2) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory building the initial model");
    } else {
        int n = 0;
        for (int i = 0; i < base->nlayers; i++)
            if (strcmp(base->layers[i].name, "Logits") != 0 && base->layers[i].nblobs > 0)
                layers[n++] = base->layers[i];
        glorot(w1, HEAD_HIDDEN, 1280, seed ^ 0x1111);
        glorot(w2, 2, HEAD_HIDDEN, seed ^ 0x2222);
        fm_caffe_blob fc1[2] = {{fm_shape2(HEAD_HIDDEN, 1280), (size_t)HEAD_HIDDEN * 1280, w1},
                                {fm_shape1(HEAD_HIDDEN), HEAD_HIDDEN, b1}};
        fm_caffe_blob fc2[2] = {{fm_shape2(2, HEAD_HIDDEN), 2 * HEAD_HIDDEN, w2},
                                {fm_shape1(2), 2, b2}};
        layers[n++] = (fm_caffe_layer){"fc1", "InnerProduct", 2, fc1};
        layers[n++] = (fm_caffe_layer){"fc2", "InnerProduct", 2, fc2};
        fm_caffemodel m = {"facemask_mask_classifier", n, layers};
        st = fm_caffemodel_write(&m, out, err);
    }
    free(layers);
    free(w1);
    free(b1);
    free(w2);
    free(b2);
    fm_caffemodel_free(base);
    return st;
}

/* Writes every weighted layer of a loaded net (conv, inner product) as a caffemodel. */
static fm_status save_net(fm_net *net, const char *out, fm_err *err)
{
    int nl = fm_net_num_layers(net);
    fm_caffe_layer *layers = calloc((size_t)nl, sizeof *layers);
    fm_caffe_blob *blobs = calloc((size_t)nl * 2, sizeof *blobs);
    if (!layers || !blobs) {
        free(layers);
        free(blobs);
        return fm_err_set(err, FM_ERR_NOMEM, "out of memory saving the model");
    }
    int n = 0;
    for (int i = 0; i < nl; i++) {
        fm_layer_info li;
        fm_net_layer_info(net, i, &li);
        fm_caffe_blob *b = &blobs[2 * n];
        if (li.kind == FM_LAYER_CONV) {
            int cin = fm_net_value(net, li.in[0])->shape.d[1];
            b[0].shape = fm_conv_weight_shape(li.conv, cin);
        } else if (li.kind == FM_LAYER_IP) {
            b[0].shape = fm_shape2(li.ip->num_output, (int)(li.nw / (size_t)li.ip->num_output));
        } else {
            continue;
        }
        b[0].count = li.nw;
        b[0].data = li.w;
        b[1].shape = fm_shape1((int)li.nb);
        b[1].count = li.nb;
        b[1].data = li.b;
        layers[n].name = (char *)li.name;
        layers[n].type = li.kind == FM_LAYER_CONV ? "Convolution" : "InnerProduct";
        layers[n].nblobs = 2;
        layers[n].blobs = b;
        n++;
    }
    fm_caffemodel m = {"facemask_mask_classifier", n, layers};
    fm_status st = fm_caffemodel_write(&m, out, err);
    free(layers);
    free(blobs);
    return st;
}

/* Run index of the layer writing value `name`, or -1. */
static int producer_of(fm_net *net, const char *name)
{
    int v = fm_net_value_id(net, name);
    for (int i = 0; v >= 0 && i < fm_net_num_layers(net); i++) {
        fm_layer_info li;
        fm_net_layer_info(net, i, &li);
        if (li.out == v)
            return i;
    }
    return -1;
}

/* Phase 2 trains from the value that its first layer reads: the features cached below are cut
 * there, so an earlier --fine-tune-from moves the cut down with it. Checked on the ImageNet
 * base (the classifier's layers up to its pool), before anything is written. */
static fm_status phase2_cut(const fm_train_opts *o, char *cut, size_t size, fm_err *err)
{
    char proto[4096], model[4096];
    snprintf(proto, sizeof proto, "%s/mobilenet_v2.prototxt", o->base_dir);
    snprintf(model, sizeof model, "%s/mobilenet_v2.caffemodel", o->base_dir);
    fm_net_opts no = fm_net_default_opts();
    no.input_shape = fm_shape4(1, 3, o->input_size, o->input_size);
    fm_net *net = fm_caffe_load_net(proto, model, &no, err);
    if (!net)
        return err ? err->status : FM_ERR_IO;
    int first = -1, pool_layer = producer_of(net, "pool");
    fm_layer_info li;
    for (int i = 0; i < pool_layer && first < 0; i++)
        if (fm_net_layer_info(net, i, &li) && strcmp(li.name, o->fine_tune_from) == 0)
            first = i;
    const char *in = first >= 0 && li.nin == 1 ? fm_net_value_name(net, li.in[0]) : NULL;
    fm_status st = FM_OK;
    if (first < 0)
        st = fm_err_set(err, FM_ERR_ARG, "--fine-tune-from %s: no such layer before the pool in %s",
                        o->fine_tune_from, proto);
    else if (!in || fm_net_value_id(net, in) != li.in[0] || strlen(in) >= size)
        st = fm_err_set(err, FM_ERR_ARG,
                        "--fine-tune-from %s: phase 2 must start at a layer with one input "
                        "(a block's expand convolution) in %s",
                        o->fine_tune_from, proto);
    else
        snprintf(cut, size, "%s", in);
    fm_net_free(net);
    return st;
}

/* ---- cached front features -------------------------------------------------------------- */

typedef struct {
    const fm_train_opts *o;
    const fm_dataset *ds;
    fm_net **nets; /* one per thread */
    int cut_layer, pool_layer;
    int cut_v, pool_v;
    size_t cut_n, pool_n;
    int variant;
    const fm_aug_params *aug;
    float *cut_out;  /* ds->n x cut_n */
    float *pool_out; /* ds->n x pool_n */
    int *ok;         /* ds->n */
    int *done;       /* progress counter per thread */
    int skipped;
    int nthreads;
    fm_progress *prog; /* updated by thread 0 */
    pthread_mutex_t *mu;
} extract_job;

static void extract_worker(void *ctx, int tid, int nt)
{
    extract_job *j = ctx;
    fm_net *net = j->nets[tid];
    int S = j->o->input_size;
    fm_load_opts lo = fm_load_defaults(S);
    lo.margin = j->o->margin;
    lo.square = j->o->square;
    lo.aug = j->aug;
    fm_load_scratch scratch = {0};
    fm_err err = {0};
    float *in = fm_net_input(net, 0)->data;
    for (int i = tid; i < j->ds->n; i += nt) {
        lo.aug_seed = fm_aug_seed(j->o->seed, (uint64_t)j->variant, (uint64_t)i);
        if (fm_dataset_load(j->ds, i, &lo, in, &scratch, &err) != FM_OK) {
            j->ok[i] = 0;
            if (j->variant == 0) {
                pthread_mutex_lock(j->mu);
                fm_log(FM_LOG_ERROR, "train: skipping %s", err.msg);
                j->skipped++;
                pthread_mutex_unlock(j->mu);
            }
        } else {
            j->ok[i] = 1;
            fm_net_forward_range(net, 0, j->cut_layer + 1, NULL);
            memcpy(j->cut_out + (size_t)i * j->cut_n, fm_net_value(net, j->cut_v)->data,
                   j->cut_n * sizeof(float));
            fm_net_forward_range(net, j->cut_layer + 1, j->pool_layer + 1, NULL);
            memcpy(j->pool_out + (size_t)i * j->pool_n, fm_net_value(net, j->pool_v)->data,
                   j->pool_n * sizeof(float));
        }
        j->done[tid]++;
        if (tid == 0) {
            long d = 0;
            for (int k = 0; k < nt; k++)
                d += j->done[k];
            fm_progress_update(j->prog, d);
        }
    }
    fm_load_scratch_free(&scratch);
}

/* ---- one training phase ------------------------------------------------------------------ */


typedef struct {
    const float *x;      /* variants x n x dim (train) */
    int variants;
    const int *labels;   /* n */
    const int *ok;       /* n: usable */
    int n;
    const float *val_x;  /* n_val x dim */
    const int *val_labels;
    const int *val_ok;
    int n_val;
    size_t dim;
} phase_data;

static void eval_probs(const float *probs, const int *labels, const int *ok, int n, double *loss,
                       double *acc)
{
    double l = 0;
    long right = 0, cnt = 0;
    for (int i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        float p = probs[2 * i + labels[i]];
        l += -log(p > 1e-7f ? p : 1e-7f);
        int pred = probs[2 * i + 1] > probs[2 * i] ? 1 : 0;
        right += pred == labels[i];
        cnt++;
    }
    *loss = cnt ? l / (double)cnt : 0;
    *acc = cnt ? (double)right / (double)cnt : 0;
}

static fm_status run_phase(const char *name, fm_tnet *t, const phase_data *d,
                           const fm_train_opts *o, int max_epochs, float lr, int phase_no,
                           phase_log *log, fm_err *err)
{
    fm_optim_opts oo = fm_optim_default_opts(FM_OPTIM_ADAM);
    oo.lr = lr;
    oo.weight_decay = o->weight_decay;
    size_t np = fm_tnet_num_params(t);
    fm_optim *opt = fm_optim_create(&oo, np, err);
    float *best = malloc(np * sizeof *best);
    int *order = malloc((size_t)d->n * sizeof *order);
    float *xb = malloc((size_t)o->batch * d->dim * sizeof *xb);
    int *yb = malloc((size_t)o->batch * sizeof *yb);
    float *pb = malloc((size_t)o->batch * 2 * sizeof *pb);
    float *vprobs = malloc((size_t)(d->n_val > 0 ? d->n_val : 1) * 2 * sizeof *vprobs);
    fm_status st = FM_OK;
    if (!opt || !best || !order || !xb || !yb || !pb || !vprobs) {
        st = opt ? fm_err_set(err, FM_ERR_NOMEM, "out of memory for phase %s", name) : FM_ERR_NOMEM;
        goto done;
    }
    memcpy(best, fm_tnet_params(t), np * sizeof *best);
    double best_loss = INFINITY;
    int since_best = 0;
    log->n_epochs = 0;
    log->best_epoch = 0;
    log->lr = lr;
    int usable = 0;
    for (int i = 0; i < d->n; i++)
        if (d->ok[i])
            order[usable++] = i;
    long steps_per_epoch = (usable + o->batch - 1) / o->batch;
    for (int epoch = 0; epoch < max_epochs && epoch < MAX_EPOCHS; epoch++) {
        double t0 = (fm_now_ms() / 1e3);
        char what[64];
        snprintf(what, sizeof what, "%s epoch %d/%d", name, epoch + 1, max_epochs);
        fm_progress prog;
        fm_progress_start(&prog, what, "steps", steps_per_epoch, o->quiet);
        /* shuffle (seeded by run seed, phase and epoch) */
        fm_rng r;
        fm_rng_init(&r, fm_aug_seed(o->seed, 1000u + (uint64_t)phase_no, (uint64_t)epoch));
        for (int i = usable - 1; i > 0; i--) {
            int k = (int)fm_rng_below(&r, (uint64_t)i + 1);
            int tmp = order[i];
            order[i] = order[k];
            order[k] = tmp;
        }
        int variant = epoch % d->variants;
        const float *xs = d->x + (size_t)variant * (size_t)d->n * d->dim;
        double loss_sum = 0;
        long right = 0, seen = 0;
        for (long s = 0; s < steps_per_epoch; s++) {
            int b0 = (int)(s * o->batch), nb = usable - b0 < o->batch ? usable - b0 : o->batch;
            for (int k = 0; k < nb; k++) {
                int i = order[b0 + k];
                memcpy(xb + (size_t)k * d->dim, xs + (size_t)i * d->dim, d->dim * sizeof *xb);
                yb[k] = d->labels[i];
            }
            float loss;
            uint64_t seed = fm_aug_seed(o->seed, 2000u + (uint64_t)phase_no,
                                        (uint64_t)epoch * 1000003u + (uint64_t)s);
            if ((st = fm_tnet_train_batch(t, xb, yb, nb, seed, &loss, pb, err)) != FM_OK)
                goto done;
            fm_optim_step(opt, fm_tnet_params(t), fm_tnet_grads(t), fm_tnet_trainable_mask(t));
            loss_sum += (double)loss * nb;
            for (int k = 0; k < nb; k++)
                right += (pb[2 * k + 1] > pb[2 * k] ? 1 : 0) == yb[k];
            seen += nb;
            fm_progress_update(&prog, s + 1);
        }
        fm_progress_end(&prog);
        int e = log->n_epochs++;
        log->train_loss[e] = seen ? loss_sum / (double)seen : 0;
        log->train_acc[e] = seen ? (double)right / (double)seen : 0;
        if ((st = fm_tnet_predict(t, d->val_x, d->n_val, vprobs, err)) != FM_OK)
            goto done;
        eval_probs(vprobs, d->val_labels, d->val_ok, d->n_val, &log->val_loss[e], &log->val_acc[e]);
        log->seconds[e] = (fm_now_ms() / 1e3) - t0;
        int improved = log->val_loss[e] < best_loss - 1e-5;
        printf("%s epoch %2d/%d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1f s%s\n",
               name, e + 1, max_epochs, log->train_loss[e], log->train_acc[e], log->val_loss[e],
               log->val_acc[e], log->seconds[e], improved ? " *" : "");
        fflush(stdout);
        if (improved) {
            best_loss = log->val_loss[e];
            log->best_epoch = e + 1;
            memcpy(best, fm_tnet_params(t), np * sizeof *best);
            since_best = 0;
        } else if (++since_best >= o->patience) {
            printf("%s: no better validation loss for %d epochs, stopping; best epoch %d\n", name,
                   o->patience, log->best_epoch);
            break;
        }
    }
    memcpy(fm_tnet_params(t), best, np * sizeof *best);
done:
    fm_optim_free(opt);
    free(best);
    free(order);
    free(xb);
    free(yb);
    free(pb);
    free(vprobs);
    return st;
}


static fm_status evaluate_set(const char *model_dir, const char *name, const fm_dataset *ds,
                              int mask_label, int threads, int by_width, set_result *r,
                              fm_err *err)
{
    r->name = name;
    r->by_width = by_width;
    return fm_eval_classifier(model_dir, ds, mask_label, threads, &r->e, NULL, err);
}

/* ---- the whole run ----------------------------------------------------------------------- */

fm_status fm_train_run(const fm_train_opts *o, fm_err *err)
{
    double t_start = (fm_now_ms() / 1e3);
    fm_status st = FM_OK;
    fm_dataset *cls = NULL, *cls_pool = NULL, *cls_test = NULL, *voc = NULL, *voc_train = NULL,
               *voc_test = NULL, *pool_all = NULL, *train = NULL, *val = NULL, *crops = NULL;
    fm_detector *det = NULL;
    fm_det_crops_stats cstats;
    memset(&cstats, 0, sizeof cstats);
    fm_net **nets = NULL;
    fm_pool *pool = NULL;
    fm_tnet *t1 = NULL, *t2 = NULL;
    float *cut_x = NULL, *pool_x = NULL, *val_cut = NULL, *val_pool = NULL;
    int *ok = NULL, *val_ok = NULL, *labels = NULL, *val_labels = NULL, *ok_v = NULL;
    static phase_log p1, p2;
    int nthreads = o->threads < 1 ? 1 : o->threads;
    int variants = o->augment ? (o->variants < 1 ? 1 : o->variants) : 1;
    char path[4096], proto[4096], model[4096], cut[256];
    const int phase2 =
        o->fine_tune_epochs > 0 && o->fine_tune_from && strcmp(o->fine_tune_from, "none") != 0;
    snprintf(cut, sizeof cut, "%s", o->cut);
    memset(&p1, 0, sizeof p1);
    memset(&p2, 0, sizeof p2);
    fm_voc_split split = {o->seed, o->voc_train_fraction, o->voc_skip_lo, o->voc_skip_hi};

    if (!o->data_dir)
        return fm_err_set(err, FM_ERR_ARG, "no --data folder given");
    if (o->input_size < 32 || o->input_size > 512)
        return fm_err_set(err, FM_ERR_ARG, "--input-size %d out of range (32..512)", o->input_size);
    if (o->crops_from) {
        /* the detector is loaded before anything is written, so a bad one leaves no trace */
        if (!o->voc_dir)
            return fm_err_set(err, FM_ERR_ARG, "--crops-from %s needs --voc: it cuts scene "
                                               "faces at the detector's boxes", o->crops_from);
        fm_detector_spec spec = {o->crops_from, o->model_dir, 0, 0};
        fm_net_opts dno = fm_net_default_opts();
        dno.threads = nthreads;
        fm_err derr = {0};
        if (!(det = fm_detector_create(&spec, &dno, &derr)))
            return fm_err_set(err, derr.status ? derr.status : FM_ERR_IO,
                              "--crops-from %s: %s", o->crops_from, derr.msg);
    }
    if (phase2 && (st = phase2_cut(o, cut, sizeof cut, err)) != FM_OK)
        goto done;
    if ((st = fm_train_mkdir(o->out_dir, err)) != FM_OK)
        goto done;

    /* datasets */
    if (!(cls = fm_dataset_from_folders(o->data_dir, err))) {
        st = err ? err->status : FM_ERR_IO;
        goto done;
    }
    if (cls->skipped)
        fprintf(stderr, "facemask train: %s: %d entries skipped (first: %s)\n", o->data_dir,
                cls->skipped, cls->first_skip);
    if (cls->n_classes != 2) {
        st = fm_err_set(err, FM_ERR_FORMAT,
                        "%s: %d class folders; the mask classifier needs exactly 2 "
                        "(with_mask, without_mask)",
                        o->data_dir, cls->n_classes);
        goto done;
    }
    int mask_label = -1;
    for (int c = 0; c < 2; c++)
        if (strstr(cls->classes[c], "without") == NULL && strstr(cls->classes[c], "no") != cls->classes[c])
            mask_label = mask_label < 0 ? c : mask_label;
    if (mask_label < 0)
        mask_label = 0;
    if ((st = fm_dataset_split(cls, o->test_fraction, o->seed, &cls_pool, &cls_test, err)) != FM_OK)
        goto done;
    if (o->voc_dir) {
        if (!(voc = fm_dataset_from_voc(o->voc_dir, o->voc_min_width, err))) {
            st = err ? err->status : FM_ERR_IO;
            goto done;
        }
        fm_dataset_drop_label(voc, FM_VOC_INCORRECT);
        if (!(voc_train = filter_voc(voc, &split, 1, err))) {
            st = err ? err->status : FM_ERR_NOMEM;
            goto done;
        }
        if (det) {
            if (!(crops = fm_det_crops(det, o->voc_dir, o->crops_conf, &split,
                                       o->voc_min_width, &cstats, o->quiet, err))) {
                st = err ? err->status : FM_ERR_IO;
                goto done;
            }
            printf("scene crops from %s's boxes (conf %.2f, IoU >= %.1f): %d of %d faces on %d "
                   "training-side images (%d with_mask, %d without_mask); of %d boxes, %d "
                   "matched no face, %d a mask_weared_incorrect face, %d a face under %d px; "
                   "%d unreadable image%s skipped\n",
                   o->crops_from, (double)o->crops_conf, FM_DET_CROPS_IOU, cstats.matched,
                   cstats.faces, cstats.images, cstats.labels[0], cstats.labels[1],
                   cstats.detections, cstats.unmatched, cstats.ignored, cstats.too_small,
                   o->voc_min_width, cstats.unreadable, cstats.unreadable == 1 ? "" : "s");
            fm_detector_free(det);
            det = NULL;
        }
        if (!(pool_all = concat(cls_pool, crops ? crops : voc_train, err))) {
            st = err ? err->status : FM_ERR_NOMEM;
            goto done;
        }
        fm_dataset_free(voc);
        if (!(voc = fm_dataset_from_voc(o->voc_dir, 16, err))) {
            st = err ? err->status : FM_ERR_IO;
            goto done;
        }
        fm_dataset_drop_label(voc, FM_VOC_INCORRECT);
        if (!(voc_test = filter_voc(voc, &split, 0, err))) {
            st = err ? err->status : FM_ERR_NOMEM;
            goto done;
        }
    } else {
        fm_dataset empty = {.n_classes = cls_pool->n_classes, .classes = cls_pool->classes};
        if (!(pool_all = concat(cls_pool, &empty, err))) {
            st = FM_ERR_NOMEM;
            goto done;
        }
    }
    if ((st = fm_dataset_split_by_image(pool_all, o->val_fraction, o->seed, &train, &val, err)) !=
        FM_OK)
        goto done;
    printf("data: %d training, %d validation, %d held-out folder images%s", train->n, val->n,
           cls_test->n, voc_train ? "" : "\n");
    if (voc_train)
        printf(", %d scene faces for training, %d held-out scene faces >= 16 px\n",
               crops ? crops->n : voc_train->n, voc_test->n);

    /* the model files */
    int S = o->input_size;
    snprintf(path, sizeof path, "%s/mobilenet_v2.prototxt", o->base_dir);
    snprintf(proto, sizeof proto, "%s/classifier.prototxt", o->out_dir);
    if ((st = write_prototxt(path, S, proto, err)) != FM_OK)
        goto done;
    snprintf(path, sizeof path, "%s/mobilenet_v2.caffemodel", o->base_dir);
    snprintf(model, sizeof model, "%s/classifier.caffemodel", o->out_dir);
    if ((st = write_initial_model(path, model, o->seed, err)) != FM_OK)
        goto done;
    fm_net_opts no = fm_net_default_opts();
    no.input_shape = fm_shape4(1, 3, S, S);
    nets = calloc((size_t)nthreads, sizeof *nets);
    pool = fm_pool_create(nthreads, err);
    if (!nets || !pool) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int t = 0; t < nthreads; t++)
        if (!(nets[t] = fm_caffe_load_net(proto, model, &no, err))) {
            st = err ? err->status : FM_ERR_IO;
            goto done;
        }
    fm_net *net = nets[0];
    int cut_layer = producer_of(net, cut), pool_layer = producer_of(net, "pool");
    if (cut_layer < 0 || pool_layer < 0 || cut_layer >= pool_layer) {
        st = fm_err_set(err, FM_ERR_ARG, "cut value '%s' is not produced before 'pool' in %s",
                        cut, proto);
        goto done;
    }
    int cut_v = fm_net_value_id(net, cut), pool_v = fm_net_value_id(net, "pool");
    size_t cut_n = fm_shape_count(&fm_net_value(net, cut_v)->shape);
    size_t pool_n = fm_shape_count(&fm_net_value(net, pool_v)->shape);

    /* cached features: variants of the training set, and the validation set */
    size_t need = (size_t)variants * (size_t)train->n * (cut_n + pool_n) * sizeof(float);
    printf("caching front features: %d variant%s x %d samples x %zu floats (%.0f MB)\n", variants,
           variants == 1 ? "" : "s", train->n, cut_n + pool_n, (double)need / 1e6);
    cut_x = malloc((size_t)variants * (size_t)train->n * cut_n * sizeof(float));
    pool_x = malloc((size_t)variants * (size_t)train->n * pool_n * sizeof(float));
    val_cut = malloc(((size_t)val->n + 1) * cut_n * sizeof(float));
    val_pool = malloc(((size_t)val->n + 1) * pool_n * sizeof(float));
    ok = calloc((size_t)train->n + 1, sizeof *ok);
    ok_v = calloc((size_t)train->n + 1, sizeof *ok_v);
    val_ok = calloc((size_t)val->n + 1, sizeof *val_ok);
    labels = calloc((size_t)train->n + 1, sizeof *labels);
    val_labels = calloc((size_t)val->n + 1, sizeof *val_labels);
    int done_counts[64] = {0};
    if (!cut_x || !pool_x || !val_cut || !val_pool || !ok || !ok_v || !val_ok || !labels ||
        !val_labels) {
        st = fm_err_set(err, FM_ERR_NOMEM, "out of memory for %.0f MB of cached features",
                        (double)need / 1e6);
        goto done;
    }
    fm_aug_params aug = fm_aug_defaults();
    aug.lowres_prob = o->lowres_prob;
    aug.lowres_min = o->lowres_min;
    aug.lowres_max = o->lowres_max;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int skipped = 0;
    double t_feat = (fm_now_ms() / 1e3);
    for (int v = 0; v < variants; v++) {
        memset(done_counts, 0, sizeof done_counts);
        char what[64];
        snprintf(what, sizeof what, "features, variant %d", v + 1);
        fm_progress prog;
        fm_progress_start(&prog, what, "images", train->n, o->quiet);
        extract_job j = {o, train, nets, cut_layer, pool_layer, cut_v, pool_v, cut_n, pool_n, v,
                         o->augment ? &aug : NULL,
                         cut_x + (size_t)v * (size_t)train->n * cut_n,
                         pool_x + (size_t)v * (size_t)train->n * pool_n,
                         v == 0 ? ok : ok_v, done_counts, 0, nthreads, &prog, &mu};
        fm_pool_run(pool, extract_worker, &j);
        fm_progress_end(&prog);
        skipped += j.skipped;
        if (v > 0)
            for (int i = 0; i < train->n; i++)
                ok[i] &= ok_v[i];
    }
    {
        memset(done_counts, 0, sizeof done_counts);
        fm_progress prog;
        fm_progress_start(&prog, "features, validation", "images", val->n, o->quiet);
        extract_job j = {o, val, nets, cut_layer, pool_layer, cut_v, pool_v, cut_n, pool_n, 0,
                         NULL, val_cut, val_pool, val_ok, done_counts, 0, nthreads, &prog, &mu};
        fm_pool_run(pool, extract_worker, &j);
        fm_progress_end(&prog);
        skipped += j.skipped;
    }
    double feat_s = (fm_now_ms() / 1e3) - t_feat;
    printf("features cached in %.1f s; %d unreadable sample%s skipped\n", feat_s, skipped,
           skipped == 1 ? "" : "s");
    for (int i = 0; i < train->n; i++)
        labels[i] = train->samples[i].label;
    for (int i = 0; i < val->n; i++)
        val_labels[i] = val->samples[i].label;

    /* class weights: inverse frequency, so the rarer no-mask class counts as much */
    int counts[2] = {0, 0};
    for (int i = 0; i < train->n; i++)
        if (ok[i])
            counts[labels[i]]++;
    if (counts[0] == 0 || counts[1] == 0) {
        st = fm_err_set(err, FM_ERR_FORMAT, "no usable training sample of class '%s'",
                        cls->classes[counts[0] == 0 ? 0 : 1]);
        goto done;
    }
    float cw[2] = {(float)(counts[0] + counts[1]) / (2.0f * (float)counts[0]),
                   (float)(counts[0] + counts[1]) / (2.0f * (float)counts[1])};

    /* phase 1: the head on pooled features */
    if (!(t1 = fm_tnet_create(net, "pool", o->batch, nthreads, err)) ||
        (st = fm_tnet_set_class_weights(t1, cw, 2, err)) != FM_OK) {
        st = err ? err->status : FM_ERR_ARG;
        goto done;
    }
    phase_data d1 = {pool_x, variants, labels, ok, train->n, val_pool, val_labels, val_ok, val->n,
                     pool_n};
    if ((st = run_phase("phase 1 (head)", t1, &d1, o, o->epochs, o->lr_head, 1, &p1, err)) != FM_OK)
        goto done;
    if ((st = fm_tnet_write_back(t1, net, err)) != FM_OK)
        goto done;

    /* phase 2: the top blocks and the head, on the cut features */
    if (phase2) {
        if (!(t2 = fm_tnet_create(net, cut, o->batch, nthreads, err)) ||
            (st = fm_tnet_freeze_before(t2, o->fine_tune_from, err)) != FM_OK ||
            (st = fm_tnet_set_class_weights(t2, cw, 2, err)) != FM_OK) {
            st = err ? err->status : FM_ERR_ARG;
            goto done;
        }
        phase_data d2 = {cut_x, variants, labels, ok, train->n, val_cut, val_labels, val_ok,
                         val->n, cut_n};
        if ((st = run_phase("phase 2 (fine-tune)", t2, &d2, o, o->fine_tune_epochs, o->lr_fine, 2,
                            &p2, err)) != FM_OK)
            goto done;
        if ((st = fm_tnet_write_back(t2, net, err)) != FM_OK)
            goto done;
    }
    if ((st = save_net(net, model, err)) != FM_OK)
        goto done;
    fm_classifier_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.input_size = S;
    cfg.margin = o->margin;
    cfg.square = o->square;
    cfg.flip_average = o->flip_average;
    cfg.mask_class = mask_label;
    snprintf(cfg.classes[0], sizeof cfg.classes[0], "%s", cls->classes[0]);
    snprintf(cfg.classes[1], sizeof cfg.classes[1], "%s", cls->classes[1]);
    snprintf(path, sizeof path, "%s/classifier.cfg", o->out_dir);
    if ((st = fm_classifier_cfg_write(path, &cfg, err)) != FM_OK)
        goto done;
    if (voc_train) {
        snprintf(path, sizeof path, "%s/trained_on.txt", o->out_dir);
        FILE *f = fopen(path, "w");
        if (!f) {
            st = fm_err_set(err, FM_ERR_IO, "%s: cannot write", path);
            goto done;
        }
        fprintf(f, "# scene images whose faces were used to train this classifier; "
                   "`facemask eval --voc` leaves them out\n");
        const char *last = "";
        for (int i = 0; i < voc_train->n; i++) {
            const char *b = base_name(voc_train->samples[i].path);
            if (strcmp(b, last) != 0)
                fprintf(f, "%s\n", b);
            last = b;
        }
        fclose(f);
    }
    double train_s = (fm_now_ms() / 1e3) - t_start;

    /* evaluation of the saved model, through the inference path */
    printf("evaluating the saved classifier:\n");
    set_result r_val, r_test, r_voc;
    int have_voc = voc_test != NULL;
    if ((st = evaluate_set(o->out_dir, "validation", val, mask_label, nthreads, 1, &r_val, err)) !=
            FM_OK ||
        (st = evaluate_set(o->out_dir, "held_out_folder_images", cls_test, mask_label, nthreads, 0,
                           &r_test, err)) != FM_OK ||
        (have_voc && (st = evaluate_set(o->out_dir, "held_out_scene_faces_16px", voc_test,
                                        mask_label, nthreads, 1, &r_voc, err)) != FM_OK))
        goto done;
    fm_train_print_set(&r_val);
    fm_train_print_set(&r_test);
    if (have_voc)
        fm_train_print_set(&r_voc);
    double wall = (fm_now_ms() / 1e3) - t_start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mb = (double)ru.ru_maxrss / 1024.0;
    printf("training took %.1f s (%.1f min) of %.1f s total; peak memory %.0f MB\n", train_s,
           train_s / 60, wall, peak_mb);

    fm_train_report rep = {o, S, nthreads, variants, o->augment ? &aug : NULL, train, val,
                           cls_test, voc_test, crops ? &cstats : NULL, skipped, {cw[0], cw[1]},
                           &p1, &p2, t2 ? o->fine_tune_from : "none", &r_val, &r_test,
                           have_voc ? &r_voc : NULL, feat_s, train_s, wall, peak_mb};
    if ((st = fm_train_write_report(&rep, err)) != FM_OK)
        goto done;
    printf("wrote %s/{classifier.prototxt,classifier.caffemodel,classifier.cfg,report.json,"
           "report.svg}\n",
           o->out_dir);

done:
    fm_tnet_free(t1);
    fm_tnet_free(t2);
    for (int t = 0; nets && t < nthreads; t++)
        fm_net_free(nets[t]);
    free(nets);
    fm_pool_free(pool);
    free(cut_x);
    free(pool_x);
    free(val_cut);
    free(val_pool);
    free(ok);
    free(ok_v);
    free(val_ok);
    free(labels);
    free(val_labels);
    fm_dataset_free(cls);
    fm_dataset_free(cls_pool);
    fm_dataset_free(cls_test);
    fm_dataset_free(voc);
    fm_dataset_free(voc_train);
    fm_dataset_free(voc_test);
    fm_dataset_free(pool_all);
    fm_dataset_free(train);
    fm_dataset_free(val);
    fm_dataset_free(crops);
    fm_detector_free(det);
    return st;
}
