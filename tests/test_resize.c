#include "test.h"
#include "io/image.h"

void suite_resize(void);
void suite_resize(void)
{
}
