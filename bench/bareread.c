/*
 * bareread.c -- the I/O limit: reads every file named in a list (one path
 * per line, relative to ROOT) through a 64 KiB buffer and does nothing with
 * the bytes. Whatever checks the same files can only be slower.
 *
 *     bareread ROOT LIST
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static char buf[64 * 1024];
    char line[4096];
    unsigned long long total = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: bareread ROOT LIST\n");
        return 2;
    }
    int root = open(argv[1], O_RDONLY | O_DIRECTORY);
    FILE *list = fopen(argv[2], "r");
    if (root < 0 || list == NULL) {
        perror("bareread");
        return 2;
    }
    while (fgets(line, sizeof line, list) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        int fd = openat(root, line, O_RDONLY);
        if (fd < 0 && errno == ENOENT)
            continue; /* a damaged tree: a missing file reads as nothing */
        if (fd < 0) {
            perror(line);
            return 1;
        }
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            total += (unsigned long long)n;
        close(fd);
    }
    fclose(list);
    printf("%llu bytes\n", total);
    return 0;
}
