#include "test.h"
#include "io/image.h"

extern void suite_image(void);
void suite_image(void)
{
}
