/* Tests of SimOTA (train/yunet_assign.h) on a 64x64 input (grids 8x8, 4x4, 2x2), each case
 * worked out by hand:
 *   - no faces, or a face no prior reaches: no positives;
 *   - an 8x8 face centred on the stride-8 prior (24, 24) with zero bbox outputs: the only
 *     cell both in the box and in the centre region decodes to the face exactly (IoU 1); the
 *     other candidates' IoUs sum to under 1, so k = 1 and that cell (3, 3) is the positive;
 *   - a 56x56 face centred at (32, 32) with every stride-8 cell decoding to a 56x56 box: the
 *     ten best IoUs are 1, 4 x 48/64 = 0.75, 4 x 2304/3968 and 2240/4032, sum 6.88, so k = 6:
 *     the centre, its four neighbours (0.75), and of the four diagonals (0.581) the one whose
 *     objectness was not lowered, (5, 5), since the lowered ones cost more than the cells two
 *     steps away (0.556);
 *   - two faces that both want cell (3, 3): it goes to the cheaper (IoU 1), the other face is
 *     left without a cell; and in face order the same result (the choice is not by order);
 *   - too little room for the positives is an error.
 */
#include <math.h>
#include <string.h>

#include "test.h"
#include "train/yunet_assign.h"

typedef struct {
    float cls[3][64], obj[3][64], bbox[3][256];
    fm_yunet_head h;
    fm_yunet_grid g;
} head64;

static void head_init(head64 *t)
{
    memset(t, 0, sizeof *t);
    t->g = fm_yunet_grid_of(64, 64);
    for (int l = 0; l < 3; l++) {
        t->h.cls[l] = t->cls[l];
        t->h.obj[l] = t->obj[l];
        t->h.bbox[l] = t->bbox[l];
    }
}

static void test_assign_none(void)
{
    head64 t;
    head_init(&t);
    fm_yunet_pos pos[10];
    fm_err err = {0};
    FM_CHECK_INT(fm_yunet_assign(&t.g, &t.h, NULL, 0, pos, 10, &err), 0);
    /* far beyond the grid: no prior inside it nor within 2.5 strides of its centre */
    const float far[1][4] = {{400, 400, 410, 410}};
    FM_CHECK_INT(fm_yunet_assign(&t.g, &t.h, far, 1, pos, 10, &err), 0);
}

static void test_assign_single_cell(void)
{
    head64 t;
    head_init(&t);
    const float face[1][4] = {{20, 20, 28, 28}};
    fm_yunet_pos pos[10];
    fm_err err = {0};
    int n = fm_yunet_assign(&t.g, &t.h, face, 1, pos, 10, &err);
    FM_CHECK_INT(n, 1);
    FM_CHECK_INT(pos[0].level, 0);
    FM_CHECK_INT(pos[0].cell, 3 * 8 + 3);
    FM_CHECK(memcmp(pos[0].box, face[0], sizeof face[0]) == 0);
}

static void test_assign_dynamic_k(void)
{
    head64 t;
    head_init(&t);
    float lw = logf(56.0f / 8.0f);
    for (int i = 0; i < 64; i++) {
        t.bbox[0][i * 4 + 2] = lw;
        t.bbox[0][i * 4 + 3] = lw;
    }
    /* three of the four diagonal neighbours look unlikely: BCE(sqrt(0.5 sigmoid(-3)), 0.58)
     * = 1.16 instead of log 2 */
    t.obj[0][3 * 8 + 3] = t.obj[0][3 * 8 + 5] = t.obj[0][5 * 8 + 3] = -3;
    const float face[1][4] = {{4, 4, 60, 60}};
    fm_yunet_pos pos[10];
    fm_err err = {0};
    int n = fm_yunet_assign(&t.g, &t.h, face, 1, pos, 10, &err);
    FM_CHECK_INT(n, 6);
    static const int want[6] = {3 * 8 + 4, 4 * 8 + 3, 4 * 8 + 4, 4 * 8 + 5, 5 * 8 + 4, 5 * 8 + 5};
    for (int i = 0; i < n && i < 6; i++) {
        FM_CHECK_INT(pos[i].level, 0);
        FM_CHECK_INT(pos[i].cell, want[i]);
    }
    err = (fm_err){0};
    FM_CHECK_INT(fm_yunet_assign(&t.g, &t.h, face, 1, pos, 5, &err), -1);
    FM_CHECK_STR_CONTAINS(err.msg, "more than 5 positive cells");
}

static void test_assign_conflict(void)
{
    head64 t;
    head_init(&t);
    const float faces[2][4] = {{18, 18, 30, 30}, {20, 20, 28, 28}};
    const float swapped[2][4] = {{20, 20, 28, 28}, {18, 18, 30, 30}};
    fm_yunet_pos pos[20];
    fm_err err = {0};
    for (int k = 0; k < 2; k++) {
        int n = fm_yunet_assign(&t.g, &t.h, k ? swapped : faces, 2, pos, 20, &err);
        FM_CHECK_INT(n, 1);
        FM_CHECK_INT(pos[0].level, 0);
        FM_CHECK_INT(pos[0].cell, 3 * 8 + 3);
        FM_CHECK(pos[0].box[0] == 20 && pos[0].box[2] == 28);
    }
}

void suite_train_yunet_assign(void);
void suite_train_yunet_assign(void)
{
    FM_RUN(test_assign_none);
    FM_RUN(test_assign_single_cell);
    FM_RUN(test_assign_dynamic_k);
    FM_RUN(test_assign_conflict);
}
