#include "test.h"
#include "io/image.h"

extern void suite_draw(void);
void suite_draw(void)
{
}
