/* The classifier's scene crops at a detector's own boxes (train/det_crops.h, `facemask train
 * --crops-from`), on a VOC folder written here around stock YuNet-n's own boxes on one mask_det
 * photo (maksssksksss5.jpg, 5 boxes at conf 0.2), so every expected figure is exact:
 *   - box 0 annotated with_mask exactly, box 1 without_mask exactly: the two samples, each with
 *     the DETECTOR's box (not the annotation) and the annotation's label;
 *   - box 2 annotated at its left 40% (IoU 0.4): not used; box 3 annotated
 *     mask_weared_incorrect: not used (counted); box 4 not annotated: not used; a face the
 *     detector misses (top-left corner): no sample;
 *   - a plain grey image with a face annotated: the detector finds nothing there, no sample;
 *   - a corrupt JPEG with a face annotated: skipped and counted;
 *   - min_width: a face narrower than it gives no sample (counted);
 *   - the command: `train --crops-from yunet` writes the same counts to report.json; a
 *     detector file that does not exist is refused with one line naming it, before anything
 *     is written; --crops-from without --voc is a usage error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/voc.h"
#include "face/detector.h"
#include "io/image.h"
#include "test.h"
#include "train/det_crops.h"

static fm_detector *stock(void)
{
    char mdir[512];
    snprintf(mdir, sizeof mdir, "%s/models", fm_test_shared());
    fm_detector_spec spec = {"yunet", mdir, 0, 0};
    fm_err err = {0};
    fm_detector *d = fm_detector_create(&spec, NULL, &err);
    FM_CHECK_MSG(d != NULL, "%s", err.msg);
    return d;
}

static void put_object(FILE *f, const char *name, double x1, double y1, double x2, double y2)
{
    fprintf(f,
            "<object><name>%s</name><bndbox><xmin>%.4f</xmin><ymin>%.4f</ymin>"
            "<xmax>%.4f</xmax><ymax>%.4f</ymax></bndbox></object>\n",
            name, x1, y1, x2, y2);
}

/* The VOC folder described above; faces[] gets the detector's 5 boxes on the photo. Returns
 * the folder, or NULL (a failed check) when the photo does not give the 5 boxes expected. */
static const char *make_voc(fm_detector *det, fm_face *faces, char *root, size_t size)
{
    snprintf(root, size, "%s/voc", fm_test_tmpdir());
    char p[700], q[700];
    mkdir(root, 0700);
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/annotations", root);
    mkdir(p, 0700);
    /* a: the photo */
    snprintf(q, sizeof q, "%s/data/mask_det/images/maksssksksss5.jpg", fm_test_shared());
    size_t n = 0;
    char *jpg = fm_test_read_file(q, &n);
    FM_CHECK_MSG(jpg != NULL, "cannot read %s", q);
    snprintf(p, sizeof p, "%s/images/a.jpg", root);
    FILE *f = fopen(p, "wb");
    if (f && jpg)
        fwrite(jpg, 1, n, f);
    if (f)
        fclose(f);
    free(jpg);
    fm_err err = {0};
    int nf = fm_detector_detect_file(det, p, 0.2f, faces, 16, &err);
    FM_CHECK_MSG(nf == 5, "%d faces on %s (%s), expected stock YuNet-n's 5", nf, p, err.msg);
    if (nf != 5)
        return NULL;
    snprintf(p, sizeof p, "%s/annotations/a.xml", root);
    f = fopen(p, "w");
    FM_CHECK(f != NULL);
    if (!f)
        return NULL;
    fprintf(f, "<annotation><filename>a.jpg</filename>\n");
    put_object(f, "with_mask", faces[0].x1, faces[0].y1, faces[0].x2, faces[0].y2);
    put_object(f, "without_mask", faces[1].x1, faces[1].y1, faces[1].x2, faces[1].y2);
    put_object(f, "with_mask", faces[2].x1, faces[2].y1,
               faces[2].x1 + 0.4 * (faces[2].x2 - faces[2].x1), faces[2].y2);
    put_object(f, "mask_weared_incorrect", faces[3].x1, faces[3].y1, faces[3].x2, faces[3].y2);
    put_object(f, "without_mask", 2, 2, 12, 12);
    fprintf(f, "</annotation>\n");
    fclose(f);
    /* b: plain grey, a face annotated */
    fm_image *img = fm_image_new(200, 160, &err);
    FM_CHECK(img != NULL);
    if (img) {
        memset(img->data, 128, (size_t)img->stride * (size_t)img->h);
        snprintf(p, sizeof p, "%s/images/b.png", root);
        FM_CHECK_MSG(fm_image_save_png(img, p, &err) == FM_OK, "%s", err.msg);
        fm_image_free(img);
    }
    snprintf(p, sizeof p, "%s/annotations/b.xml", root);
    fm_test_write_text(p, "<annotation><object><name>with_mask</name><bndbox><xmin>20</xmin>"
                          "<ymin>20</ymin><xmax>80</xmax><ymax>80</ymax></bndbox></object>"
                          "</annotation>\n");
    /* c: not an image */
    snprintf(p, sizeof p, "%s/images/c.jpg", root);
    fm_test_write_text(p, "\xff\xd8\xff\xe0 not really a JPEG");
    snprintf(p, sizeof p, "%s/annotations/c.xml", root);
    fm_test_write_text(p, "<annotation><object><name>without_mask</name><bndbox><xmin>1</xmin>"
                          "<ymin>1</ymin><xmax>30</xmax><ymax>30</ymax></bndbox></object>"
                          "</annotation>\n");
    return root;
}

