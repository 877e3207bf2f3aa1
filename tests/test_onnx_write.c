/* Tests of the ONNX writer (src/onnx/write.h):
 *   - an unchanged net is written back byte-identical (both shared YuNet files);
 *   - round trip: YuNet-n with every convolution weight and bias perturbed (seeded), written
 *     and read back by facemask, gives the in-memory perturbed net's 12 outputs bit for bit on
 *     a demo photo (and those differ from the stock model's, so the new weights are used);
 *   - OpenCV 4.6 (cv2.dnn.readNet, through tools/opencv_onnx_forward.py with Debian's
 *     /usr/bin/python3) loads the written file and gives facemask's outputs within 1e-4,
 *     while differing from the stock model's by far more; a missing python3-opencv fails;
 *   - float_data initializers (a hand-built Conv model) become raw_data with the new values;
 *   - safe output: an existing file is kept unless overwrite is asked for, the source itself
 *     is refused, no temporary file is left behind after a failure;
 *   - errors: unknown, duplicate, wrong-count, non-finite updates; a net from another model,
 *     a fused (fuse_pw_dw) or release_weights net; a truncated source.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/pbwire.h"
#include "face/yunet.h"
#include "io/image.h"
#include "onnx/onnx.h"
#include "onnx/write.h"
#include "test.h"

#define NOUT 12
static const char *const out_names[NOUT] = {"cls_8",  "cls_16",  "cls_32",  "obj_8",
                                            "obj_16", "obj_32",  "bbox_8",  "bbox_16",
                                            "bbox_32", "kps_8",  "kps_16",  "kps_32"};
#define OPENCV_TOL 1e-4

static void model_path(char *buf, size_t n, const char *file)
{
    snprintf(buf, n, "%s/models/yunet/%s", fm_test_shared(), file);
}

/* ---- the demo input ------------------------------------------------------------------ */

typedef struct {
    fm_yunet_geom g;
    float *x; /* 3 * pad_h * pad_w */
    size_t nx;
} demo_input;

static int demo_load(demo_input *d)
{
    char path[512];
    snprintf(path, sizeof path, "%s/demo/aizoo_demo2.jpg", fm_test_shared());
    fm_err err = {0};
    fm_image *img = fm_image_load(path, (size_t)1 << 26, &err);
    FM_CHECK_MSG(img != NULL, "%s", err.msg);
    if (!img)
        return 0;
    FM_CHECK(fm_yunet_geometry(img->w, img->h, 640, &d->g, &err) == FM_OK);
    fm_image *tmp = fm_image_new(d->g.new_w, d->g.new_h, &err);
    d->nx = (size_t)3 * d->g.pad_h * d->g.pad_w;
    d->x = malloc(d->nx * sizeof(float));
    fm_yunet_preprocess(img, &d->g, tmp, d->x);
    fm_image_free(tmp);
    fm_image_free(img);
    return 1;
}

static fm_net *load_at(const char *path, const demo_input *d, int fuse, int release,
                       fm_err *err)
{
    fm_net_opts o = fm_net_default_opts();
    o.input_shape = fm_shape4(1, 3, d->g.pad_h, d->g.pad_w);
    o.fuse_pw_dw = fuse;
    o.release_weights = release;
    return fm_onnx_load_net(path, &o, err);
}

/* Forwards d through net; out gets the 12 outputs one after another (malloc'd). */
static float *forward_all(fm_net *net, const demo_input *d, size_t *count, size_t sizes[NOUT])
{
    memcpy(fm_net_input(net, 0)->data, d->x, d->nx * sizeof(float));
    fm_err err = {0};
    FM_CHECK_MSG(fm_net_forward(net, &err) == FM_OK, "%s", err.msg);
    size_t total = 0;
    for (int k = 0; k < NOUT; k++) {
        const fm_tensor *t = fm_net_blob(net, out_names[k]);
        FM_CHECK_MSG(t != NULL, "no output %s", out_names[k]);
        sizes[k] = t ? fm_shape_count(&t->shape) : 0;
        total += sizes[k];
    }
    float *y = malloc(total * sizeof(float));
    size_t at = 0;
    for (int k = 0; k < NOUT; k++) {
        const fm_tensor *t = fm_net_blob(net, out_names[k]);
        if (t)
            memcpy(y + at, t->data, sizes[k] * sizeof(float));
        at += sizes[k];
    }
    *count = total;
    return y;
}

