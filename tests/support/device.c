/*
 * device.c -- the tests' fixtures over memport (see memport.h): the device
 * with a user and a backup partition (mpdev_*), the event recorder (rec_*),
 * the failing allocator (mp_talloc), the data generator and hash helpers,
 * and the JSON-table lookup.
 */
#include "memport.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *mp_xrealloc(void *p, size_t n)
{
    p = realloc(p, n == 0 ? 1 : n);
    if (p == NULL) {
        fputs("memport: out of memory\n", stderr);
        abort();
    }
    return p;
}

#define xrealloc mp_xrealloc
#define xmalloc(n) mp_xrealloc(NULL, (n))

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void mp_fill(void *p, size_t n, uint32_t seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(seed >> 16);
    }
}

uint32_t mp_crc(const void *data, size_t len)
{
    return fsg_crc32(FSG_CRC_INIT, data, len);
}

const char *mp_hash_str(const void *data, size_t len, char out[FSG_HASH_STRLEN])
{
    return fsg_hash_format(mp_crc(data, len), out);
}

static void on_event(void *ctx, const struct fsg_event *ev)
{
    struct mp_device *d = ctx;
    if (!d->record)
        return;
    if (d->nev == d->evcap) {
        d->evcap = d->evcap != 0 ? d->evcap * 2 : 16;
        d->ev = xrealloc(d->ev, d->evcap * sizeof *d->ev);
    }
    struct mp_event *e = &d->ev[d->nev++];
    memset(e, 0, sizeof *e);
    e->kind = ev->kind;
    e->name = ev->name != NULL ? xstrndup(ev->name, strlen(ev->name)) : NULL;
    e->status = ev->status;
    e->problem = ev->problem;
    e->failure = ev->failure;
    e->error = ev->error;
    e->expected = ev->expected;
    e->actual = ev->actual;
    e->recorded = ev->recorded;
    e->has_actual = ev->has_actual;
    e->entry_added = ev->entry_added;
    e->hash_only = ev->hash_only;
    e->source = ev->source;
    e->index = ev->index;
    e->defect = ev->defect;
}

void mpdev_init(struct mp_device *d)
{
    memset(d, 0, sizeof *d);
    d->usr = memport_new();
    d->bak = memport_new();
    d->cfg.usr = memport_port(d->usr);
    d->cfg.bak = memport_port(d->bak);
    d->cfg.on_event = on_event;
    d->cfg.event_ctx = d;
    d->record = 1;
    memport_put_str(d->bak, "backup_restore.json", "{\"enable\": 1}");
}

static void clear_events(struct mp_device *d)
{
    for (size_t i = 0; i < d->nev; i++)
        free(d->ev[i].name);
    d->nev = 0;
}

void mpdev_free(struct mp_device *d)
{
    clear_events(d);
    free(d->ev);
    free(d->man);
    memport_free(d->usr);
    memport_free(d->bak);
    memset(d, 0, sizeof *d);
}

static void man_append(struct mp_device *d, const char *s)
{
    size_t n = strlen(s);
    if (d->manlen + n + 1 > d->mancap) {
        d->mancap = d->mancap != 0 ? d->mancap : 256;
        while (d->manlen + n + 1 > d->mancap)
            d->mancap *= 2;
        d->man = xrealloc(d->man, d->mancap);
    }
    memcpy(d->man + d->manlen, s, n + 1);
    d->manlen += n;
}

void mpdev_place(struct mp_device *d, const char *name, const void *data, size_t len)
{
    if (memport_put(d->bak, name + 1, data, len) < 0 ||
        memport_put(d->usr, name + 5, data, len) < 0) {
        fprintf(stderr, "mpdev_place: cannot place %s\n", name);
        abort();
    }
}

void mpdev_add(struct mp_device *d, const char *name, const void *data, size_t len)
{
    char hash[FSG_HASH_STRLEN];
    char *line = xmalloc(strlen(name) + 64);

    mpdev_place(d, name, data, len);
    /* MicroPython's ujson.dumps style, as QPYcom writes it. */
    sprintf(line, "%s{\"name\": \"%s\", \"crc32\": \"%s\"}", d->manlen > 0 ? ", " : "", name,
            mp_hash_str(data, len, hash));
    man_append(d, line);
    free(line);
}

