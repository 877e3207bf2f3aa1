/* detect_json.c - libfacemask in a few lines: the faces and masks of one image, as one JSON line
 * in the format of `facemask detect --json` (without landmarks).
 *     cc detect_json.c $(pkg-config --cflags --libs facemask) -o detect_json
 *     ./detect_json photo.jpg     (models: those installed with the library, or FACEMASK_MODELS) */
#include <facemask.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: detect_json IMAGE\n");
        return 2;
    }
    char err[1024];
    fm_ctx *ctx = fm_open(NULL, err, sizeof err); /* YuNet and the mask classifier, defaults */
    if (!ctx) {
        fprintf(stderr, "detect_json: %s\n", err);
        return 1;
    }
    const fm_result *f;
    int w, h, n = fm_detect_file(ctx, argv[1], &f, &w, &h);
    if (n < 0) {
        fprintf(stderr, "detect_json: %s\n", fm_error(ctx));
        fm_close(ctx);
        return 1;
    }
    printf("{\"image\":\"");
    for (const unsigned char *c = (const unsigned char *)argv[1]; *c; c++)
        printf(*c == '"' || *c == '\\' ? "\\%c" : *c < 0x20 ? "\\u%04x" : "%c", *c);
    printf("\",\"width\":%d,\"height\":%d,\"faces\":[", w, h);
    for (int i = 0; i < n; i++)
        printf("%s{\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.4f,\"label\":\"%s\",\"mask_prob\":%.4f}",
               i ? "," : "", f[i].x1, f[i].y1, f[i].x2, f[i].y2, f[i].score, f[i].label,
               f[i].mask_prob);
    printf("]}\n");
    fm_close(ctx);
    return 0;
}
