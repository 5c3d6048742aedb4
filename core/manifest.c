/*
 * manifest.c -- checksum.json: parsing, indexing, loading and saving tables.
 * The array is walked one element at a time, each element parsed by cJSON on
 * its own, so memory stays proportional to one entry rather than to a tree
 * of the whole file, and a bad entry is refused without losing the others.
 */
#include "fsg_internal.h"

#include <cjson/cJSON.h>
#include <string.h>

void fsg_manifest_free(struct fsg_ctx *c, struct fsg_manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        fsg_free(c, m->v[i].name);
        fsg_free(c, m->v[i].raw);
        fsg_free(c, m->v[i].extra);
        fsg_free(c, m->v[i].pend);
    }
    fsg_free(c, m->v);
    fsg_free(c, m->index);
    memset(m, 0, sizeof *m);
}

int fsg_entry_set_pending(struct fsg_ctx *c, struct fsg_entry *e, const struct fsg_sum *sum)
{
    if (sum == NULL) {
        fsg_free(c, e->pend);
        e->pend = NULL;
        return 0;
    }
    if (e->pend == NULL && (e->pend = fsg_alloc(c, sizeof *e->pend)) == NULL)
        return FSG_ERR_NOMEM;
    *e->pend = *sum;
    return 0;
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

static char *dup_span(struct fsg_ctx *c, const char *p, size_t n)
{
    char *d = fsg_alloc(c, n + 1);
    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
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

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Span scanning over text cJSON has already accepted as one JSON object:
 * it only finds where each member's key and value start and end, so that
 * kept keys and refused entries are written back byte for byte (cJSON would
 * reprint numbers through a double and cut strings at \u0000). */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < end ? p + 1 : end;
}

static const char *skip_value(const char *p, const char *end)
{
    const char *start = p;
    int depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = skip_string(p, end);
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                break;
            depth--;
        } else if (*p == ',' && depth == 0) {
            break;
        }
        p++;
    }
    while (p > start && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' || p[-1] == '\r'))
        p--;
    return p;
}

