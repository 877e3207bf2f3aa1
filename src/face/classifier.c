#include "caffe/caffe.h"
#include "face/classifier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/crop.h"

struct fm_classifier {
    fm_classifier_cfg cfg;
    fm_net *net;
    fm_image *crop; /* S x S */
    float *mirror;  /* flip_average: the input mirrored, 3 x S x S (the forward may reuse the
                     * input's memory, so it is made before the first pass) */
};

const char *fm_classifier_dir(const char *dir, const char *models_dir, char *buf, size_t size)
{
    if (dir)
        snprintf(buf, size, "%s", dir);
    else
        snprintf(buf, size, "%s/mask", models_dir);
    return buf;
}

fm_status fm_classifier_cfg_read(const char *path, fm_classifier_cfg *cfg, fm_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    memset(cfg, 0, sizeof *cfg);
    cfg->mask_class = -1;
    char line[256];
    int lineno = 0, have_classes = 0;
    fm_status st = FM_OK;
    while (st == FM_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char key[64], a[32], b[32];
        int n = sscanf(line, "%63s %31s %31s", key, a, b);
        if (n <= 0)
            continue;
        if (strcmp(key, "input_size") == 0 && n == 2) {
            cfg->input_size = atoi(a);
        } else if (strcmp(key, "crop_margin") == 0 && n == 2) {
            cfg->margin = strtof(a, NULL);
        } else if (strcmp(key, "crop_square") == 0 && n == 2) {
            cfg->square = atoi(a) != 0;
        } else if (strcmp(key, "flip_average") == 0 && n == 2) {
            cfg->flip_average = atoi(a) != 0;
        } else if (strcmp(key, "classes") == 0 && n == 3) {
            snprintf(cfg->classes[0], sizeof cfg->classes[0], "%s", a);
            snprintf(cfg->classes[1], sizeof cfg->classes[1], "%s", b);
            have_classes = 1;
        } else if (strcmp(key, "mask_class") == 0 && n == 2) {
            cfg->mask_class = atoi(a);
        } else {
            st = fm_err_set(err, FM_ERR_PARSE, "%s:%d: unknown or malformed setting '%s'", path,
                            lineno, key);
        }
    }
    fclose(f);
    if (st != FM_OK)
        return st;
    if (cfg->input_size < 16 || cfg->input_size > 1024)
        return fm_err_set(err, FM_ERR_FORMAT, "%s: input_size %d out of range (16..1024)", path,
                          cfg->input_size);
    if (!(cfg->margin >= 0 && cfg->margin <= FM_CROP_MAX_MARGIN))
        return fm_err_set(err, FM_ERR_FORMAT, "%s: crop_margin out of range (0..4)", path);
    if (!have_classes || cfg->mask_class < 0 || cfg->mask_class > 1)
        return fm_err_set(err, FM_ERR_FORMAT,
                          "%s: needs 'classes NAME NAME' and 'mask_class 0|1'", path);
    return FM_OK;
}

fm_status fm_classifier_cfg_write(const char *path, const fm_classifier_cfg *cfg, fm_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fm_err_set(err, FM_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f,
            "# facemask mask classifier: input RGB SxS, (pixel - 128) / 128; softmax over classes\n"
            "input_size %d\ncrop_margin %.3f\ncrop_square %d\nclasses %s %s\nmask_class %d\n"
            "flip_average %d\n",
            cfg->input_size, (double)cfg->margin, cfg->square, cfg->classes[0], cfg->classes[1],
            cfg->mask_class, cfg->flip_average);
    if (fclose(f) != 0)
        return fm_err_set(err, FM_ERR_IO, "%s: write failed", path);
    return FM_OK;
}