/* Multiplies every convolution weight by 1 + 0.05 u and adds 0.02 u' to every bias
 * (u, u' uniform in [-1, 1], seeded). */
static void perturb(fm_net *net, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < fm_net_num_layers(net); i++) {
        fm_layer_info info;
        fm_net_layer_info(net, i, &info);
        if (info.kind != FM_LAYER_CONV)
            continue;
        for (size_t k = 0; k < info.nw; k++)
            info.w[k] *= 1.0f + 0.05f * fm_test_randf(&s, -1.0f, 1.0f);
        for (size_t k = 0; k < info.nb; k++)
            info.b[k] += 0.02f * fm_test_randf(&s, -1.0f, 1.0f);
    }
    fm_err err = {0};
    FM_CHECK_MSG(fm_net_weights_changed(net, &err) == FM_OK, "%s", err.msg);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The perturbed YuNet-n, written once to the suite's folder and shared by the tests. */
typedef struct {
    int ready, ok;
    demo_input d;
    char path[600];
    float *stock, *mine; /* outputs of the stock and of the perturbed net */
    size_t count, sizes[NOUT];
} fixture;

static fixture fx;

static const fixture *get_fixture(void)
{
    if (fx.ready)
        return fx.ok ? &fx : NULL;
    fx.ready = 1;
    char src[512];
    model_path(src, sizeof src, "yunet_n_640_640.onnx");
    if (!demo_load(&fx.d))
        return NULL;
    fm_err err = {0};
    fm_net *net = load_at(src, &fx.d, 0, 0, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net)
        return NULL;
    size_t n2;
    fx.stock = forward_all(net, &fx.d, &fx.count, fx.sizes);
    perturb(net, 20240601);
    fx.mine = forward_all(net, &fx.d, &n2, fx.sizes);
    snprintf(fx.path, sizeof fx.path, "%s/yunet_n_perturbed.onnx", fm_test_tmpdir());
    fm_status st = fm_onnx_save_net(src, net, fx.path, 0, &err);
    FM_CHECK_MSG(st == FM_OK, "%s", err.msg);
    fm_net_free(net);
    fx.ok = st == FM_OK && n2 == fx.count && !fm_test_failed_now();
    return fx.ok ? &fx : NULL;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void check_identical(const char *file)
{
    char src[512], out[600];
    model_path(src, sizeof src, file);
    snprintf(out, sizeof out, "%s/%s", fm_test_tmpdir(), file);
    fm_err err = {0};
    fm_net *net = fm_onnx_load_net(src, NULL, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net)
        return;
    FM_CHECK_MSG(fm_onnx_save_net(src, net, out, 0, &err) == FM_OK, "%s", err.msg);
    fm_net_free(net);
    size_t na, nb;
    char *a = fm_test_read_file(src, &na), *b = fm_test_read_file(out, &nb);
    FM_CHECK(a && b);
    FM_CHECK_INT(nb, na);
    FM_CHECK_MSG(a && b && na == nb && memcmp(a, b, na) == 0, "%s: written copy differs", file);
    free(a);
    free(b);
}

static void test_write_unchanged_is_identical(void)
{
    check_identical("yunet_n_640_640.onnx");
    check_identical("face_detection_yunet_2023mar.onnx");
}

static void test_write_roundtrip_bit_exact(void)
{
    const fixture *f = get_fixture();
    if (!f)
        return;
    /* the perturbation shows in every head */
    size_t at = 0;
    for (int k = 0; k < NOUT; k++) {
        double d = max_abs_diff(f->stock + at, f->mine + at, f->sizes[k]);
        FM_CHECK_MSG(d > 1e-3, "%s: perturbed outputs differ from stock by only %g",
                     out_names[k], d);
        at += f->sizes[k];
    }
    fm_err err = {0};
    fm_net *net = load_at(f->path, &f->d, 0, 0, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net)
        return;
    size_t n, sizes[NOUT];
    float *again = forward_all(net, &f->d, &n, sizes);
    FM_CHECK_INT(n, f->count);
    FM_CHECK_MSG(n == f->count && memcmp(again, f->mine, n * sizeof(float)) == 0,
                 "outputs of the written model differ from the in-memory net (max %g)",
                 n == f->count ? max_abs_diff(again, f->mine, n) : -1.0);
    free(again);
    fm_net_free(net);
}

static void test_write_opencv_reads_it(void)
{
    const fixture *f = get_fixture();
    if (!f)
        return;
    const char *dir = fm_test_tmpdir();
    char xin[600], yout[600], cmd[3000];
    snprintf(xin, sizeof xin, "%s/input.f32", dir);
    snprintf(yout, sizeof yout, "%s/opencv.f32", dir);
    fm_err err = {0};
    FM_CHECK_MSG(fm_write_file(xin, f->d.x, f->d.nx * sizeof(float), 0, &err) == FM_OK, "%s",
                 err.msg);
    int used = snprintf(cmd, sizeof cmd,
                        "/usr/bin/python3 tools/opencv_onnx_forward.py --model %s --input %s "
                        "--shape 1,3,%d,%d --out %s --outputs ",
                        f->path, xin, f->d.g.pad_h, f->d.g.pad_w, yout);
    for (int k = 0; k < NOUT; k++)
        used += snprintf(cmd + used, sizeof cmd - (size_t)used, "%s%s", k ? "," : "",
                         out_names[k]);
    snprintf(cmd + used, sizeof cmd - (size_t)used, " 2>&1");
    char *text = NULL;
    int rc = fm_test_cmd(cmd, &text);
    FM_CHECK_MSG(rc == 0,
                 "OpenCV could not run the written model (exit %d): %s -- this test needs "
                 "Debian's python3-opencv for /usr/bin/python3 (tools/install-deps.sh)",
                 rc, text ? text : "");
    free(text);
    if (rc != 0)
        return;
    size_t len = 0;
    char *raw = fm_test_read_file(yout, &len);
    FM_CHECK_INT(len, f->count * sizeof(float));
    if (!raw || len != f->count * sizeof(float)) {
        free(raw);
        return;
    }
    float *cv = malloc(len);
    memcpy(cv, raw, len);
    free(raw);
    size_t at = 0;
    double worst = 0, worst_stock = 0;
    for (int k = 0; k < NOUT; k++) {
        double d = max_abs_diff(cv + at, f->mine + at, f->sizes[k]);
        double from_stock = max_abs_diff(cv + at, f->stock + at, f->sizes[k]);
        FM_CHECK_MSG(d <= OPENCV_TOL, "%s: OpenCV and facemask differ by %g (tolerance %g)",
                     out_names[k], d, OPENCV_TOL);
        FM_CHECK_MSG(from_stock > 10 * OPENCV_TOL,
                     "%s: OpenCV's outputs are within %g of the stock model's: did it use the "
                     "new weights?",
                     out_names[k], from_stock);
        worst = fmax(worst, d);
        worst_stock = fmax(worst_stock, from_stock);
        at += f->sizes[k];
    }
    FM_CHECK_MSG(worst_stock > 0.1, "OpenCV's outputs are within %g of the stock model's",
                 worst_stock);
    printf("  OpenCV 4.6 vs facemask on the written YuNet-n (%dx%d input): max |diff| %.3g (%.3g from the stock model's)\n",
           f->d.g.pad_w, f->d.g.pad_h, worst, worst_stock);
    free(cv);
}

static void test_write_opencv_missing_fails(void)
{
    /* The tool's own report when cv2 cannot be imported: exit 2 and a message naming the
     * package (run with an interpreter path that hides Debian's dist-packages). */
    char *text = NULL;
    int rc = fm_test_cmd("/usr/bin/python3 -S -c 'import sys; sys.path = [p for p in sys.path "
                         "if \"dist-packages\" not in p]; sys.argv = [\"x\", \"--model\", \"m\", "
                         "\"--input\", \"i\", \"--shape\", \"1\", \"--outputs\", \"o\", \"--out\", "
                         "\"y\"]; exec(open(\"tools/opencv_onnx_forward.py\").read())' 2>&1",
                         &text);
    FM_CHECK_INT(rc, 2);
    FM_CHECK_STR_CONTAINS(text, "python3-opencv");
    free(text);
}

/* ---- a hand-built model with float_data weights ------------------------------------------ */

static void put_str(fm_pb_writer *w, uint32_t field, const char *s)
{
    fm_pb_put_bytes_field(w, field, s, strlen(s));
}

static void put_msg(fm_pb_writer *w, uint32_t field, fm_pb_writer *sub)
{
    fm_pb_put_bytes_field(w, field, sub->data, sub->len);
    fm_pb_writer_free(sub);
}

static void put_value(fm_pb_writer *g, uint32_t field, const char *name, const int64_t *dims)
{
    fm_pb_writer v, t, tt, sh;
    fm_pb_writer_init(&v);
    fm_pb_writer_init(&t);
    fm_pb_writer_init(&tt);
    fm_pb_writer_init(&sh);
    for (int k = 0; k < 4; k++) {
        fm_pb_writer d;
        fm_pb_writer_init(&d);
        fm_pb_put_uint_field(&d, 1, (uint64_t)dims[k]);
        put_msg(&sh, 1, &d);
    }
    fm_pb_put_uint_field(&tt, 1, FM_ONNX_DT_FLOAT);
    put_msg(&tt, 2, &sh);
    put_msg(&t, 1, &tt);
    put_str(&v, 1, name);
    put_msg(&v, 2, &t);
    put_msg(g, field, &v);
}

/* Conv 2 -> 3 channels, 1x1, on a 1x2x2x2 input. W (3x2x1x1) as packed float_data, B (3)
 * as unpacked float_data (one field per value). */
static fm_pb_writer float_data_model(void)
{
    static const float W[6] = {1, 2, 3, 4, 5, 6}, B[3] = {0.5f, -1, 2};
    fm_pb_writer g, n, w, b, m, op;
    fm_pb_writer_init(&g);
    fm_pb_writer_init(&n);
    fm_pb_writer_init(&w);
    fm_pb_writer_init(&b);
    fm_pb_writer_init(&m);
    fm_pb_writer_init(&op);
    put_str(&n, 1, "x");
    put_str(&n, 1, "W");
    put_str(&n, 1, "B");
    put_str(&n, 2, "y");
    put_str(&n, 3, "conv");
    put_str(&n, 4, "Conv");
    put_msg(&g, 1, &n);
    put_str(&g, 2, "tiny");
    static const int64_t wd[4] = {3, 2, 1, 1};
    fm_pb_put_packed_int64(&w, 1, wd, 4);
    fm_pb_put_uint_field(&w, 2, FM_ONNX_DT_FLOAT);
    fm_pb_put_packed_floats(&w, 4, W, 6);
    put_str(&w, 8, "W");
    put_msg(&g, 5, &w);
    fm_pb_put_uint_field(&b, 1, 3);
    fm_pb_put_uint_field(&b, 2, FM_ONNX_DT_FLOAT);
    for (int k = 0; k < 3; k++) {
        uint32_t u;
        memcpy(&u, &B[k], 4);
        fm_pb_put_tag(&b, 4, FM_PB_I32);
        fm_pb_put_fixed32(&b, u);
    }
    put_str(&b, 8, "B");
    put_msg(&g, 5, &b);
    static const int64_t xd[4] = {1, 2, 2, 2}, yd[4] = {1, 3, 2, 2};
    put_value(&g, 11, "x", xd);
    put_value(&g, 12, "y", yd);
    fm_pb_put_uint_field(&m, 1, 7);
    put_msg(&m, 7, &g);
    put_str(&op, 1, "");
    fm_pb_put_uint_field(&op, 2, 13);
    put_msg(&m, 8, &op);
    return m;
}

static void test_write_float_data_model(void)
{
    fm_pb_writer m = float_data_model();
    FM_CHECK(m.status == FM_OK);
    static const float W2[6] = {-1, 0.25f, 7, 8, 9, 10}, B2[3] = {1, 2, 3};
    fm_onnx_update u[2] = {{"B", B2, 3}, {"W", W2, 6}};
    uint8_t *out = NULL;
    size_t len = 0;
    fm_err err = {0};
    FM_CHECK_MSG(fm_onnx_rewrite(m.data, m.len, "tiny", u, 2, &out, &len, &err) == FM_OK, "%s",
                 err.msg);
    fm_onnx_model *p = out ? fm_onnx_parse(out, len, "tiny", &err) : NULL;
    FM_CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        const fm_onnx_tensor *w = fm_onnx_initializer(p, "W"), *b = fm_onnx_initializer(p, "B");
        FM_CHECK(w && w->count == 6 && w->ndims == 4 && w->dims[0] == 3 && w->dims[1] == 2);
        FM_CHECK(b && b->count == 3 && b->ndims == 1);
        FM_CHECK(w && memcmp(w->f, W2, sizeof W2) == 0);
        FM_CHECK(b && memcmp(b->f, B2, sizeof B2) == 0);
        FM_CHECK_INT(p->graph.nnodes, 1);
        /* and the model runs with them: y[o] = sum_c W2[o][c] x[c] + B2[o] */
        fm_net *net = fm_onnx_build_net(p, "tiny", NULL, &err);
        FM_CHECK_MSG(net != NULL, "%s", err.msg);
        if (net) {
            float *x = fm_net_input(net, 0)->data;
            for (int i = 0; i < 8; i++)
                x[i] = (float)(i + 1);
            FM_CHECK(fm_net_forward(net, &err) == FM_OK);
            const float *y = fm_net_output(net, 0)->data;
            for (int o = 0; o < 3; o++)
                for (int px = 0; px < 4; px++)
                    FM_CHECK_NEAR(y[o * 4 + px],
                                  W2[o * 2] * x[px] + W2[o * 2 + 1] * x[4 + px] + B2[o], 1e-5);
            fm_net_free(net);
        }
        fm_onnx_free(p);
    }
    /* no updates: the same bytes */
    free(out);
    out = NULL;
    FM_CHECK(fm_onnx_rewrite(m.data, m.len, "tiny", NULL, 0, &out, &len, &err) == FM_OK);
    FM_CHECK(out && len == m.len && memcmp(out, m.data, len) == 0);
    free(out);
    fm_pb_writer_free(&m);
}

