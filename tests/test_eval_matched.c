/* eval --voc's label accuracy on matched faces, exact on a scene built around the pipeline's
 * own output: `detect --json --conf 0.2` (YuNet-n + the committed classifier) on one mask_det
 * photo (maksssksksss5.jpg: 5 faces) gives boxes and labels; the annotation then holds boxes
 * 0-3 as detected, 0-2 with the label detect gave and 3 with the other one, box 4 not
 * annotated, and a face nobody finds. So eval must count 4 matched faces, 3 labelled right,
 * all 32-64 px wide, and the confusion of exactly those labels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

typedef struct {
    float box[4];
    int no_mask;
} det_face;

/* The faces of a `detect --json` line: box and label, in order. */
static int parse_faces(const char *s, det_face *f, int max)
{
    int n = 0;
    for (const char *p = s; p && n < max && (p = strstr(p, "{\"box\":[")) != NULL; n++) {
        if (sscanf(p, "{\"box\":[%f,%f,%f,%f]", &f[n].box[0], &f[n].box[1], &f[n].box[2],
                   &f[n].box[3]) != 4)
            return -1;
        const char *l = strstr(p, "\"label\":\"");
        if (!l)
            return -1;
        f[n].no_mask = strncmp(l + 9, "no_mask", 7) == 0;
        p = l;
    }
    return n;
}

static void test_eval_matched_faces_exact(void)
{
    char root[600], p[700], cmd[3000], *out = NULL;
    snprintf(root, sizeof root, "%s/voc", fm_test_tmpdir());
    mkdir(root, 0700);
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/annotations", root);
    mkdir(p, 0700);
    snprintf(cmd, sizeof cmd, "cp %s/data/mask_det/images/maksssksksss5.jpg %s/images/a.jpg",
             fm_test_shared(), root);
    FM_CHECK_INT(fm_test_cmd(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd,
             "%s detect --json --conf 0.2 --detector yunet --model-dir %s/models --classifier "
             "models/mask %s/images/a.jpg",
             fm_test_bin(), fm_test_shared(), root);
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    det_face f[8];
    int n = out ? parse_faces(out, f, 8) : -1;
    FM_CHECK_MSG(n == 5, "detect found %d faces, expected 5: %s", n, out ? out : "");
    free(out);
    if (n != 5)
        return;
    snprintf(p, sizeof p, "%s/annotations/a.xml", root);
    FILE *x = fopen(p, "w");
    FM_CHECK(x != NULL);
    if (!x)
        return;
    fprintf(x, "<annotation>\n");
    long long want[2][2] = {{0, 0}, {0, 0}}; /* [truth][predicted], 0 mask 1 no_mask */
    for (int k = 0; k < 5; k++) {
        int truth = k < 3 ? f[k].no_mask : !f[k].no_mask;
        if (k == 4) /* box 4: not annotated; instead a face in the corner nothing finds */
            fprintf(x, "<object><name>without_mask</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                       "<xmax>9</xmax><ymax>9</ymax></bndbox></object>\n");
        else {
            fprintf(x,
                    "<object><name>%s</name><bndbox><xmin>%.2f</xmin><ymin>%.2f</ymin>"
                    "<xmax>%.2f</xmax><ymax>%.2f</ymax></bndbox></object>\n",
                    truth ? "without_mask" : "with_mask", (double)f[k].box[0],
                    (double)f[k].box[1], (double)f[k].box[2], (double)f[k].box[3]);
            want[truth][f[k].no_mask]++;
            FM_CHECK(f[k].box[2] - f[k].box[0] >= 32 && f[k].box[2] - f[k].box[0] < 64);
        }
    }
    fprintf(x, "</annotation>\n");
    fclose(x);

    snprintf(cmd, sizeof cmd,
             "%s eval --voc %s --detector yunet --model-dir %s/models --classifier models/mask "
             "--quiet",
             fm_test_bin(), root, fm_test_shared());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    FM_CHECK_STR_CONTAINS(out, "label accuracy on matched faces (the detector's boxes, IoU >= "
                               "0.5): 0.7500 (4 faces)");
    FM_CHECK_STR_CONTAINS(out, "label accuracy by width:  0-16 px nan (0/0)  16-32 px nan (0/0)  "
                               "32-64 px 0.7500 (3/4)  64+ px nan (0/0)");
    char rec[96];
    long long um = want[1][1], ut = want[1][0] + want[1][1];
    snprintf(rec, sizeof rec, "no_mask recall %.4f (%lld/%lld)",
             ut ? (double)um / (double)ut : 0.0, um, ut);
    FM_CHECK_STR_CONTAINS(out, rec);
    free(out);

    snprintf(cmd, sizeof cmd,
             "%s eval --voc %s --detector yunet --model-dir %s/models --classifier models/mask "
             "--quiet --json",
             fm_test_bin(), root, fm_test_shared());
    FM_CHECK_INT(fm_test_cmd(cmd, &out), 0);
    const char *m = out ? strstr(out, "\"matched_faces\": {") : NULL;
    FM_CHECK(m != NULL);
    if (m) {
        FM_CHECK_STR_CONTAINS(m, "\"faces\": 4,");
        FM_CHECK_STR_CONTAINS(m, "\"accuracy\": 0.75,");
        char mat[160];
        snprintf(mat, sizeof mat, "\"matrix\": [\n          [\n            %lld,\n            %lld\n",
                 want[0][0], want[0][1]);
        FM_CHECK_MSG(strstr(m, mat) != NULL, "no %s in %s", mat, m);
        FM_CHECK_STR_CONTAINS(m, "\"width_px\": \"32-64\",\n          \"faces\": 4");
    }
    free(out);
}

void suite_eval_matched(void);
void suite_eval_matched(void)
{
    FM_RUN(test_eval_matched_faces_exact);
}
