/*
 * walk.c -- iterative traversal of a partition through its port's list
 * callback: the host-side tools (pack, inspect) see every entry of a tree
 * this way, with no recursion and no link ever followed.
 */
#include "fsg_internal.h"

#include <stdlib.h>
#include <string.h>

struct names {
    struct fsg_ctx *c;
    char **v;        /* "name" with its type in the byte before it */
    size_t n, cap;
    int err;
};

static int collect(void *arg, const char *name, int type)
{
    struct names *s = arg;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = fsg_realloc(s->c, s->v, cap * sizeof *v);
        if (v == NULL)
            return s->err = FSG_ERR_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    size_t len = strlen(name);
    char *e = fsg_alloc(s->c, len + 2);
    if (e == NULL)
        return s->err = FSG_ERR_NOMEM;
    e[0] = (char)type;
    memcpy(e + 1, name, len + 1);
    s->v[s->n++] = e;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a + 1, *(const char *const *)b + 1);
}

int fsg_walk(struct fsg_ctx *c, const struct fsg_port *port,
             int (*fn)(void *arg, const char *path, int type), void *arg)
{
    char **stack = NULL;          /* directories still to list */
    size_t depth = 0, cap = 0;
    char *dir = NULL;
    int err = 0;

    if (port->list == NULL)
        return FSG_ERR_NOTSUP;
    dir = fsg_strdup(c, "");
    if (dir == NULL)
        return FSG_ERR_NOMEM;
    for (;;) {
        struct names s = {c, NULL, 0, 0, 0};
        int lerr = port->list(port->ctx, dir, collect, &s);
        err = s.err < 0 ? s.err : lerr;
        if (err == 0)
            qsort(s.v, s.n, sizeof *s.v, cmp_name);
        size_t dlen = strlen(dir);
        /* Children are pushed in reverse so they are listed in order. */
        size_t first_dir = depth;
        for (size_t i = 0; i < s.n && err == 0; i++) {
            const char *name = s.v[i] + 1;
            int type = (unsigned char)s.v[i][0];
            size_t nlen = strlen(name);
            char *path = fsg_alloc(c, dlen + nlen + 2);
            if (path == NULL) {
                err = FSG_ERR_NOMEM;
                break;
            }
            memcpy(path, dir, dlen);
            path[dlen] = '/';
            memcpy(path + dlen + (dlen > 0), name, nlen + 1);
            err = fn(arg, path, type);
            if (err == 0 && type == FSG_TYPE_DIR) {
                if (depth == cap) {
                    size_t ncap = cap ? cap * 2 : 16;
                    char **v = fsg_realloc(c, stack, ncap * sizeof *v);
                    if (v == NULL) {
                        err = FSG_ERR_NOMEM;
                        fsg_free(c, path);
                        break;
                    }
                    stack = v;
                    cap = ncap;
                }
                stack[depth++] = path;
            } else {
                fsg_free(c, path);
            }
        }
        for (size_t i = first_dir, j = depth; i + 1 < j; i++, j--) {
            char *t = stack[i];
            stack[i] = stack[j - 1];
            stack[j - 1] = t;
        }
        for (size_t i = 0; i < s.n; i++)
            fsg_free(c, s.v[i]);
        fsg_free(c, s.v);
        fsg_free(c, dir);
        dir = NULL;
        if (err != 0 || depth == 0)
            break;
        dir = stack[--depth];
    }
    while (depth > 0)
        fsg_free(c, stack[--depth]);
    fsg_free(c, stack);
    return err;
}
