/*
 * memport.c -- the unit tests' in-memory partition (see memport.h): an
 * fsg_mem store with the wrapper port over it, and the few hands that are
 * more than a call into fsg_mem.h.
 */
#include "memport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define xmalloc(n) mp_xrealloc(NULL, (n))

struct memport *memport_new(void)
{
    struct memport *mp = xmalloc(sizeof *mp);
    mp->mem = fsg_mem_new();
    mp->fp = mp->mem != NULL ? faultport_new(fsg_mem_port(mp->mem)) : NULL;
    if (mp->fp == NULL) {
        fputs("memport: out of memory\n", stderr);
        abort();
    }
    return mp;
}

void memport_free(struct memport *mp)
{
    if (mp == NULL)
        return;
    faultport_free(mp->fp);
    fsg_mem_free(mp->mem);
    free(mp);
}

/* Makes room for a new node at path: a non-directory there goes. */
static int clear_for(struct memport *mp, const char *path)
{
    int type = fsg_mem_type(mp->mem, path);
    if (type == FSG_TYPE_DIR)
        return FSG_ERR_ISDIR;
    return type != 0 ? fsg_mem_remove(mp->mem, path) : 0;
}

int memport_symlink(struct memport *mp, const char *path, const char *target)
{
    int err = clear_for(mp, path);
    return err < 0 ? err : fsg_mem_symlink(mp->mem, path, target);
}

int memport_special(struct memport *mp, const char *path)
{
    int err = clear_for(mp, path);
    return err < 0 ? err : fsg_mem_special(mp->mem, path);
}

/* Every node's path and type, sorted by path (strcmp). */
struct nodes {
    struct node_ref {
        char *path;
        int type;
    } *v;
    size_t n, cap;
};

static void collect(void *arg, const char *path, int type)
{
    struct nodes *ns = arg;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap != 0 ? ns->cap * 2 : 64;
        ns->v = mp_xrealloc(ns->v, ns->cap * sizeof *ns->v);
    }
    size_t len = strlen(path) + 1;
    ns->v[ns->n].path = memcpy(xmalloc(len), path, len);
    ns->v[ns->n++].type = type;
}

static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const struct node_ref *)a)->path, ((const struct node_ref *)b)->path);
}

static void nodes_get(const struct memport *mp, struct nodes *ns)
{
    memset(ns, 0, sizeof *ns);
    fsg_mem_each(mp->mem, collect, ns);
    if (ns->n > 0)
        qsort(ns->v, ns->n, sizeof *ns->v, cmp_ref);
}

static void nodes_free(struct nodes *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i].path);
    free(ns->v);
}

static int is_temp(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b != NULL ? b + 1 : path;
    size_t n = strlen(b), s = strlen(".fsg-tmp");
    return n >= s && strcmp(b + n - s, ".fsg-tmp") == 0;
}

unsigned long memport_count_temps(const struct memport *mp, char *first, size_t size)
{
    struct nodes ns;
    unsigned long n = 0;
    nodes_get(mp, &ns);
    for (size_t i = 0; i < ns.n; i++)
        if (is_temp(ns.v[i].path) && n++ == 0 && first != NULL && size > 0)
            snprintf(first, size, "%s", ns.v[i].path);
    nodes_free(&ns);
    return n;
}

char *memport_dump(const struct memport *mp)
{
    struct nodes ns;
    size_t len = 0, cap = 256;
    char *out = xmalloc(cap);

    nodes_get(mp, &ns);
    out[0] = '\0';
    for (size_t i = 0; i < ns.n; i++) {
        const char *path = ns.v[i].path;
        char line[1600];
        char hash[FSG_HASH_STRLEN];
        size_t flen;
        const char *data;
        switch (ns.v[i].type) {
        case FSG_TYPE_REG:
            data = fsg_mem_get(mp->mem, path, &flen);
            snprintf(line, sizeof line, "F %s %zu %s\n", path, flen,
                     mp_hash_str(data, flen, hash));
            break;
        case FSG_TYPE_DIR:
            snprintf(line, sizeof line, "D %s\n", path);
            break;
        case FSG_TYPE_LINK:
            snprintf(line, sizeof line, "L %s -> %s\n", path,
                     fsg_mem_link_target(mp->mem, path));
            break;
        default:
            snprintf(line, sizeof line, "O %s\n", path);
            break;
        }
        size_t l = strlen(line);
        while (len + l + 1 > cap)
            cap *= 2;
        out = mp_xrealloc(out, cap);
        memcpy(out + len, line, l + 1);
        len += l;
    }
    nodes_free(&ns);
    return out;
}
