/*
 * file.c -- reading files through a port: a file hashed as it streams
 * (with one more try after transient trouble), what a failed hash says is
 * wrong with the file, and a small file read whole.
 */
#include "fsg_internal.h"

#include <string.h>

int fsg_problem_of(int err)
{
    switch (err) {
    case FSG_ERR_NOENT: return FSG_PROBLEM_MISSING;
    case FSG_ERR_ISDIR:
    case FSG_ERR_NOTREG: return FSG_PROBLEM_NOT_REGULAR;
    case FSG_ERR_LOOP:
    case FSG_ERR_NOTDIR: return FSG_PROBLEM_UNSAFE_PATH;
    default: return FSG_PROBLEM_UNREADABLE;
    }
}

int fsg_hash_file(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                  unsigned kinds, struct fsg_sum *sum)
{
    uint64_t size;
    return fsg_hash_file_size(c, port, path, kinds, sum, &size);
}

static int hash_once(const struct fsg_port *port, void *buf, size_t buf_size, const char *path,
                     unsigned kinds, struct fsg_sum *sum, uint64_t *size)
{
    struct fsg_stat st;
    void *f;

    /* Open first: a port refuses anything but a regular file, so the common
     * case costs no stat. Only a refusal is looked at closer, to tell a
     * link or a directory in the file's place from one above it. */
    int err = port->open(port->ctx, path, FSG_OPEN_READ, &f);
    if (err < 0 && err != FSG_ERR_NOENT && port->stat(port->ctx, path, &st) == 0) {
        if (st.type != FSG_TYPE_REG)
            return st.type == FSG_TYPE_DIR ? FSG_ERR_ISDIR : FSG_ERR_NOTREG;
    }
    if (err < 0)
        return err;

    struct fsg_hasher h;
    uint64_t total = 0;
    long n;
    fsg_hasher_init(&h, kinds);
    while ((n = port->read(port->ctx, f, buf, buf_size)) > 0) {
        fsg_hasher_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    int cerr = port->close(port->ctx, f);
    if (n < 0)
        return (int)n;
    if (cerr < 0)
        return cerr;
    fsg_hasher_final(&h, sum);
    *size = total;
    return 0;
}

static int hash_retry(const struct fsg_port *port, void *buf, size_t buf_size, const char *path,
                      unsigned kinds, struct fsg_sum *sum, uint64_t *size)
{
    /* A read error gets one more try before the file counts as damaged:
     * a good file, a legitimate edit among them, must not be overwritten
     * with the factory copy for one transient error. */
    int err;
    FSG_RETRY(err, hash_once(port, buf, buf_size, path, kinds, sum, size));
    return err;
}

int fsg_hash_file_size(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                       unsigned kinds, struct fsg_sum *sum, uint64_t *size)
{
    return hash_retry(port, c->buf, c->buf_size, path, kinds, sum, size);
}

int fsg_hash_job_run(const struct fsg_port *port, void *buf, size_t buf_size,
                     struct fsg_hash_job *job)
{
    struct fsg_sum sum;
    job->size = 0;
    if (buf == NULL || buf_size < FSG_BUF_MIN)
        return job->err = FSG_ERR_INVAL;
    job->err = hash_retry(port, buf, buf_size, job->path, job->kinds, &sum, &job->size);
    if (job->err == 0) {
        job->crc = sum.crc;
        memcpy(job->sha256, sum.sha, sizeof job->sha256);
    }
    return job->err;
}

int fsg_read_small(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                 uint64_t max, char **out, size_t *len)
{
    struct fsg_stat st;
    void *f;
    int err = port->stat(port->ctx, path, &st);

    if (max > SIZE_MAX / 4)
        max = SIZE_MAX / 4; /* so that the sizes below cannot overflow */
    if (err < 0)
        return err;
    if (st.type != FSG_TYPE_REG)
        return st.type == FSG_TYPE_DIR ? FSG_ERR_ISDIR : FSG_ERR_NOTREG;
    if (st.size > max || st.size >= SIZE_MAX)
        return FSG_ERR_FBIG;
    err = port->open(port->ctx, path, FSG_OPEN_READ, &f);
    if (err < 0)
        return err;
    /* Room for the file, its NUL, and one byte more: a file that reads as
     * long as stat said fills it only if it grew, which costs no second
     * buffer in the usual case. */
    size_t cap = (size_t)st.size + 2, n = 0;
    char *buf = fsg_alloc(c, cap);
    if (buf == NULL) {
        (void)port->close(port->ctx, f);
        return FSG_ERR_NOMEM;
    }
    for (;;) {
        if (n + 1 == cap) {
            /* Full: at the end of the file, or it grew since stat. One more
             * byte than the limit must fit to tell the two apart. */
            if (n > max) {
                err = FSG_ERR_FBIG;
                break;
            }
            size_t ncap = (uint64_t)cap * 2 > max + 2 ? (size_t)max + 2 : cap * 2;
            char *nb = fsg_realloc(c, buf, ncap);
            if (nb == NULL) {
                err = FSG_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        long r = port->read(port->ctx, f, buf + n, cap - 1 - n);
        if (r < 0) {
            err = (int)r;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    int cerr = port->close(port->ctx, f);
    if (err == 0)
        err = cerr;
    if (err < 0) {
        fsg_free(c, buf);
        return err;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
