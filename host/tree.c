/*
 * tree.c -- reading a tree of files to install (pack's project tree, an
 * update): every entry checked and refused as need be before anything is
 * written, the files and directories sorted by name.
 */
#include "fsg_host.h"

#include <string.h>

static void refuse(struct fsg_plan *pl, const char *path, int refusal, int defect, int type,
                   int error)
{
    struct fsg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FSG_EVENT_REFUSED;
    ev.name = path;
    ev.refusal = refusal;
    ev.defect = defect;
    ev.type = type;
    ev.error = error;
    pl->refused++;
    fsg_emit(pl->c, &ev);
}

/* "/usr/" + path, allocated. */
static char *usr_name(struct fsg_ctx *c, const char *path)
{
    size_t len = strlen(path);
    char *n = fsg_alloc(c, FSG_USR_PREFIX_LEN + len + 1);
    if (n != NULL) {
        memcpy(n, FSG_USR_PREFIX, FSG_USR_PREFIX_LEN);
        memcpy(n + FSG_USR_PREFIX_LEN, path, len + 1);
    }
    return n;
}

static int plan_entry(void *arg, const char *path, int type)
{
    struct fsg_plan *pl = arg;
    struct fsg_ctx *c = pl->c;

    if (type == FSG_TYPE_LINK || type == FSG_TYPE_OTHER) {
        refuse(pl, path, type == FSG_TYPE_LINK ? FSG_REFUSAL_LINK : FSG_REFUSAL_SPECIAL,
               FSG_DEFECT_NONE, type, 0);
        return 0;
    }
    if (type == FSG_TYPE_REG && (strcmp(path, FSG_MANIFEST_NAME) == 0 ||
                                 (pl->reserve_switch && strcmp(path, FSG_SWITCH_NAME) == 0))) {
        refuse(pl, path, FSG_REFUSAL_RESERVED, FSG_DEFECT_NONE, type, 0);
        return 0;
    }
    char *name = usr_name(c, path);
    if (name == NULL)
        return pl->err = FSG_ERR_NOMEM;
    int defect = fsg_name_check(name);
    if (defect != FSG_DEFECT_NONE) {
        refuse(pl, path, FSG_REFUSAL_NAME, defect, type, 0);
        fsg_free(c, name);
        return 0;
    }
    if (type == FSG_TYPE_DIR) {
        if (pl->nd == pl->capd) {
            size_t cap = pl->capd ? pl->capd * 2 : 16;
            char **v = fsg_realloc(c, pl->dirs, cap * sizeof *v);
            if (v == NULL) {
                fsg_free(c, name);
                return pl->err = FSG_ERR_NOMEM;
            }
            pl->dirs = v;
            pl->capd = cap;
        }
        /* Kept as "path/": fsg_mkdirs creates the parents of a path. */
        size_t len = strlen(path);
        memmove(name, path, len);
        name[len] = '/';
        name[len + 1] = '\0';
        pl->dirs[pl->nd++] = name;
        
        return 0;
    }
    struct fsg_stat st;
    int err = pl->src->stat(pl->src->ctx, path, &st);
    if (err < 0 || st.type != FSG_TYPE_REG) {
        refuse(pl, path, err < 0 ? FSG_REFUSAL_UNREADABLE : FSG_REFUSAL_SPECIAL,
               FSG_DEFECT_NONE, type, err);
        fsg_free(c, name);
        return 0;
    }
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 64;
        struct fsg_pfile *v = fsg_realloc(c, pl->files, cap * sizeof *v);
        if (v == NULL) {
            fsg_free(c, name);
            return pl->err = FSG_ERR_NOMEM;
        }
        pl->files = v;
        pl->cap = cap;
    }
    struct fsg_pfile *f = &pl->files[pl->n++];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->size = st.size;
    return 0;
}

/* A directory of the tree that cannot be listed: refused, the walk goes on
 * so that every problem is reported at once. */
static int plan_error(void *arg, const char *dir, int err)
{
    refuse(arg, dir, FSG_REFUSAL_UNREADABLE, FSG_DEFECT_NONE, FSG_TYPE_DIR, err);
    return 0;
}

static int cmp_pfile(const void *a, const void *b)
{
    return strcmp(((const struct fsg_pfile *)a)->name, ((const struct fsg_pfile *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fsg_tree_plan(struct fsg_plan *pl)
{
    int err = fsg_walk(pl->c, pl->src, "", plan_entry, plan_error, pl);
    if (pl->err < 0)
        return pl->err;
    if (err < 0)
        return err;
    fsg_sort(pl->files, pl->n, sizeof *pl->files, cmp_pfile);
    fsg_sort(pl->dirs, pl->nd, sizeof *pl->dirs, cmp_str);
    return pl->refused > 0 ? FSG_ERR_INVAL : 0;
}

void fsg_tree_free(struct fsg_plan *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        fsg_free(pl->c, pl->files[i].name);
    fsg_free(pl->c, pl->files);
    for (size_t i = 0; i < pl->nd; i++)
        fsg_free(pl->c, pl->dirs[i]);
    fsg_free(pl->c, pl->dirs);
}