static void expect_rewrite_error(const fm_pb_writer *m, const fm_onnx_update *u, int nu,
                                 const char *needle, int line)
{
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    fm_err err = {0};
    fm_status st = fm_onnx_rewrite(m->data, m->len, "tiny.onnx", u, nu, &out, &len, &err);
    if (st == FM_OK || out != NULL || len != 0 || !strstr(err.msg, needle))
        fm_test_fail(__FILE__, line, "rewrite: status %d, message \"%s\", expected \"%s\"",
                     (int)st, err.msg, needle);
    if (st == FM_OK)
        free(out);
}

static void test_write_update_errors(void)
{
    fm_pb_writer m = float_data_model();
    static const float v[6] = {1, 2, 3, 4, 5, 6};
    float nan6[6] = {1, 2, 3, 4, 5, 6};
    nan6[4] = NAN;
    fm_onnx_update unknown = {"Q", v, 6}, count = {"W", v, 5}, twice[2] = {{"W", v, 6}, {"W", v, 6}};
    fm_onnx_update nan = {"W", nan6, 6}, noname = {NULL, v, 6};
    expect_rewrite_error(&m, &unknown, 1, "tiny.onnx: no initializer named 'Q'", __LINE__);
    expect_rewrite_error(&m, &count, 1, "initializer 'W' holds 6 values, the update 5", __LINE__);
    expect_rewrite_error(&m, twice, 2, "initializer 'W' is given new values twice", __LINE__);
    expect_rewrite_error(&m, &nan, 1, "new value 4 of initializer 'W' is not finite", __LINE__);
    expect_rewrite_error(&m, &noname, 1, "update 0 has no name", __LINE__);
    /* a truncated source: the reader's message */
    fm_pb_writer cut = m;
    cut.len = m.len - 3;
    expect_rewrite_error(&cut, NULL, 0, "tiny.onnx: ", __LINE__);
    expect_rewrite_error(&cut, NULL, 0, "truncated", __LINE__);
    fm_pb_writer_free(&m);
}

