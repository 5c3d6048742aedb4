/*
 * walk.c -- iterative traversal of a partition through its port's list
 * callback: pack, inspect and the update staging area see every entry of a
 * tree this way, with no recursion and no link ever followed.
 */
#include "fsg_internal.h"

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
