#include <stdio.h>
#include "skindelta/core.h"
int main(void) { puts("skindelta " SD_VERSION); return 0; }
