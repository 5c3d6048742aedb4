/*
 * sort.c -- the core's one sort: a heapsort that allocates nothing.
 */
#include "fsg_internal.h"

static void swap_items(char *a, char *b, size_t size)
{
    while (size-- > 0) {
        char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Moves item root of the heap b[0..n) down to its place. */
static void sift_down(char *b, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && cmp(b + child * size, b + (child + 1) * size) < 0)
            child++;
        if (cmp(b + root * size, b + child * size) >= 0)
            return;
        swap_items(b + root * size, b + child * size, size);
    }
}

/* Heapsort, not the C library's qsort: it allocates nothing (glibc's qsort
 * may call malloc) and runs in bounded time and stack. Every comparator
 * given is a total order, so stability is not needed. */
void fsg_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    /* Tables are usually written in order (pack and fsguard keep them so):
     * one pass tells, and spares the sort. */
    char *b = base;
    size_t i = 1;
    while (i < n && cmp(b + (i - 1) * size, b + i * size) <= 0)
        i++;
    if (i >= n)
        return;
    for (i = n / 2; i-- > 0;)
        sift_down(b, i, n, size, cmp);
    for (i = n; --i > 0;) {
        swap_items(b, b + i * size, size);
        sift_down(b, 0, i, size, cmp);
    }
}