static void check_box(const fm_sample *s, const fm_face *f, int label)
{
    FM_CHECK_INT(s->label, label);
    FM_CHECK_INT(s->has_box, 1);
    FM_CHECK_MSG(s->box.x1 == f->x1 && s->box.y1 == f->y1 && s->box.x2 == f->x2 &&
                     s->box.y2 == f->y2,
                 "sample box %.3f %.3f %.3f %.3f, expected the detector's %.3f %.3f %.3f %.3f",
                 (double)s->box.x1, (double)s->box.y1, (double)s->box.x2, (double)s->box.y2,
                 (double)f->x1, (double)f->y1, (double)f->x2, (double)f->y2);
    FM_CHECK(strstr(s->path, "/voc/images/a.jpg") != NULL);
    FM_CHECK_INT(s->group, 0);
}

static void test_det_crops_exact(void)
{
    fm_detector *det = stock();
    fm_face faces[16];
    char root[600];
    if (!det || !make_voc(det, faces, root, sizeof root)) {
        fm_detector_free(det);
        return;
    }
    fm_err err = {0};
    fm_det_crops_stats s;
    fm_voc_split all = {42, 1.0f, 0, 0}; /* every image on the training side */
    fm_dataset *ds = fm_det_crops(det, root, 0.2f, &all, 8, &s, 1, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    if (ds) {
        FM_CHECK_INT(ds->n, 2);
        FM_CHECK_INT(ds->n_classes, 3);
        if (ds->n == 2) {
            check_box(&ds->samples[0], &faces[0], FM_VOC_WITH_MASK);
            check_box(&ds->samples[1], &faces[1], FM_VOC_WITHOUT_MASK);
        }
    }
    fm_dataset_free(ds);
    FM_CHECK_INT(s.images, 3);
    FM_CHECK_INT(s.unreadable, 1);   /* c.jpg */
    FM_CHECK_INT(s.faces, 5);        /* a: 4 (not the incorrectly worn one), b: 1 */
    FM_CHECK_INT(s.detections, 5);   /* all on a: none on the grey b */
    FM_CHECK_INT(s.matched, 2);
    FM_CHECK_INT(s.ignored, 1);      /* box 3 */
    FM_CHECK_INT(s.unmatched, 2);    /* box 2 (IoU 0.4), box 4 (no face) */
    FM_CHECK_INT(s.too_small, 0);
    FM_CHECK_INT(s.labels[0], 1);
    FM_CHECK_INT(s.labels[1], 1);

    /* faces under 40 px: box 0's face (33 px) is too small, box 1's (46 px) is kept */
    FM_CHECK(faces[0].x2 - faces[0].x1 < 40 && faces[1].x2 - faces[1].x1 >= 40);
    ds = fm_det_crops(det, root, 0.2f, &all, 40, &s, 1, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    if (ds && ds->n == 1)
        check_box(&ds->samples[0], &faces[1], FM_VOC_WITHOUT_MASK);
    else
        FM_CHECK_MSG(0, "%d samples at min_width 40, expected 1", ds ? ds->n : -1);
    fm_dataset_free(ds);
    FM_CHECK_INT(s.too_small, 1);
    FM_CHECK_INT(s.faces, 2); /* box 1's face and b's 60 px face */

    /* no image on the training side: nothing run, nothing found, not an error */
    fm_voc_split none = {42, 0.0f, 0, 0};
    ds = fm_det_crops(det, root, 0.2f, &none, 8, &s, 1, &err);
    FM_CHECK(ds != NULL && ds->n == 0);
    FM_CHECK_INT(s.images, 0);
    fm_dataset_free(ds);

    /* a development fold around a.jpg's split hash (the narrowest float interval holding it,
     * found by bisection): a is left out, b and c are still used */
    char a_path[700];
    snprintf(a_path, sizeof a_path, "%s/images/a.jpg", root);
    float lo = 0, hi = 1; /* a is on the training side below hi, not below lo */
    FM_CHECK(fm_voc_is_train_image(a_path, 42, hi) && !fm_voc_is_train_image(a_path, 42, lo));
    while (nextafterf(lo, 1) < hi) {
        float mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi)
            mid = nextafterf(lo, 1);
        if (fm_voc_is_train_image(a_path, 42, mid))
            hi = mid;
        else
            lo = mid;
    }
    fm_voc_split fold = {42, 1.0f, lo, hi};
    FM_CHECK(!fm_voc_split_trains(&fold, a_path));
    FM_CHECK(fm_voc_split_trains(&all, a_path));
    ds = fm_det_crops(det, root, 0.2f, &fold, 8, &s, 1, &err);
    FM_CHECK_MSG(ds != NULL, "%s", err.msg);
    FM_CHECK(ds && ds->n == 0); /* every match was on a */
    FM_CHECK_INT(s.images, 2);
    FM_CHECK_INT(s.unreadable, 1); /* c.jpg */
    FM_CHECK_INT(s.faces, 1);      /* b's */
    fm_dataset_free(ds);

    /* an annotation that does not parse: its message */
    char p[700];
    snprintf(p, sizeof p, "%s/annotations/b.xml", root);
    fm_test_write_text(p, "<annotation><object>");
    FM_CHECK(fm_det_crops(det, root, 0.2f, &all, 8, &s, 1, &err) == NULL);
    FM_CHECK_STR_CONTAINS(err.msg, "annotations/b.xml: line 1");
    fm_detector_free(det);
}

static void copy_class(const char *cls, const char *dst_root, const char *const *names, int n)
{
    char d[700], a[900], b[900];
    snprintf(d, sizeof d, "%s/%s", dst_root, cls);
    mkdir(d, 0700);
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "%s/data/mask_cls/%s/%s", fm_test_shared(), cls, names[i]);
        snprintf(b, sizeof b, "%s/%s", d, names[i]);
        size_t len = 0;
        char *data = fm_test_read_file(a, &len);
        FM_CHECK_MSG(data != NULL, "cannot read %s", a);
        FILE *f = fopen(b, "wb");
        if (f && data)
            fwrite(data, 1, len, f);
        if (f)
            fclose(f);
        free(data);
    }
}

