/* resize.c - OpenCV-exact bilinear resize and blobFromImage (stub, being written). */
#include "io/image.h"

void fm_resize_bilinear(const fm_image *src, fm_image *dst)
{
}

void fm_blob_from_image(const fm_image *img, int W, int H, const float mean[3], float scale,
                        int swap_rb, fm_image *tmp, float *out)
{
}
