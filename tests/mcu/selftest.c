/*
 * selftest.c -- the target program of the runner's own test
 * (runner_test.sh): with argument pass, fail, abort, fault or hang it does
 * that, after printing a line, so that each outcome can be told apart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "pass";
    printf("selftest: %s\n", what);
    if (strcmp(what, "fail") == 0)
        return 3;
    if (strcmp(what, "abort") == 0)
        abort();
    if (strcmp(what, "fault") == 0) {
        /* A store to an address no board maps. */
        volatile unsigned *p = (volatile unsigned *)(unsigned long)0xfffffff0u;
        *p = 1;
    }
    if (strcmp(what, "hang") == 0)
        for (volatile int spin = 1; spin;) {
        }
    return strcmp(what, "pass") == 0 ? 0 : 2;
}
