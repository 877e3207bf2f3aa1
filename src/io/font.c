/* font.c - the built-in 6x10 bitmap font (stub, being written). */
#include "io/image.h"
