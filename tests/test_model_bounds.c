/* Memory amplification by model files: a caffemodel of millions of empty layers (3 bytes
 * each) or of one layer with millions of empty blobs, and a prototxt of millions of "a{}",
 * must fail with a cap error quickly and within a small multiple of the file size. Each load
 * runs in a forked child that reports its peak-RSS growth (getrusage) and time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caffe/caffemodel.h"
#include "caffe/prototxt.h"
#include "core/pbwire.h"
#include "onnx/onnx_proto.h"
#include "test.h"

typedef struct {
    int status;
    long rss_growth_kb;
    double seconds;
    char msg[512];
} load_result;

typedef enum { LOAD_CAFFEMODEL, LOAD_PROTOTXT, LOAD_ONNX } load_kind;

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Loads path in a child; the result comes back through a pipe. */
static load_result load_in_child(load_kind kind, const char *path)
{
    load_result r = {.status = -1};
    int fd[2];
    if (pipe(fd) != 0)
        return r;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        load_result c = {0};
        fm_err err = {0};
        struct timespec t0, t1;
        const long before = max_rss_kb();
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (kind == LOAD_CAFFEMODEL) {
            fm_caffemodel *m = fm_caffemodel_read(path, &err);
            fm_caffemodel_free(m);
        } else if (kind == LOAD_PROTOTXT) {
            fm_ptxt *doc = fm_ptxt_read(path, &err);
            fm_ptxt_free(doc);
        } else {
            fm_onnx_free(fm_onnx_read(path, &err));
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        c.status = err.status;
        c.rss_growth_kb = max_rss_kb() - before;
        c.seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        memcpy(c.msg, err.msg, sizeof c.msg);
        ssize_t w = write(fd[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 1);
    }
    close(fd[1]);
    if (pid > 0) {
        size_t got = 0;
        ssize_t n;
        while (got < sizeof r && (n = read(fd[0], (char *)&r + got, sizeof r - got)) > 0)
            got += (size_t)n;
        int ws;
        waitpid(pid, &ws, 0);
        if (got != sizeof r)
            r.status = -2;
    }
    close(fd[0]);
    return r;
}

/* Writes `count` copies of unit after head. */
static size_t write_repeated(const char *path, const void *head, size_t nhead, const void *unit,
                             size_t nunit, size_t count)
{
    FILE *f = fopen(path, "wb");
    FM_CHECK(f != NULL);
    if (!f)
        return 0;
    size_t block = 4096 / nunit * nunit, per = block / nunit;
    unsigned char *buf = malloc(block);
    for (size_t i = 0; buf && i < block; i += nunit)
        memcpy(buf + i, unit, nunit);
    if (nhead)
        fwrite(head, 1, nhead, f);
    size_t left = count;
    while (buf && left) {
        size_t k = left < per ? left : per;
        fwrite(buf, nunit, k, f);
        left -= k;
    }
    free(buf);
    long size = ftell(f);
    fclose(f);
    return size > 0 ? (size_t)size : 0;
}

/* The load failed with FM_ERR_LIMIT naming the cap, fast, and the peak memory grew by at most
 * 2 x the file + 64 MB (before the caps: 30 MB of empty layers took 969 MB and 13 s). */
static void expect_capped(load_kind kind, const char *path, size_t size, const char *needle)
{
    load_result r = load_in_child(kind, path);
    const double max_s = fm_test_sanitized() ? 20.0 : 3.0;
    const long max_kb = (long)(2 * size / 1024) + 64 * 1024;
    FM_CHECK_MSG(r.status == FM_ERR_LIMIT, "%s: status %d, expected FM_ERR_LIMIT: %s", path,
                 r.status, r.msg);
    FM_CHECK_STR_CONTAINS(r.msg, needle);
    FM_CHECK_MSG(r.seconds < max_s, "%s: %.2f s, expected under %.0f s", path, r.seconds, max_s);
    FM_CHECK_MSG(r.rss_growth_kb <= max_kb, "%s (%zu bytes): peak memory grew %ld KB, bound %ld KB",
                 path, size, r.rss_growth_kb, max_kb);
}

static void test_caffemodel_empty_layers(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/layers.caffemodel", fm_test_tmpdir());
    const unsigned char layer[3] = {0xA2, 0x06, 0x00}; /* field 100 (layer), length 0 */
    size_t size = write_repeated(path, NULL, 0, layer, 3, 10000000);
    FM_CHECK_INT(size, 30000000);
    expect_capped(LOAD_CAFFEMODEL, path, size, "more than 65536 layers (FM_CAFFEMODEL_MAX_LAYERS)");

    const unsigned char v1[2] = {0x12, 0x00}; /* field 2 (legacy layers), length 0 */
    size = write_repeated(path, NULL, 0, v1, 2, 10000000);
    expect_capped(LOAD_CAFFEMODEL, path, size, "more than 65536 layers");

    /* at the cap itself the model still decodes */
    size = write_repeated(path, NULL, 0, layer, 3, FM_CAFFEMODEL_MAX_LAYERS);
    fm_err err = {0};
    fm_caffemodel *m = fm_caffemodel_read(path, &err);
    FM_CHECK_MSG(m != NULL, "%s", err.msg);
    FM_CHECK_INT(m ? m->nlayers : 0, FM_CAFFEMODEL_MAX_LAYERS);
    fm_caffemodel_free(m);
}

static void test_caffemodel_empty_blobs(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/blobs.caffemodel", fm_test_tmpdir());
    const size_t nblobs = 10000000;
    /* one layer (field 100) whose payload is nblobs empty blobs (field 7, length 0) */
    unsigned char head[16] = {0xA2, 0x06};
    size_t nh = 2;
    for (unsigned long long len = 2ull * nblobs; ; len >>= 7) {
        head[nh++] = (unsigned char)(len & 0x7f) | (len >= 0x80 ? 0x80 : 0);
        if (len < 0x80)
            break;
    }
    const unsigned char blob[2] = {0x3A, 0x00};
    size_t size = write_repeated(path, head, nh, blob, 2, nblobs);
    expect_capped(LOAD_CAFFEMODEL, path, size,
                  "10000000 blobs, at most 1024 (FM_CAFFEMODEL_MAX_LAYER_BLOBS)");
}

static void test_prototxt_empty_fields(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/fields.prototxt", fm_test_tmpdir());
    size_t size = write_repeated(path, NULL, 0, "a{}", 3, 10000000);
    expect_capped(LOAD_PROTOTXT, path, size, "more than 262144 fields (FM_PTXT_MAX_NODES)");
    size = write_repeated(path, NULL, 0, "a:1\n", 4, 10000000);
    expect_capped(LOAD_PROTOTXT, path, size, "more than 262144 fields");
    /* at the cap the document parses */
    size = write_repeated(path, NULL, 0, "a{}", 3, FM_PTXT_MAX_NODES);
    fm_err err = {0};
    fm_ptxt *doc = fm_ptxt_read(path, &err);
    FM_CHECK_MSG(doc != NULL, "%s", err.msg);
    FM_CHECK_INT(doc ? fm_ptxt_count(fm_ptxt_root(doc), "a") : 0, FM_PTXT_MAX_NODES);
    fm_ptxt_free(doc);
}

/* An ONNX model whose graph is `count` copies of field `gfield` (empty), with `nopsets`
 * opset_import entries, written to path; returns its size. */
static size_t write_onnx(const char *path, uint32_t gfield, size_t count, int nopsets)
{
    fm_pb_writer g, m, op;
    fm_pb_writer_init(&g);
    fm_pb_writer_init(&m);
    fm_pb_writer_init(&op);
    for (size_t i = 0; i < count; i++)
        fm_pb_put_bytes_field(&g, gfield, "", 0);
    fm_pb_put_uint_field(&m, 1, 7);
    fm_pb_put_bytes_field(&m, 7, g.data, g.len);
    fm_pb_put_bytes_field(&op, 1, "", 0);
    fm_pb_put_uint_field(&op, 2, 13);
    for (int i = 0; i < nopsets; i++)
        fm_pb_put_bytes_field(&m, 8, op.data, op.len);
    size_t n = m.len;
    FILE *f = fopen(path, "wb");
    FM_CHECK(f != NULL && g.status == FM_OK && m.status == FM_OK);
    if (f) {
        fwrite(m.data, 1, m.len, f);
        fclose(f);
    }
    fm_pb_writer_free(&g);
    fm_pb_writer_free(&m);
    fm_pb_writer_free(&op);
    return n;
}

/* The ONNX reader's caps that its own suite (onnx_proto) does not reach: initializers,
 * graph inputs and outputs, opset_import entries; each refused fast and within bounds. */
static void test_onnx_caps(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/caps.onnx", fm_test_tmpdir());
    size_t size = write_onnx(path, 5, FM_ONNX_MAX_INITIALIZERS + 1, 1);
    expect_capped(LOAD_ONNX, path, size,
                  "100001 initializers, more than the 100000 allowed (FM_ONNX_MAX_INITIALIZERS)");
    size = write_onnx(path, 11, 5000000, 1);
    expect_capped(LOAD_ONNX, path, size, "5000000 inputs, more than the 100000 allowed");
    size = write_onnx(path, 12, 5000000, 1);
    expect_capped(LOAD_ONNX, path, size, "5000000 outputs, more than the 100000 allowed");
    size = write_onnx(path, 1, 0, 5000000);
    expect_capped(LOAD_ONNX, path, size,
                  "5000000 opset_import entries, more than the 1024 allowed (FM_ONNX_MAX_OPSETS)");
}

void suite_model_bounds(void);
void suite_model_bounds(void)
{
    FM_RUN(test_caffemodel_empty_layers);
    FM_RUN(test_caffemodel_empty_blobs);
    FM_RUN(test_prototxt_empty_fields);
    FM_RUN(test_onnx_caps);
}