/* Names in dir other than the expected ones: none may be a leftover temporary file. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void test_write_safe_output(void)
{
    char src[512], dir[600], out[700];
    model_path(src, sizeof src, "yunet_n_640_640.onnx");
    snprintf(dir, sizeof dir, "%s/safe", fm_test_tmpdir());
    FM_CHECK(mkdir(dir, 0755) == 0);
    snprintf(out, sizeof out, "%s/model.onnx", dir);
    fm_err err = {0};
    fm_net *net = fm_onnx_load_net(src, NULL, &err);
    FM_CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net)
        return;
    fm_test_write_text(out, "precious");
    FM_CHECK(fm_onnx_save_net(src, net, out, 0, &err) == FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "model.onnx: already exists (not overwritten)");
    char *kept = fm_test_read_file(out, NULL);
    FM_CHECK(kept && strcmp(kept, "precious") == 0);
    free(kept);
    FM_CHECK_INT(count_entries(dir), 1);
    /* a dangling symbolic link is a file too */
    char link_path[700];
    snprintf(link_path, sizeof link_path, "%s/link.onnx", dir);
    FM_CHECK(symlink("nowhere", link_path) == 0);
    FM_CHECK(fm_onnx_save_net(src, net, link_path, 0, &err) == FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "already exists");
    FM_CHECK_INT(count_entries(dir), 2);
    /* overwrite asked for: replaced */
    FM_CHECK_MSG(fm_onnx_save_net(src, net, out, 1, &err) == FM_OK, "%s", err.msg);
    size_t na, nb;
    char *a = fm_test_read_file(src, &na), *b = fm_test_read_file(out, &nb);
    FM_CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
    FM_CHECK_INT(count_entries(dir), 2);
    /* the source itself, even with overwrite, and through another path */
    char copy[700], alias[700];
    snprintf(copy, sizeof copy, "%s/src.onnx", dir);
    snprintf(alias, sizeof alias, "%s/alias.onnx", dir);
    FM_CHECK_MSG(fm_onnx_save_net(src, net, copy, 0, &err) == FM_OK, "%s", err.msg);
    FM_CHECK(symlink("src.onnx", alias) == 0);
    FM_CHECK(fm_onnx_save_net(copy, net, alias, 1, &err) == FM_ERR_ARG);
    FM_CHECK_STR_CONTAINS(err.msg, "is the source model");
    /* a folder that does not exist: one line, nothing left */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/dir/m.onnx", dir);
    FM_CHECK(fm_onnx_save_net(src, net, missing, 0, &err) == FM_ERR_IO);
    FM_CHECK_STR_CONTAINS(err.msg, "cannot create the temporary file");
    FM_CHECK_INT(count_entries(dir), 4);
    fm_net_free(net);
}