/* True if a JSON string's source holds a \u0000 escape. */
static bool has_nul_escape(const char *p, const char *end)
{
    for (; p + 5 < end; p++) {
        if (*p != '\\')
            continue;
        if (p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
            return true;
        p++; /* the escaped character, so "\\u0000" is not one */
    }
    return false;
}

/* The value of the \uXXXX escape at p (p + 6 <= end, p[0] == '\\'), or -1. */
static long u_escape(const char *p, const char *end)
{
    long v = 0;
    if (end - p < 6 || p[1] != 'u')
        return -1;
    for (int i = 2; i < 6; i++) {
        int d = fsg_hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Finds the \u escapes of UTF-16 surrogates in p..end that are not half of
 * a pair (RFC 8259 allows them; cJSON refuses them). With fix, each one's
 * digits become FFFD, the same length, so that spans in a fixed copy are
 * the spans of the original. Returns how many there are. */
static size_t lone_surrogates(char *fix, const char *p, const char *end)
{
    size_t n = 0;
    for (const char *q = p; q < end; q++) {
        if (*q != '\\')
            continue;
        long v = u_escape(q, end);
        if (v >= 0xD800 && v <= 0xDBFF) {
            long w = q + 12 <= end && q[6] == '\\' ? u_escape(q + 6, end) : -1;
            if (w >= 0xDC00 && w <= 0xDFFF) {
                q += 11; /* a pair: both halves */
                continue;
            }
        }
        if (v >= 0xD800 && v <= 0xDFFF) {
            if (fix != NULL)
                memcpy(fix + (q - p) + 2, "FFFD", 4);
            n++;
        }
        q++; /* the escaped character: an escaped backslash ends here */
    }
    return n;
}

/* Member keys take_entry uses; every other member is kept as text. */
enum { K_NAME, K_CRC, K_SHA, K_PEND, K_PEND_SHA, K_COUNT };
static const char *const known_keys[K_COUNT] = {"name", "crc32", "sha256", FSG_PENDING_KEY,
                                                FSG_PENDING_KEY "_sha256"};

/* Reads the hashes of members crc and sha (either may be NULL) into out.
 * Returns FSG_DEFECT_NONE, bad_type or bad_value. */
static int take_sum(const cJSON *crc, const cJSON *sha, struct fsg_sum *out, int bad_type,
                    int bad_value)
{
    memset(out, 0, sizeof *out);
    if ((crc != NULL && !cJSON_IsString(crc)) || (sha != NULL && !cJSON_IsString(sha)))
        return bad_type;
    if (crc != NULL) {
        if (fsg_hash_parse(crc->valuestring, &out->crc) < 0)
            return bad_value;
        out->kinds |= FSG_HASH_CRC32;
    }
    if (sha != NULL) {
#ifdef FSG_NO_CRYPTO
        /* A hash this build cannot compute is never taken as checked. */
        return FSG_DEFECT_HASH_UNSUPPORTED;
#else
        if (fsg_sha256_parse(sha->valuestring, out->sha) < 0)
            return bad_value;
        out->kinds |= FSG_HASH_SHA256;
#endif
    }
    return FSG_DEFECT_NONE;
}

/* Classifies one array element, whose source is src..end; on success fills
 * e (name, hashes, extra). fixed: the table holds lone surrogates (cJSON
 * read a copy without them; without one, cJSON would have refused any).
 * Returns an enum fsg_defect, or FSG_ERR_NOMEM. */
static int take_entry(struct fsg_ctx *c, cJSON *item, const char *src, const char *end,
                      bool fixed, struct fsg_entry *e)
{
    cJSON *k[K_COUNT] = {NULL};
    int defect = FSG_DEFECT_NONE;

    if (!cJSON_IsObject(item))
        return FSG_DEFECT_NOT_OBJECT;
    for (cJSON *ch = item->child; ch != NULL; ch = ch->next) {
        for (int i = 0; i < K_COUNT; i++) {
            if (strcmp(ch->string, known_keys[i]) != 0)
                continue;
            if (k[i] != NULL)
                return FSG_DEFECT_DUP_KEY;
            k[i] = ch;
        }
    }
    cJSON *name = k[K_NAME];
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
    if (k[K_CRC] == NULL && k[K_SHA] == NULL)
        return FSG_DEFECT_NO_HASH;
    defect = take_sum(k[K_CRC], k[K_SHA], &e->sum, FSG_DEFECT_HASH_TYPE, FSG_DEFECT_HASH_BAD);
    if (defect != FSG_DEFECT_NONE)
        return defect;
    if (k[K_PEND] != NULL || k[K_PEND_SHA] != NULL) {
        /* A pending edit carries the same kinds of hash as its entry. */
        struct fsg_sum pend;
        defect = take_sum(k[K_PEND], k[K_PEND_SHA], &pend, FSG_DEFECT_PENDING_BAD,
                          FSG_DEFECT_PENDING_BAD);
        if (defect != FSG_DEFECT_NONE)
            return defect;
        if (pend.kinds != e->sum.kinds)
            return FSG_DEFECT_PENDING_BAD;
        if (fsg_entry_set_pending(c, e, &pend) < 0)
            return FSG_ERR_NOMEM;
    }

    /* Walk the members' source in step with cJSON's children: the name's
     * source must not hide a NUL, and the other members are kept as text. */
    const char *p = skip_ws(src, end) + 1, *keep = NULL;
    size_t keep_len = 0;
    char *extra = NULL;
    for (cJSON *ch = item->child; ch != NULL; ch = ch->next) {
        p = skip_ws(p, end);
        const char *key = p;
        p = skip_ws(skip_string(p, end), end) + 1; /* past ':' */
        const char *val = skip_ws(p, end);
        p = skip_value(val, end);
        int known = -1;
        for (int i = 0; i < K_COUNT; i++)
            if (ch == k[i])
                known = i;
        /* A NUL or half a surrogate pair can be in no name or hash. */
        if (known >= 0 &&
            (has_nul_escape(val, p) || (fixed && lone_surrogates(NULL, val, p) > 0))) {
            fsg_free(c, extra);
            return known == K_NAME                     ? FSG_DEFECT_NAME_CHARS
                   : known == K_CRC || known == K_SHA ? FSG_DEFECT_HASH_BAD
                                                       : FSG_DEFECT_PENDING_BAD;
        }
        if (known < 0) {
            size_t n = (size_t)(p - key);
            char *x = fsg_realloc(c, extra, keep_len + n + 2);
            if (x == NULL) {
                fsg_free(c, extra);
                return FSG_ERR_NOMEM;
            }
            extra = x;
            if (keep_len > 0)
                extra[keep_len++] = ',';
            memcpy(extra + keep_len, key, n);
            keep_len += n;
            extra[keep_len] = '\0';
            keep = extra;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',')
            p++;
    }
    e->extra = (char *)keep;
    return FSG_DEFECT_NONE;
}

int fsg_manifest_parse(struct fsg_ctx *c, const char *text, size_t len, int source,
                       struct fsg_manifest *m, uint64_t *offset)
{
    const char *p = text, *end = text + len;
    char *fixed = NULL; /* text for cJSON, lone surrogates made U+FFFD */
    int err = 0;

    memset(m, 0, sizeof *m);
    /* JSON allows no raw control byte but tab, LF and CR (inside strings
     * they must be escaped); cJSON would skip them as whitespace. */
    for (const char *q = text; q < end; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
            p = q;
            goto corrupt;
        }
    }
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    /* Every entry is an object: as many '{' as entries, or more. Sized
     * once, the array never doubles (a doubling holds both copies at once);
     * what is not needed is given back below. Only a hint: '{' inside
     * strings inflates it (a hostile table may be nothing else), so a
     * refusal of the allocator leaves the array to grow as it goes. */
    size_t objects = 0;
    for (const char *q = memchr(p, '{', (size_t)(end - p)); q != NULL;
         q = memchr(q + 1, '{', (size_t)(end - q - 1)))
        objects++;
    if (objects > 0)
        (void)fsg_manifest_reserve(c, m, objects);
    p = skip_ws(p, end);
    if (p == end || *p != '[')
        goto corrupt;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
        p++;
    } else {
        for (;;) {
            const char *stop = NULL;
            const char *in = fixed != NULL ? fixed + (p - text) : p;
            cJSON *item = cJSON_ParseWithLengthOpts(in, (size_t)(end - p), &stop, 0);
            if (item == NULL && fixed == NULL && lone_surrogates(NULL, p, end) > 0) {
                /* Valid JSON cJSON refuses: parse a copy in which each lone
                 * surrogate is U+FFFD (the same length, so every span maps
                 * back); the original's bytes are what is kept and checked,
                 * and an entry with one in its name or hashes is refused. */
                fixed = fsg_alloc(c, len + 1);
                if (fixed == NULL) {
                    err = FSG_ERR_NOMEM;
                    goto fail;
                }
                memcpy(fixed, text, len);
                fixed[len] = '\0';
                (void)lone_surrogates(fixed, text, end);
                continue;
            }
            if (stop != NULL && stop >= in && stop <= in + (end - p))
                stop = p + (stop - in); /* back to the original */
            else
                stop = NULL;
            if (item == NULL) {
                if (stop != NULL)
                    p = stop;
                goto corrupt;
            }
            struct fsg_entry *e;
            err = push(c, m, &e);
            if (err == 0) {
                int d = take_entry(c, item, p, stop, fixed != NULL, e);
                if (d == FSG_ERR_NOMEM) {
                    err = FSG_ERR_NOMEM;
                } else if (d != FSG_DEFECT_NONE) {
                    /* A refused entry goes back exactly as it came. */
                    e->raw = dup_span(c, p, (size_t)(skip_value(p, stop) - p));
                    e->defect = (unsigned char)d;
                    if (e->raw == NULL)
                        err = FSG_ERR_NOMEM;
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
    /* Growth doubled the array: give back what a table of this size does
     * not need (a 100,000-entry table would keep room for 131,072). */
    if (m->cap > m->n && m->n > 0) {
        struct fsg_entry *v = fsg_realloc(c, m->v, m->n * sizeof *v);
        if (v != NULL) {
            m->v = v;
            m->cap = m->n;
        }
    }
    /* Refused entries are reported only now: a file that turns out not to
     * be JSON at all is one problem, not a list of bad entries. */
    for (size_t i = 0; i < m->n; i++)
        if (!m->v[i].valid)
            report_defect(c, source, i, m->v[i].name, m->v[i].defect);
    fsg_free(c, fixed);
    return 0;

corrupt:
    err = FSG_ERR_CORRUPT;
    if (offset != NULL)
        *offset = (uint64_t)(p - text);
fail:
    fsg_free(c, fixed);
    fsg_manifest_free(c, m);
    return err;
}

/* Reads checksum.json of port whole. */
static int manifest_read(struct fsg_ctx *c, const struct fsg_port *port, char **text,
                         size_t *len)
{
    uint64_t max = c->cfg->manifest_max != 0 ? c->cfg->manifest_max : FSG_DEFAULT_MANIFEST_MAX;
    /* One more try after a read error, as for every file: a table given up
     * for one transient error loses the hashes of legitimate edits. */
    int err;
    FSG_RETRY(err, fsg_read_small(c, port, FSG_MANIFEST_NAME, max, text, len));
    return err;
}

int fsg_manifest_load(struct fsg_ctx *c, const struct fsg_port *port, int source,
                      struct fsg_manifest *m, uint64_t *offset)
{
    char *text;
    size_t len;

    memset(m, 0, sizeof *m);
    int err = manifest_read(c, port, &text, &len);
    if (err < 0)
        return err;
    err = fsg_manifest_parse(c, text, len, source, m, offset);
    fsg_free(c, text);
    return err;
}

int fsg_bak_load(struct fsg_ctx *c, struct fsg_manifest *m, uint64_t *offset, int *sig,
                 int *sig_err, char **keep, size_t *keep_len)
{
    int state = FSG_SIG_UNCHECKED, serr = 0;
    char *text = NULL;
    size_t len;

    memset(m, 0, sizeof *m);
    int err = manifest_read(c, c->bak, &text, &len);
    if (err == 0 && c->cfg->pubkey != NULL) {
        /* The bytes verified are the bytes parsed: nothing is read twice. */
        state = fsg_sig_check(c, text, len, &serr);
        if (state != FSG_SIG_GOOD)
            err = FSG_ERR_SIGNATURE;
    }
    if (sig != NULL)
        *sig = state;
    if (sig_err != NULL)
        *sig_err = serr;
    if (err < 0) {
        fsg_free(c, text); /* still NULL unless the read succeeded */
        return err;
    }
    err = fsg_manifest_parse(c, text, len, FSG_SOURCE_BAK, m, offset);
    if (err == 0)
        err = fsg_manifest_index(c, m, FSG_SOURCE_BAK);
    if (err == 0 && keep != NULL) {
        *keep = text;
        *keep_len = len;
    } else {
        fsg_free(c, text);
    }
    return err;
}

/* The backup table, for what the user table lacks; none at all means that
 * nothing is protected. */
static int bak_for_usr(struct fsg_ctx *c, struct fsg_manifest *bak)
{
    int err = fsg_bak_load(c, bak, NULL, NULL, NULL, NULL, NULL);
    return err == FSG_ERR_NOENT ? FSG_ERR_NOTPROTECTED : err;
}

int fsg_usr_load(struct fsg_ctx *c, struct fsg_manifest *m, int rule, struct fsg_usr_from *from,
                 bool *seeded)
{
    struct fsg_manifest own;
    const struct fsg_manifest *bak = from != NULL ? from->bak : NULL;
    uint64_t off = 0;
    char *text = NULL;
    size_t len = 0;

    memset(m, 0, sizeof *m);
    memset(&own, 0, sizeof own);
    *seeded = false;
    int err = manifest_read(c, c->usr, &text, &len);
    bool same = false;
    if (FSG_SPEEDUPS && from != NULL) {
        /* The same bytes as the backup's (a device as it left the factory)
         * are not parsed twice: the user table is a copy of the backup's.
         * (Without the speed-ups, no caller hands bytes over.) */
        same = err == 0 && from->bak_text != NULL && len == from->bak_len &&
               memcmp(text, from->bak_text, len) == 0;
        fsg_free(c, from->bak_text);
        from->bak_text = NULL;
    }
    if (same)
        err = fsg_manifest_clone(c, m, bak, FSG_SOURCE_USR);
    else if (err == 0)
        err = fsg_manifest_parse(c, text, len, FSG_SOURCE_USR, m, &off);
    fsg_free(c, text);

    /* A table that cannot be read (a permission, an error that persisted
     * after the second try) is not known to be invalid: rebuilding it would
     * lose every recorded edit, so no rule does. Missing, the table starts
     * as the backup's whatever the rule; invalid, only under the rule of a
     * rebuild. */
    if (err < 0 && from != NULL) {
        from->error = err;
        from->offset = off;
    }
    if (err == FSG_ERR_NOMEM || fsg_err_transient(err) ||
        (err < 0 && err != FSG_ERR_NOENT && rule != FSG_USR_REBUILD))
        return err;
    if (err < 0) {
        *seeded = true;
        if (bak == NULL) {
            err = bak_for_usr(c, &own);
            bak = &own;
        } else {
            err = 0;
        }
        if (err == 0)
            err = fsg_manifest_seed(c, m, bak);
        fsg_manifest_free(c, &own);
    }
    if (err == 0)
        err = fsg_manifest_index(c, m, FSG_SOURCE_USR);
    return err;
}

int fsg_manifest_put_back(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_entry *be)
{
    for (size_t k = 0; k < m->n; k++) {
        struct fsg_entry *ue = &m->v[k];
        if (!ue->valid && ue->name != NULL && strcmp(ue->name, be->name) == 0)
            ue->dropped = true;
    }
    return fsg_manifest_append(c, m, be);
}

int fsg_usr_entry(struct fsg_ctx *c, struct fsg_manifest *m, const char *name,
                  struct fsg_entry **out, bool *changed)
{
    struct fsg_manifest bak;

    int err = fsg_usr_load(c, m, FSG_USR_STRICT, NULL, changed);
    if (err < 0)
        return err;
    *out = fsg_manifest_find(m, name);
    if (*out != NULL)
        return 0;
    /* What boot would do: a name the backup table lists is protected even
     * when the user table lost its entry, or holds only a refused one. */
    err = bak_for_usr(c, &bak);
    if (err < 0)
        return err;
    const struct fsg_entry *be = fsg_manifest_find(&bak, name);
    err = be != NULL ? fsg_manifest_put_back(c, m, be) : FSG_ERR_NOTPROTECTED;
    fsg_manifest_free(c, &bak);
    if (err < 0)
        return err;
    /* Appending may have moved the entries the index points at: it is
     * dropped (fsg_manifest_free releases it). */
    m->nindex = 0;
    *out = &m->v[m->n - 1];
    *changed = true;
    return 0;
}

/* Copies into the new last entry of m the strings and hashes of s. On
 * failure m keeps the entry, for fsg_manifest_free to release. */
static int copy_entry(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_entry *s)
{
    struct fsg_entry *e;
    int err = push(c, m, &e);
    if (err < 0)
        return err;
    e->sum = s->sum;
    if ((s->name != NULL && (e->name = fsg_strdup(c, s->name)) == NULL) ||
        (s->raw != NULL && (e->raw = fsg_strdup(c, s->raw)) == NULL) ||
        (s->extra != NULL && (e->extra = fsg_strdup(c, s->extra)) == NULL) ||
        (s->pend != NULL && fsg_entry_set_pending(c, e, s->pend) < 0))
        return FSG_ERR_NOMEM;
    return 0;
}

int fsg_manifest_clone(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_manifest *src,
                       int source)
{
    memset(m, 0, sizeof *m);
    int err = fsg_manifest_reserve(c, m, src->n);
    for (size_t i = 0; i < src->n && err == 0; i++) {
        const struct fsg_entry *s = &src->v[i];
        err = copy_entry(c, m, s);
        if (m->n > i) {
            struct fsg_entry *e = &m->v[i];
            /* A later duplicate was refused by src's index, not by the parse. */
            e->valid = s->valid || (s->raw == NULL && s->defect == FSG_DEFECT_DUPLICATE);
            e->defect = e->valid ? FSG_DEFECT_NONE : s->defect;
        }
    }
    if (err < 0) {
        fsg_manifest_free(c, m);
        return err;
    }
    for (size_t i = 0; i < m->n; i++)
        if (!m->v[i].valid)
            report_defect(c, source, i, m->v[i].name, m->v[i].defect);
    return 0;
}

unsigned fsg_manifest_kinds(const struct fsg_manifest *m)
{
    unsigned kinds = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].valid && !m->v[i].dropped)
            kinds |= m->v[i].sum.kinds;
    return kinds != 0 ? kinds : FSG_HASH_CRC32;
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
    fsg_sort(m->index, k, sizeof *m->index, cmp_entry);

    /* The first entry of a name wins; later ones are refused (and kept). */
    size_t out = 0;
    for (size_t i = 0; i < k; i++) {
        struct fsg_entry *e = m->index[i];
        if (out > 0 && strcmp(m->index[out - 1]->name, e->name) == 0) {
            /* Kept, and written back from its fields like a valid entry. */
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

/* Starts m as a copy of the backup manifest's usable entries, in its order. */
int fsg_manifest_seed(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_manifest *bak)
{
    for (size_t i = 0; i < bak->n; i++) {
        const struct fsg_entry *be = &bak->v[i];
        if (!be->valid || fsg_manifest_find(bak, be->name) != be)
            continue;
        int err = fsg_manifest_append(c, m, be);
        if (err < 0)
            return err;
    }
    return 0;
}

int fsg_manifest_append(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_entry *src)
{
    struct fsg_entry s = {.name = src->name, .extra = src->extra, .sum = src->sum};
    size_t n = m->n;
    int err = copy_entry(c, m, &s);
    if (err < 0 && m->n > n) {
        struct fsg_entry *e = &m->v[--m->n];
        fsg_free(c, e->name);
        fsg_free(c, e->extra);
    }
    if (err == 0)
        m->v[m->n - 1].valid = true;
    return err;
}

/* Output is buffered through the I/O buffer into the atomic file, or only
 * counted when there is no file. */
struct out {
    struct fsg_atomic *a;
    unsigned char *buf;
    size_t size, used;
    uint64_t total;
    int err;
};

static void out_flush(struct out *o)
{
    if (o->err == 0 && o->used > 0 && o->a != NULL)
        o->err = fsg_atomic_write(o->a, o->buf, o->used);
    o->total += o->used;
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

/* Writes a valid name as a JSON string. Names that passed fsg_name_check
 * hold no control character and no backslash, so '"' is all that needs an
 * escape; other bytes, UTF-8 included, go out as they are. */
static void out_name(struct out *o, const char *name)
{
    out_put(o, "\"");
    while (*name != '\0' && o->err == 0) {
        size_t n = strcspn(name, "\"");
        if (o->size - o->used > n) {
            memcpy(o->buf + o->used, name, n);
            o->used += n;
        } else {
            char piece[2] = {0, 0};
            for (size_t i = 0; i < n; i++) {
                piece[0] = name[i];
                out_put(o, piece);
            }
        }
        name += n;
        if (*name == '"') {
            out_put(o, "\\\"");
            name++;
        }
    }
    out_put(o, "\"");
}

/* The members of sum, under keys crc_key and sha_key. */
static void out_sum(struct out *o, const struct fsg_sum *sum, int crc_key, int sha_key)
{
    char hash[FSG_SHA256_STRLEN];

    if (sum->kinds & FSG_HASH_CRC32) {
        out_put(o, ",\"");
        out_put(o, known_keys[crc_key]);
        out_put(o, "\":\"");
        out_put(o, fsg_hash_format(sum->crc, hash));
        out_put(o, "\"");
    }
    if (sum->kinds & FSG_HASH_SHA256) {
        out_put(o, ",\"");
        out_put(o, known_keys[sha_key]);
        out_put(o, "\":\"");
        out_put(o, fsg_sha256_format(sum->sha, hash));
        out_put(o, "\"");
    }
}

/* One entry: verbatim if it was refused as it came, else name, crc32,
 * sha256, the pending hashes, then the kept members. */
static void out_entry(struct out *o, const struct fsg_entry *e)
{
    if (e->raw != NULL) {
        out_put(o, e->raw);
        return;
    }
    out_put(o, "{\"name\":");
    out_name(o, e->name);
    out_sum(o, &e->sum, K_CRC, K_SHA);
    if (e->pend != NULL)
        out_sum(o, e->pend, K_PEND, K_PEND_SHA);
    if (e->extra != NULL) {
        out_put(o, ",");
        out_put(o, e->extra);
    }
    out_put(o, "}");
}

/* Renders m into a (or only counts its bytes when a is NULL). */
static int render(struct fsg_ctx *c, const struct fsg_manifest *m, struct fsg_atomic *a,
                  uint64_t *size)
{
    struct out o = {a, c->buf, c->buf_size, 0, 0, 0};
    bool first = true;

    /* One entry per line: readable, diffable, and plain JSON to any reader. */
    out_put(&o, "[");
    for (size_t i = 0; i < m->n && o.err == 0; i++) {
        const struct fsg_entry *e = &m->v[i];
        if (e->dropped)
            continue;
        out_put(&o, first ? "\n" : ",\n");
        out_entry(&o, e);
        first = false;
    }
    out_put(&o, first ? "]\n" : "\n]\n");
    out_flush(&o);
    if (size != NULL)
        *size = o.total;
    return o.err;
}

uint64_t fsg_manifest_size(struct fsg_ctx *c, const struct fsg_manifest *m)
{
    uint64_t size = 0;
    (void)render(c, m, NULL, &size);
    return size;
}

int fsg_manifest_save_as(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                         const struct fsg_manifest *m)
{
    struct fsg_atomic a;
    int err = fsg_atomic_begin(&a, c, port, path);

    /* Every copy of the table (an update's old and new) has the live
     * table's bits. */
    fsg_atomic_perm(&a, port, FSG_MANIFEST_NAME);
    if (err == 0)
        err = render(c, m, &a, NULL);
    if (err < 0) {
        fsg_atomic_abort(&a);
        return err;
    }
    return fsg_atomic_commit(&a);
}

int fsg_manifest_save(struct fsg_ctx *c, const struct fsg_port *port,
                      const struct fsg_manifest *m)
{
#if defined(FSG_TEST_BREAK) && FSG_TEST_BREAK == 2
    struct fsg_atomic a;
    /* Broken on purpose, for the crash sweep's own test: the original's
     * in-place rewrite (remove, create, write, sync; no rename). */
    int err = port->remove(port->ctx, FSG_MANIFEST_NAME);
    if (err < 0 && err != FSG_ERR_NOENT)
        return err;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.port = port;
    fsg_hasher_init(&a.h, FSG_HASH_CRC32);
    err = port->open(port->ctx, FSG_MANIFEST_NAME, FSG_OPEN_CREATE, &a.file);
    if (err < 0)
        return err;
    err = render(c, m, &a, NULL);
    if (err == 0)
        err = port->sync(port->ctx, a.file);
    int cerr = port->close(port->ctx, a.file);
    return err < 0 ? err : cerr;
#else
    return fsg_manifest_save_as(c, port, FSG_MANIFEST_NAME, m);
#endif
}