static void test_train_crops_from_cli(void)
{
    fm_detector *det = stock();
    fm_face faces[16];
    char root[600];
    if (!det || !make_voc(det, faces, root, sizeof root)) {
        fm_detector_free(det);
        return;
    }
    fm_detector_free(det);
    /* six crops a class, the first of each folder in name order */
    char data[600], cmd[3000], out[700], p[800];
    snprintf(data, sizeof data, "%s/data", fm_test_tmpdir());
    mkdir(data, 0700);
    static const char *const wm[6] = {"0000.jpg", "0001.jpg", "0002.jpg",
                                      "0003.jpg", "0004.jpg", "0005.jpg"};
    static const char *const nm[6] = {"0000.jpg", "0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg", "0005.jpg"};
    copy_class("with_mask", data, wm, 6);
    copy_class("without_mask", data, nm, 6);

    const char *common = "--input-size 32 --epochs 1 --fine-tune-epochs 0 --variants 1 "
                         "--batch 8 --threads 1 --voc-fraction 1 --quiet";
    snprintf(out, sizeof out, "%s/model", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --voc %s --crops-from yunet --out %s --model-dir %s/models %s "
             "2>&1",
             fm_test_bin(), data, root, out, fm_test_shared(), common);
    char *log = NULL;
    int rc = fm_test_cmd(cmd, &log);
    FM_CHECK_MSG(rc == 0, "train --crops-from yunet failed (%d): %s", rc, log ? log : "");
    FM_CHECK_STR_CONTAINS(log, "scene crops from yunet's boxes (conf 0.20, IoU >= 0.5): 2 of 5 "
                               "faces on 3 training-side images (1 with_mask, 1 without_mask)");
    FM_CHECK_STR_CONTAINS(log, "c.jpg");
    free(log);
    snprintf(p, sizeof p, "%s/report.json", out);
    char *rep = fm_test_read_file(p, NULL);
    FM_CHECK_STR_CONTAINS(rep, "\"from\": \"yunet\"");
    FM_CHECK_STR_CONTAINS(rep, "\"matched\": 2");
    FM_CHECK_STR_CONTAINS(rep, "\"unmatched\": 2");
    FM_CHECK_STR_CONTAINS(rep, "\"on_incorrectly_worn\": 1");
    FM_CHECK_STR_CONTAINS(rep, "\"unreadable_images\": 1");
    free(rep);
    /* trained_on.txt lists the training-side images with an annotated face, as without
     * --crops-from: the held-out half does not depend on the detector */
    snprintf(p, sizeof p, "%s/trained_on.txt", out);
    char *list = fm_test_read_file(p, NULL);
    FM_CHECK_STR_CONTAINS(list, "\na.jpg\nb.png\nc.jpg\n");
    free(list);

    /* a detector file that does not exist: one line naming it, nothing written */
    char out2[700];
    snprintf(out2, sizeof out2, "%s/never", fm_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s train --data %s --voc %s --crops-from %s/nope.onnx --out %s --model-dir "
             "%s/models %s 2>&1",
             fm_test_bin(), data, root, fm_test_tmpdir(), out2, fm_test_shared(), common);
    rc = fm_test_cmd(cmd, &log);
    FM_CHECK_INT(rc, 1);
    FM_CHECK_STR_CONTAINS(log, "facemask train: --crops-from ");
    FM_CHECK_STR_CONTAINS(log, "/nope.onnx");
    FM_CHECK(log && strchr(log, '\n') == strrchr(log, '\n'));
    free(log);
    struct stat st;
    FM_CHECK_MSG(stat(out2, &st) != 0, "%s was created", out2);

    /* without --voc: a usage error */
    snprintf(cmd, sizeof cmd, "%s train --data %s --crops-from yunet --out %s 2>&1",
             fm_test_bin(), data, out2);
    rc = fm_test_cmd(cmd, &log);
    FM_CHECK_INT(rc, 2);
    FM_CHECK_STR_CONTAINS(log, "--crops-from needs --voc DIR");
    free(log);
}

void suite_train_det_crops(void);
void suite_train_det_crops(void)
{
    FM_RUN(test_det_crops_exact);
    FM_RUN(test_train_crops_from_cli);
}