fm_classifier *fm_classifier_load(const char *dir, const fm_net_opts *opts, fm_err *err)
{
    char cfgp[4096], proto[4096], model[4096];
    snprintf(cfgp, sizeof cfgp, "%s/classifier.cfg", dir);
    snprintf(proto, sizeof proto, "%s/classifier.prototxt", dir);
    snprintf(model, sizeof model, "%s/classifier.caffemodel", dir);
    fm_classifier *c = calloc(1, sizeof *c);
    if (!c) {
        fm_err_set(err, FM_ERR_NOMEM, "out of memory loading a classifier");
        return NULL;
    }
    if (fm_classifier_cfg_read(cfgp, &c->cfg, err) != FM_OK) {
        free(c);
        return NULL;
    }
    fm_net_opts o = opts ? *opts : fm_net_default_opts();
    int S = c->cfg.input_size;
    o.input_shape = fm_shape4(1, 3, S, S);
    o.release_weights = 1; /* inference only: the packed copies are enough */
    c->net = fm_caffe_load_net(proto, model, &o, err);
    if (!c->net) {
        free(c);
        return NULL;
    }
    const fm_tensor *out = fm_net_num_outputs(c->net) == 1 ? fm_net_output(c->net, 0) : NULL;
    if (!out || fm_shape_count(&out->shape) != 2) {
        char buf[64] = "none";
        if (out)
            fm_shape_str(&out->shape, buf, sizeof buf);
        fm_err_set(err, FM_ERR_FORMAT,
                   "%s: the classifier's output has shape %s, expected 2 classes (1x2)", proto, buf);
        fm_classifier_free(c);
        return NULL;
    }
    c->crop = fm_image_new(S, S, err);
    if (!c->crop) {
        fm_classifier_free(c);
        return NULL;
    }
    const size_t plane = (size_t)S * (size_t)S;
    if (c->cfg.flip_average && !(c->mirror = malloc(3 * plane * sizeof *c->mirror))) {
        fm_err_set(err, FM_ERR_NOMEM, "%s: no memory for the mirrored input", cfgp);
        fm_classifier_free(c);
        return NULL;
    }
    return c;
}

void fm_classifier_free(fm_classifier *c)
{
    if (!c)
        return;
    fm_net_free(c->net);
    fm_image_free(c->crop);
    free(c->mirror);
    free(c);
}

const fm_classifier_cfg *fm_classifier_config(const fm_classifier *c)
{
    return &c->cfg;
}

fm_net *fm_classifier_net(fm_classifier *c)
{
    return c->net;
}

float fm_classifier_run(fm_classifier *c)
{
    const size_t S = (size_t)c->cfg.input_size;
    float *in = fm_net_input(c->net, 0)->data;
    if (c->mirror)
        for (size_t row = 0; row < 3 * S; row++) /* each channel's rows, right to left */
            for (size_t x = 0; x < S; x++)
                c->mirror[row * S + x] = in[row * S + S - 1 - x];
    fm_net_forward(c->net, NULL);
    float p = fm_net_output(c->net, 0)->data[c->cfg.mask_class];
    if (!c->mirror)
        return p;
    memcpy(fm_net_input(c->net, 0)->data, c->mirror, 3 * S * S * sizeof *c->mirror);
    fm_net_forward(c->net, NULL);
    return 0.5f * (p + fm_net_output(c->net, 0)->data[c->cfg.mask_class]);
}

float fm_classifier_crop(fm_classifier *c, const fm_image *crop)
{
    int S = c->cfg.input_size;
    if (crop->w == S && crop->h == S) {
        fm_crop_to_input(crop, fm_net_input(c->net, 0)->data);
    } else {
        fm_resize_bilinear(crop, c->crop);
        fm_crop_to_input(c->crop, fm_net_input(c->net, 0)->data);
    }
    return fm_classifier_run(c);
}

fm_status fm_classifier_face(fm_classifier *c, const fm_image *img, const fm_face *face,
                             float *mask_prob, fm_err *err)
{
    fm_box box = {face->x1, face->y1, face->x2, face->y2};
    fm_status st = fm_crop_face(img, box, c->cfg.margin, c->cfg.square, c->cfg.input_size,
                                c->crop, err);
    if (st != FM_OK)
        return st;
    fm_crop_to_input(c->crop, fm_net_input(c->net, 0)->data);
    *mask_prob = fm_classifier_run(c);
    return FM_OK;
}

const char *fm_mask_label(float mask_prob)
{
    return mask_prob >= 0.5f ? "mask" : "no_mask";
}

float fm_mask_label_conf(float mask_prob)
{
    return mask_prob >= 0.5f ? mask_prob : 1.0f - mask_prob;
}

char *fm_mask_label_text(float mask_prob, char *buf, size_t size)
{
    snprintf(buf, size, "%s %.2f", fm_mask_label(mask_prob), (double)fm_mask_label_conf(mask_prob));
    return buf;
}
