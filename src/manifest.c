/*
 * manifest.c -- checksum.json and backup_restore.json.
 * The array is walked one element at a time, each element parsed by cJSON on
 * its own, so memory stays proportional to one entry rather than to a tree
 * of the whole file, and a bad entry is refused without losing the others.
 */
#include "fsg_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void fsg_manifest_free(struct fsg_ctx *c, struct fsg_manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        fsg_free(c, m->v[i].name);
        fsg_free(c, m->v[i].raw);
        fsg_free(c, m->v[i].extra);
    }
    fsg_free(c, m->v);
    fsg_free(c, m->index);
    memset(m, 0, sizeof *m);
}

int fsg_manifest_reserve(struct fsg_ctx *c, struct fsg_manifest *m, size_t cap)
{
    if (cap <= m->cap)
        return 0;
    if (cap > SIZE_MAX / sizeof *m->v)
        return FSG_ERR_NOMEM;
    struct fsg_entry *v = fsg_realloc(c, m->v, cap * sizeof *v);
    if (v == NULL)
        return FSG_ERR_NOMEM;
    m->v = v;
    m->cap = cap;
    return 0;
}

static int push(struct fsg_ctx *c, struct fsg_manifest *m, struct fsg_entry **out)
{
    if (m->n == m->cap) {
        int err = fsg_manifest_reserve(c, m, m->cap != 0 ? m->cap * 2 : 16);
        if (err < 0)
            return err;
    }
    *out = &m->v[m->n++];
    memset(*out, 0, sizeof **out);
    return 0;
}

/* Copies a string cJSON allocated into our allocator and frees cJSON's. */
static char *adopt(struct fsg_ctx *c, char *s)
{
    if (s == NULL)
        return NULL;
    char *d = fsg_strdup(c, s);
    cJSON_free(s);
    return d;
}

static void report_defect(struct fsg_ctx *c, int source, size_t index, const char *name,
                          int defect)
{
    struct fsg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FSG_EVENT_ENTRY;
    ev.source = source;
    ev.index = (unsigned long)index;
    ev.name = name;
    ev.defect = defect;
    fsg_emit(c, &ev);
}

/* Classifies one array element; on success fills e (name, crc, extra). */
static int take_entry(struct fsg_ctx *c, cJSON *item, struct fsg_entry *e)
{
    cJSON *name = NULL, *crc = NULL;
    int defect = FSG_DEFECT_NONE;

    if (!cJSON_IsObject(item))
        return FSG_DEFECT_NOT_OBJECT;
    for (cJSON *ch = item->child; ch != NULL; ch = ch->next) {
        cJSON **slot = NULL;
        if (ch->string != NULL && strcmp(ch->string, "name") == 0)
            slot = &name;
        else if (ch->string != NULL && strcmp(ch->string, "crc32") == 0)
            slot = &crc;
        else
            continue;
        if (*slot != NULL)
            return FSG_DEFECT_DUP_KEY;
        *slot = ch;
    }
    if (name == NULL)
        return FSG_DEFECT_NO_NAME;
    if (!cJSON_IsString(name))
        return FSG_DEFECT_NAME_TYPE;
    /* Keep the name string even for a refused entry: reports show it. */
    e->name = fsg_strdup(c, name->valuestring);
    if (e->name == NULL)
        return FSG_ERR_NOMEM;
    defect = fsg_name_check(name->valuestring);
    if (defect != FSG_DEFECT_NONE)
        return defect;
    if (crc == NULL)
        return FSG_DEFECT_NO_HASH;
    if (!cJSON_IsString(crc))
        return FSG_DEFECT_HASH_TYPE;
    if (fsg_hash_parse(crc->valuestring, &e->crc) < 0)
        return FSG_DEFECT_HASH_BAD;

    /* What is left once name and crc32 are taken out is kept verbatim. */
    cJSON_Delete(cJSON_DetachItemViaPointer(item, name));
    cJSON_Delete(cJSON_DetachItemViaPointer(item, crc));
    if (item->child != NULL) {
        e->extra = adopt(c, cJSON_PrintUnformatted(item));
        if (e->extra == NULL)
            return FSG_ERR_NOMEM;
    }
    return FSG_DEFECT_NONE;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

int fsg_manifest_parse(struct fsg_ctx *c, const char *text, size_t len, int source,
                       struct fsg_manifest *m, uint64_t *offset)
{
    const char *p = text, *end = text + len;
    int err = 0;

    memset(m, 0, sizeof *m);
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    p = skip_ws(p, end);
    if (p == end || *p != '[')
        goto corrupt;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
        p++;
    } else {
        for (;;) {
            const char *stop = NULL;
            cJSON *item = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
            if (item == NULL) {
                if (stop != NULL && stop >= p && stop <= end)
                    p = stop;
                goto corrupt;
            }
            struct fsg_entry *e;
            err = push(c, m, &e);
            if (err == 0) {
                /* take_entry leaves a refused item intact, to print verbatim. */
                int d = take_entry(c, item, e);
                if (d == FSG_ERR_NOMEM) {
                    err = FSG_ERR_NOMEM;
                } else if (d != FSG_DEFECT_NONE) {
                    e->raw = adopt(c, cJSON_PrintUnformatted(item));
                    if (e->raw == NULL)
                        err = FSG_ERR_NOMEM;
                    report_defect(c, source, m->n - 1, e->name, d);
                } else {
                    e->valid = true;
                }
            }
            cJSON_Delete(item);
            if (err < 0)
                goto fail;
            p = skip_ws(stop, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == ']') {
                p++;
                break;
            }
            goto corrupt;
        }
    }
    p = skip_ws(p, end);
    if (p != end)
        goto corrupt;
    return 0;

corrupt:
    err = FSG_ERR_CORRUPT;
    if (offset != NULL)
        *offset = (uint64_t)(p - text);
fail:
    fsg_manifest_free(c, m);
    return err;
}

