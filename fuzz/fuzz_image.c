/* fuzz_image.c - libFuzzer target: decode arbitrary bytes as JPEG or PNG.
 *
 *     make fuzz && ./build-fuzz/fuzz_image -max_total_time=600 fuzz/corpus-image/
 *
 * A small pixel limit keeps each input fast; every decoded image is resized and
 * drawn on, so the pixel buffer's size and stride are exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/draw.h"
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static fm_font *g_font; /* opened once; NULL (no font installed) draws the labels' boxes only */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_font = fm_font_open(NULL, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fm_image *img = fm_image_decode(data, size, "fuzz", 4u * 1024u * 1024u, &err);
    if (!img) {
        /* Every failure carries a message naming the input. */
        if (strncmp(err.msg, "fuzz", 4) != 0)
            __builtin_trap();
        return 0;
    }
    fm_image *small = fm_image_new(13, 7, &err);
    if (small) {
        fm_resize_bilinear(img, small);
        fm_image_free(small);
    }
    fm_draw_rect(img, -3, -3, img->w + 2, img->h / 2, FM_RGB(0, 255, 0), 2);
    fm_draw_annotation(img, g_font, 1, 1, img->w / 2, img->h / 2, "face 0.99", FM_COLOR_MASK);
    fm_image_free(img);
    return 0;
}
