/* YuNet against OpenCV 4.6 end to end (fixtures by tools/gen_yunet_fixtures.py, see
 * tests/fixtures/yunet/README.md): `detect --json --no-classify --detector yunet --det-size
 * 640 --conf 0.5 --threads 1` on 32 photos finds OpenCV's faces (IoU >= 0.98, score within
 * 0.005, landmarks within 1 px) and no others, for YuNet-n and YuNet-s.
 * (The raw outputs, and decoding OpenCV's own outputs, are checked in test_yunet.c.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_det_util.h"

/* The command the issue names, on the fixture's 32 photos. */
static void check_detect(const char *fixture, const char *detector)
{
    char *text = fm_test_read_file(fixture, NULL);
    FM_CHECK_MSG(text != NULL, "cannot read %s", fixture);
    if (!text)
        return;
    static fm_det_line want[64], got[64];
    int nwant = fm_det_load_lines(text, want, 64);
    free(text);
    FM_CHECK(nwant >= 30);
    size_t cap = 512 + (size_t)nwant * 300;
    char *cmd = malloc(cap);
    int used = snprintf(cmd, cap,
                        "%s detect --json --no-classify --detector %s --det-size 640 --conf 0.5 "
                        "--threads 1 --model-dir %s/models",
                        fm_test_bin(), detector, fm_test_shared());
    for (int i = 0; i < nwant; i++)
        used += snprintf(cmd + used, cap - (size_t)used, " %s/%s", fm_test_shared(), want[i].image);
    char *out = NULL;
    int rc = fm_test_cmd(cmd, &out);
    free(cmd);
    FM_CHECK_INT(rc, 0);
    int ngot = out ? fm_det_load_lines(out, got, 64) : 0;
    free(out);
    FM_CHECK_INT(ngot, nwant);
    int faces = 0;
    double worst_iou = 1, worst_score = 0, worst_lm = 0;
    for (int i = 0; i < nwant && i < ngot; i++) {
        const char *rel = got[i].image + strlen(fm_test_shared()) + 1;
        FM_CHECK_MSG(strcmp(rel, want[i].image) == 0, "image %d: %s, expected %s", i, rel,
                     want[i].image);
        fm_det_match m = fm_det_compare(&want[i], &got[i], 0.98, 0.005, 1.0);
        FM_CHECK_MSG(m.ok, "%s: %s", want[i].image, m.why);
        faces += want[i].nfaces;
        worst_iou = fmin(worst_iou, m.worst_iou);
        worst_score = fmax(worst_score, m.worst_score);
        worst_lm = fmax(worst_lm, m.worst_landmark);
    }
    printf("  %s: %d images, %d OpenCV faces, worst IoU %.4f, score %.4f, landmark %.2f px\n",
           detector, nwant, faces, worst_iou, worst_score, worst_lm);
}

static void test_detect_matches_opencv(void)
{
    char s_path[512];
    check_detect("tests/fixtures/yunet/expected_n.jsonl", "yunet");
    snprintf(s_path, sizeof s_path, "%s/models/yunet/face_detection_yunet_2023mar.onnx",
             fm_test_shared());
    check_detect("tests/fixtures/yunet/expected_s.jsonl", s_path);
}

extern void suite_yunet_parity(void);
void suite_yunet_parity(void)
{
    FM_RUN(test_detect_matches_opencv);
}