/* Reads a whole small file through port into an allocated, NUL-terminated
 * buffer. */
static int slurp(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                 uint64_t max, char **out, size_t *len)
{
    struct fsg_stat st;
    void *f;
    int err = port->stat(port->ctx, path, &st);

    if (err < 0)
        return err;
    if (st.type != FSG_TYPE_REG)
        return st.type == FSG_TYPE_DIR ? FSG_ERR_ISDIR : FSG_ERR_NOTREG;
    if (st.size > max || st.size >= SIZE_MAX)
        return FSG_ERR_FBIG;
    err = port->open(port->ctx, path, FSG_OPEN_READ, &f);
    if (err < 0)
        return err;
    size_t cap = (size_t)st.size + 1, n = 0;
    char *buf = fsg_alloc(c, cap);
    if (buf == NULL) {
        (void)port->close(port->ctx, f);
        return FSG_ERR_NOMEM;
    }
    for (;;) {
        if (n + 1 == cap) {
            /* The file grew since stat; read on, within the limit. */
            if (cap > max) {
                err = FSG_ERR_FBIG;
                break;
            }
            size_t ncap = cap * 2 > max + 1 ? (size_t)max + 2 : cap * 2;
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

int fsg_manifest_load(struct fsg_ctx *c, const struct fsg_port *port, int source,
                      struct fsg_manifest *m, uint64_t *offset)
{
    uint64_t max = c->cfg->manifest_max != 0 ? c->cfg->manifest_max : FSG_DEFAULT_MANIFEST_MAX;
    char *text;
    size_t len;

    memset(m, 0, sizeof *m);
    int err = slurp(c, port, FSG_MANIFEST_NAME, max, &text, &len);
    if (err < 0)
        return err;
    err = fsg_manifest_parse(c, text, len, source, m, offset);
    fsg_free(c, text);
    return err;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct fsg_entry *x = *(const struct fsg_entry *const *)a;
    const struct fsg_entry *y = *(const struct fsg_entry *const *)b;
    int r = strcmp(x->name, y->name);
    if (r != 0)
        return r;
    /* Entries live in one array: address order is file order. */
    return (x > y) - (x < y);
}

int fsg_manifest_index(struct fsg_ctx *c, struct fsg_manifest *m, int source)
{
    size_t k = 0;

    fsg_free(c, m->index);
    m->index = NULL;
    m->nindex = 0;
    m->index = fsg_alloc(c, (m->n != 0 ? m->n : 1) * sizeof *m->index);
    if (m->index == NULL)
        return FSG_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].valid && !m->v[i].dropped)
            m->index[k++] = &m->v[i];
    qsort(m->index, k, sizeof *m->index, cmp_entry);

    /* The first entry of a name wins; later ones are refused (and kept). */
    size_t out = 0;
    for (size_t i = 0; i < k; i++) {
        struct fsg_entry *e = m->index[i];
        if (out > 0 && strcmp(m->index[out - 1]->name, e->name) == 0) {
            char hash[FSG_HASH_STRLEN];
            cJSON *o = cJSON_CreateObject();
            if (o == NULL || cJSON_AddStringToObject(o, "name", e->name) == NULL ||
                cJSON_AddStringToObject(o, "crc32", fsg_hash_format(e->crc, hash)) == NULL) {
                cJSON_Delete(o);
                return FSG_ERR_NOMEM;
            }
            if (e->extra != NULL) {
                cJSON *x = cJSON_Parse(e->extra);
                while (x != NULL && x->child != NULL) {
                    cJSON *ch = cJSON_DetachItemViaPointer(x, x->child);
                    cJSON_AddItemToObject(o, ch->string, ch);
                }
                cJSON_Delete(x);
            }
            e->raw = adopt(c, cJSON_PrintUnformatted(o));
            cJSON_Delete(o);
            if (e->raw == NULL)
                return FSG_ERR_NOMEM;
            e->valid = false;
            report_defect(c, source, (size_t)(e - m->v), e->name, FSG_DEFECT_DUPLICATE);
            continue;
        }
        m->index[out++] = e;
    }
    m->nindex = out;
    return 0;
}

struct fsg_entry *fsg_manifest_find(const struct fsg_manifest *m, const char *name)
{
    size_t lo = 0, hi = m->nindex;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(m->index[mid]->name, name);
        if (r == 0)
            return m->index[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int fsg_manifest_append(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_entry *src)
{
    struct fsg_entry *e;
    int err = push(c, m, &e);
    if (err < 0)
        return err;
    e->valid = true;
    e->crc = src->crc;
    e->name = fsg_strdup(c, src->name);
    if (src->extra != NULL)
        e->extra = fsg_strdup(c, src->extra);
    if (e->name == NULL || (src->extra != NULL && e->extra == NULL)) {
        fsg_free(c, e->name);
        fsg_free(c, e->extra);
        m->n--;
        return FSG_ERR_NOMEM;
    }
    return 0;
}

/* Output is buffered through the I/O buffer into the atomic file. */
struct out {
    struct fsg_atomic *a;
    unsigned char *buf;
    size_t size, used;
    int err;
};

static void out_flush(struct out *o)
{
    if (o->err == 0 && o->used > 0)
        o->err = fsg_atomic_write(o->a, o->buf, o->used);
    o->used = 0;
}

static void out_put(struct out *o, const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && o->err == 0) {
        size_t k = o->size - o->used < n ? o->size - o->used : n;
        memcpy(o->buf + o->used, s, k);
        o->used += k;
        s += k;
        n -= k;
        if (o->used == o->size)
            out_flush(o);
    }
}

/* One valid entry as a JSON object: name, crc32, then the kept keys. */
static char *entry_json(const struct fsg_entry *e)
{
    char hash[FSG_HASH_STRLEN];
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;

    if (o == NULL || cJSON_AddStringToObject(o, "name", e->name) == NULL ||
        cJSON_AddStringToObject(o, "crc32", fsg_hash_format(e->crc, hash)) == NULL)
        goto done;
    if (e->extra != NULL) {
        cJSON *x = cJSON_Parse(e->extra);
        if (x == NULL)
            goto done;
        while (x->child != NULL) {
            cJSON *ch = cJSON_DetachItemViaPointer(x, x->child);
            cJSON_AddItemToObject(o, ch->string, ch);
        }
        cJSON_Delete(x);
    }
    s = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    return s;
}

int fsg_manifest_save(struct fsg_ctx *c, const struct fsg_manifest *m)
{
    struct fsg_atomic a;
    struct out o;
    bool first = true;
    int err = fsg_atomic_begin(&a, c, FSG_MANIFEST_NAME);

    if (err < 0) {
        fsg_atomic_abort(&a);
        return err;
    }
    o.a = &a;
    o.buf = c->buf;
    o.size = c->buf_size;
    o.used = 0;
    o.err = 0;
    /* One entry per line: readable, diffable, and plain JSON to any reader. */
    out_put(&o, "[");
    for (size_t i = 0; i < m->n && o.err == 0; i++) {
        const struct fsg_entry *e = &m->v[i];
        if (e->dropped)
            continue;
        char *s = e->valid ? entry_json(e) : NULL;
        if (e->valid && s == NULL) {
            o.err = FSG_ERR_NOMEM;
            break;
        }
        out_put(&o, first ? "\n" : ",\n");
        out_put(&o, e->valid ? s : e->raw);
        cJSON_free(s);
        first = false;
    }
    out_put(&o, first ? "]\n" : "\n]\n");
    out_flush(&o);
    if (o.err < 0) {
        fsg_atomic_abort(&a);
        return o.err;
    }
    return fsg_atomic_commit(&a);
}

int fsg_switch_read(struct fsg_ctx *c, int *err)
{
    char *text;
    size_t len;
    int feature;

    *err = slurp(c, c->bak, FSG_SWITCH_NAME, FSG_SWITCH_MAX, &text, &len);
    if (*err == FSG_ERR_NOENT)
        return FSG_FEATURE_NO_SWITCH;
    if (*err < 0)
        return FSG_FEATURE_BAD_SWITCH;
    cJSON *root = cJSON_ParseWithLength(text, len);
    cJSON *en = cJSON_GetObjectItemCaseSensitive(root, "enable");
    if (cJSON_IsBool(en)) {
        feature = cJSON_IsTrue(en) ? FSG_FEATURE_ENABLED : FSG_FEATURE_DISABLED;
    } else if (cJSON_IsNumber(en)) {
        feature = en->valuedouble != 0 ? FSG_FEATURE_ENABLED : FSG_FEATURE_DISABLED;
    } else {
        feature = FSG_FEATURE_BAD_SWITCH;
        *err = FSG_ERR_CORRUPT;
    }
    cJSON_Delete(root);
    fsg_free(c, text);
    return feature;
}