void mpdev_add_str(struct mp_device *d, const char *name, const char *text)
{
    mpdev_add(d, name, text, strlen(text));
}

void mpdev_save(struct mp_device *d)
{
    size_t n = d->manlen + 3;
    char *text = xmalloc(n);
    snprintf(text, n, "[%s]", d->man != NULL ? d->man : "");
    memport_put_str(d->bak, "checksum.json", text);
    memport_put_str(d->usr, "checksum.json", text);
    free(text);
}

void mpdev_reset(struct mp_device *d)
{
    clear_events(d);
    memport_reset_ops(d->usr);
    memport_reset_ops(d->bak);
}

int mpdev_boot(struct mp_device *d, int flags, struct fsg_report *r)
{
    mpdev_reset(d);
    return fsg_boot(&d->cfg, flags, r);
}

static bool name_eq(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

const struct mp_event *mpdev_event(const struct mp_device *d, int kind, const char *name)
{
    for (size_t i = 0; i < d->nev; i++)
        if (d->ev[i].kind == kind && name_eq(d->ev[i].name, name))
            return &d->ev[i];
    return NULL;
}

const struct mp_event *mpdev_entry_event(const struct mp_device *d, int source,
                                         unsigned long index)
{
    for (size_t i = 0; i < d->nev; i++)
        if (d->ev[i].kind == FSG_EVENT_ENTRY && d->ev[i].source == source &&
            d->ev[i].index == index)
            return &d->ev[i];
    return NULL;
}

size_t mpdev_count(const struct mp_device *d, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nev; i++)
        n += d->ev[i].kind == kind;
    return n;
}

void *mp_talloc_fn(void *ctx, void *ptr, size_t size)
{
    struct mp_talloc *a = ctx;
    if (size == 0) {
        if (ptr != NULL)
            a->live--;
        free(ptr);
        return NULL;
    }
    if (size > a->largest)
        a->largest = size;
    if (++a->calls == a->fail_at)
        return NULL;
    void *q = realloc(ptr, size);
    if (q != NULL && ptr == NULL)
        a->live++;
    return q;
}

int memport_table_find(const struct memport *mp, const char *path, const char *name,
                       int (*fn)(void *arg, const struct cJSON *entry), void *arg)
{
    size_t len;
    const char *text = memport_get(mp, path, &len);
    if (text == NULL)
        return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return -1;
    }
    int r = 0;
    cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0 && (r = fn(arg, item)) != 0)
            break;
    }
    cJSON_Delete(root);
    return r;
}

/* The first entry of the name with a parseable crc32. */
static int take_crc(void *arg, const cJSON *entry)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(entry, "crc32");
    return cJSON_IsString(c) && fsg_hash_parse(c->valuestring, arg) == 0;
}

int mpdev_usr_crc(const struct mp_device *d, const char *name, uint32_t *crc)
{
    return memport_table_find(d->usr, "checksum.json", name, take_crc, crc);
}

void rec_on_event(void *ctx, const struct fsg_event *ev)
{
    struct rec *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct fsg_event *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL)
            abort();
        r->v = v;
        r->cap = cap;
    }
    struct fsg_event *e = &r->v[r->n++];
    *e = *ev;
    if (ev->name != NULL) {
        size_t len = strlen(ev->name) + 1;
        char *name = malloc(len);
        if (name == NULL)
            abort();
        memcpy(name, ev->name, len);
        e->name = name;
    }
}

void rec_clear(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free((char *)(uintptr_t)r->v[i].name);
    free(r->v);
    memset(r, 0, sizeof *r);
}

size_t rec_count(const struct rec *r, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->v[i].kind == kind;
    return n;
}

const struct fsg_event *rec_find(const struct rec *r, int kind, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].kind == kind && r->v[i].name != NULL && strcmp(r->v[i].name, name) == 0)
            return &r->v[i];
    return NULL;
}
