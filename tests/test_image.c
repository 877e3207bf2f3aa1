#include "test.h"
#include "io/image.h"

void suite_image(void);
void suite_image(void)
{
}
