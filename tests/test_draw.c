#include "test.h"
#include "io/image.h"

void suite_draw(void);
void suite_draw(void)
{
}