static void test_write_net_errors(void)
{
    char n_path[512], s_path[512], out[600];
    model_path(n_path, sizeof n_path, "yunet_n_640_640.onnx");
    model_path(s_path, sizeof s_path, "face_detection_yunet_2023mar.onnx");
    snprintf(out, sizeof out, "%s/never.onnx", fm_test_tmpdir());
    fm_err err = {0};
    /* a net from the other model */
    fm_net *s = fm_onnx_load_net(s_path, NULL, &err);
    FM_CHECK_MSG(s != NULL, "%s", err.msg);
    if (s) {
        FM_CHECK(fm_onnx_save_net(n_path, s, out, 0, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "yunet_n_640_640.onnx: ");
        FM_CHECK_STR_CONTAINS(err.msg, "the net was not built from this model");
        fm_net_free(s);
    }
    /* fused 1x1 + depthwise layers, and released weights */
    demo_input d = {{0}, NULL, 0};
    d.g.pad_w = d.g.pad_h = 64;
    fm_net *fused = load_at(n_path, &d, 1, 0, &err);
    FM_CHECK_MSG(fused != NULL, "%s", err.msg);
    if (fused) {
        FM_CHECK(fm_onnx_save_net(n_path, fused, out, 0, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "fuse_pw_dw");
        fm_net_free(fused);
    }
    fm_net *released = load_at(n_path, &d, 0, 1, &err);
    FM_CHECK_MSG(released != NULL, "%s", err.msg);
    if (released) {
        FM_CHECK(fm_onnx_save_net(n_path, released, out, 0, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "release_weights");
        fm_net_free(released);
    }
    /* a NaN weight in the net */
    fm_net *net = fm_onnx_load_net(n_path, NULL, &err);
    if (net) {
        fm_layer_info info;
        for (int i = 0; fm_net_layer_info(net, i, &info); i++)
            if (info.kind == FM_LAYER_CONV) {
                info.w[3] = NAN;
                break;
            }
        FM_CHECK(fm_onnx_save_net(n_path, net, out, 0, &err) == FM_ERR_ARG);
        FM_CHECK_STR_CONTAINS(err.msg, "new value 3 of initializer '459' is not finite");
        fm_net_free(net);
    }
    FM_CHECK(access(out, F_OK) != 0);
}

void suite_onnx_write(void);
void suite_onnx_write(void)
{
    FM_RUN(test_write_unchanged_is_identical);
    FM_RUN(test_write_roundtrip_bit_exact);
    FM_RUN(test_write_opencv_reads_it);
    FM_RUN(test_write_opencv_missing_fails);
    FM_RUN(test_write_float_data_model);
    FM_RUN(test_write_update_errors);
    FM_RUN(test_write_safe_output);
    FM_RUN(test_write_net_errors);
    free(fx.d.x);
    free(fx.stock);
    free(fx.mine);
    memset(&fx, 0, sizeof fx);
}
