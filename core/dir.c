/*
 * dir.c -- reading directories through a port's list callback: one
 * directory's entries, sorted, and an iterative walk of a tree (pack,
 * inspect and the update staging area see every entry this way, with no
 * recursion and no link ever followed).
 */
#include "fsg_internal.h"

#include <string.h>

struct list_sink {
    struct fsg_ctx *c;
    struct fsg_dirlist *l;
    bool (*keep)(const char *name, int type);
    int err;
};

static int list_collect(void *arg, const char *name, int type)
{
    struct list_sink *s = arg;
    struct fsg_dirlist *l = s->l;
    if (s->keep != NULL && !s->keep(name, type))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = fsg_realloc(s->c, l->v, cap * sizeof *v);
        if (v == NULL)
            return s->err = FSG_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    size_t len = strlen(name);
    char *e = fsg_alloc(s->c, len + 2);
    if (e == NULL)
        return s->err = FSG_ERR_NOMEM;
    e[0] = (char)type;
    memcpy(e + 1, name, len + 1);
    l->v[l->n++] = e;
    return 0;
}

static int cmp_listed(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a + 1, *(const char *const *)b + 1);
}

int fsg_list_dir(struct fsg_ctx *c, const struct fsg_port *port, const char *dir,
                 struct fsg_dirlist *out)
{
    return fsg_list_dir_only(c, port, dir, NULL, out);
}

int fsg_list_dir_only(struct fsg_ctx *c, const struct fsg_port *port, const char *dir,
                      bool (*keep)(const char *name, int type), struct fsg_dirlist *out)
{
    struct list_sink s = {c, out, keep, 0};

    memset(out, 0, sizeof *out);
    if (port->list == NULL)
        return FSG_ERR_NOTSUP;
    int err = port->list(port->ctx, dir, list_collect, &s);
    if (s.err < 0)
        return s.err;
    if (err == 0)
        fsg_sort(out->v, out->n, sizeof *out->v, cmp_listed);
    return err;
}

void fsg_dirlist_free(struct fsg_ctx *c, struct fsg_dirlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        fsg_free(c, l->v[i]);
    fsg_free(c, l->v);
    memset(l, 0, sizeof *l);
}

char *fsg_path_join(struct fsg_ctx *c, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = fsg_alloc(c, dl + nl + 2);
    if (p != NULL) {
        memcpy(p, dir, dl);
        p[dl] = '/';
        memcpy(p + dl + (dl > 0), name, nl + 1);
    }
    return p;
}

int fsg_walk(struct fsg_ctx *c, const struct fsg_port *port, const char *root,
             int (*fn)(void *arg, const char *path, int type),
             int (*on_error)(void *arg, const char *dir, int err), void *arg)
{
    char **stack = NULL;          /* directories still to list */
    size_t depth = 0, cap = 0;
    char *dir = NULL;
    int err = 0;

    if (port->list == NULL)
        return FSG_ERR_NOTSUP;
    dir = fsg_strdup(c, root);
    if (dir == NULL)
        return FSG_ERR_NOMEM;
    for (;;) {
        struct fsg_dirlist l;
        err = fsg_list_dir(c, port, dir, &l);
        if (err < 0 && err != FSG_ERR_NOMEM && on_error != NULL)
            err = on_error(arg, dir, err);
        /* Children are pushed in reverse so they are listed in order. */
        size_t first_dir = depth;
        for (size_t i = 0; i < l.n && err == 0; i++) {
            int type = FSG_DIRLIST_TYPE(&l, i);
            char *path = fsg_path_join(c, dir, FSG_DIRLIST_NAME(&l, i));
            if (path == NULL) {
                err = FSG_ERR_NOMEM;
                break;
            }
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
        fsg_dirlist_free(c, &l);
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
