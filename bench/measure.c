/*
 * measure.c -- runs one command and reports what the benchmark compares:
 * wall time, peak resident memory of the command and every process it
 * started, and the bytes it wrote. One line on stdout:
 *
 *     WALL_SECONDS MAXRSS_KIB WRITE_BYTES WCHAR EXIT_STATUS
 *
 * WRITE_BYTES is what the kernel accounted as sent towards storage (pages
 * dirtied), WCHAR every byte passed to write(); both include the command's
 * children. They are read from /proc/PID/io while the finished command is
 * still a zombie, so nothing it did is missed. The command's stdout and
 * stderr go to /dev/null unless MEASURE_KEEP_OUTPUT is set.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads "key: value" from /proc/PID/io. */
static unsigned long long io_field(const char *io, const char *key)
{
    const char *p = strstr(io, key);
    return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: measure COMMAND [ARG...]\n");
        return 2;
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        if (getenv("MEASURE_KEEP_OUTPUT") == NULL) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(argv[1], argv + 1);
        perror("measure: exec");
        _exit(127);
    }
    siginfo_t si;
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0) {
        perror("measure: waitid");
        return 2;
    }
    double wall = now() - t0;
    char path[64], io[1024] = "";
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(io, 1, sizeof io - 1, f);
        io[n] = '\0';
        fclose(f);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) {
        perror("measure: waitpid");
        return 2;
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("%.6f %ld %llu %llu %d\n", wall, ru.ru_maxrss, io_field(io, "write_bytes: "),
           io_field(io, "wchar: "), WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}
