/*
 * test_manifest.c -- checksum.json as QuecPython writes it and as fsguard
 * reads, refuses, keeps and rewrites it: through fsg_boot with memport, and
 * through the internal parser (fsg_internal.h) directly.
 */
#include "check.h"
#include "fsg_internal.h"
#include "memport.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    memcpy(d, s, n);
    return d;
}

/* A growing string. */
struct sb {
    char *s;
    size_t len, cap;
};

static void sb_add(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > b->cap)
            b->cap *= 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* A device with three protected files, all intact, manifests identical. */
static void setup3(struct mp_device *d)
{
    mpdev_init(d);
    mpdev_add_str(d, "/usr/a.py", "print('a')\n");
    mpdev_add_str(d, "/usr/b.py", "print('b')\n");
    mpdev_add_str(d, "/usr/d/c.py", "print('c')\n");
    mpdev_save(d);
}

static const char *hash_of(const char *text, char out[FSG_HASH_STRLEN])
{
    return mp_hash_str(text, strlen(text), out);
}

/* The user checksum.json parsed, or NULL if it is not a JSON array. */
static cJSON *usr_json(const struct mp_device *d)
{
    size_t len;
    const char *t = memport_get(d->usr, "checksum.json", &len);
    if (t == NULL)
        return NULL;
    cJSON *j = cJSON_ParseWithLength(t, len);
    if (!cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static cJSON *find_entry(cJSON *arr, const char *name)
{
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return it;
    }
    return NULL;
}

/* ---- QuecPython's own format ---- */

static void test_quecpython_input(void)
{
    struct mp_device d;
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off = 0;
    const char *text = "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1c291ca3\"}]";

    mpdev_init(&d);
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    CHECK_EQ_INT(fsg_manifest_parse(&c, text, strlen(text), FSG_SOURCE_USR, &m, &off), 0);
    CHECK_EQ_INT(m.n, 1);
    if (m.n == 1) {
        CHECK(m.v[0].valid);
        CHECK_EQ_STR(m.v[0].name, "/usr/a.py");
        CHECK_EQ_INT(m.v[0].sum.crc, 0x1c291ca3u);
        CHECK(m.v[0].extra == NULL);
        CHECK(m.v[0].raw == NULL);
    }
    fsg_manifest_free(&c, &m);

    /* Compact, pretty-printed and padded/uppercase hashes all read alike. */
    const char *variants[] = {
        "[{\"name\":\"/usr/a.py\",\"crc32\":\"0x1c291ca3\"}]",
        "[\n  {\n    \"crc32\": \"0X1C291CA3\",\n    \"name\": \"/usr/a.py\"\n  }\n]\n",
        "\t[ {\"name\" : \"/usr/a.py\" , \"crc32\" : \"1c291ca3\"} ]\r\n",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        CHECK_EQ_INT(fsg_manifest_parse(&c, variants[i], strlen(variants[i]), FSG_SOURCE_USR, &m,
                                        &off),
                     0);
        CHECK_EQ_INT(m.n, 1);
        if (m.n == 1) {
            CHECK(m.v[0].valid);
            CHECK_EQ_INT(m.v[0].sum.crc, 0x1c291ca3u);
            CHECK_EQ_STR(m.v[0].name, "/usr/a.py");
        }
        fsg_manifest_free(&c, &m);
    }
    /* An empty array is a valid manifest with no entries. */
    CHECK_EQ_INT(fsg_manifest_parse(&c, " [ ] ", 5, FSG_SOURCE_USR, &m, &off), 0);
    CHECK_EQ_INT(m.n, 0);
    fsg_manifest_free(&c, &m);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_ENTRY), 0);
    fsg_ctx_fini(&c);

    /* A whole device in QPYcom's output style boots clean, writing nothing. */
    mpdev_free(&d);
    setup3(&d);
    struct fsg_report r;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.feature, FSG_FEATURE_ENABLED);
    CHECK_EQ_INT(r.files, 3);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(r.bad_entries, 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    mpdev_free(&d);
}

/* ---- unknown keys survive a rewrite ---- */

static void test_unknown_keys_kept(void)
{
    struct mp_device d;
    struct fsg_report r;
    char ha[FSG_HASH_STRLEN], hb[FSG_HASH_STRLEN], hc[FSG_HASH_STRLEN];
    char text[1024];

    setup3(&d);
    /* a.py's entry holds a stale hash and extra keys; the file is damaged. */
    snprintf(text, sizeof text,
             "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1234\", \"mode\": 420, \"note\": \"x\"},\n"
             " {\"name\": \"/usr/b.py\", \"crc32\": \"%s\", \"tags\": [1, \"two\", {\"k\": null}]},\n"
             " {\"name\": \"/usr/d/c.py\", \"crc32\": \"%s\"}]",
             hash_of("print('b')\n", hb), hash_of("print('c')\n", hc));
    memport_put_str(d.usr, "checksum.json", text);
    memport_put_str(d.usr, "a.py", "garbage");

    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UPDATED);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('a')\n");

    cJSON *j = usr_json(&d);
    CHECK(j != NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(j), 3);
    cJSON *a = find_entry(j, "/usr/a.py");
    CHECK(a != NULL);
    if (a != NULL) {
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "crc32")),
                     hash_of("print('a')\n", ha));
        cJSON *mode = cJSON_GetObjectItemCaseSensitive(a, "mode");
        CHECK(cJSON_IsNumber(mode) && mode->valueint == 420);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "note")), "x");
        CHECK_EQ_INT(cJSON_GetArraySize(a), 4); /* nothing added */
    }
    /* The untouched entries keep their hash and keys exactly. */
    cJSON *b = find_entry(j, "/usr/b.py");
    cJSON *want = cJSON_Parse("{\"name\": \"/usr/b.py\", \"crc32\": \"\", \"tags\": [1, \"two\", {\"k\": null}]}");
    cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(want, "crc32"), hb);
    CHECK(b != NULL && cJSON_Compare(b, want, 1));
    cJSON_Delete(want);
    /* Order is kept: a, b, c. */
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 0), "name")), "/usr/a.py");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 2), "name")), "/usr/d/c.py");
    cJSON_Delete(j);

    /* Direct: extra holds exactly the unknown keys. */
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off;
    const char *t = "[{\"note\": \"x\", \"name\": \"/usr/a.py\", \"mode\": 420, \"crc32\": \"0x5\"}]";
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, strlen(t), FSG_SOURCE_USR, &m, &off), 0);
    CHECK_EQ_INT(m.n, 1);
    if (m.n == 1) {
        CHECK(m.v[0].valid);
        /* The members' source text, joined by commas: byte for byte. */
        CHECK_EQ_STR(m.v[0].extra, "\"note\": \"x\",\"mode\": 420");
    }
    fsg_manifest_free(&c, &m);
    fsg_ctx_fini(&c);
    mpdev_free(&d);
}

/* Unknown keys are kept verbatim: a 64-bit integer must not be rounded
 * through a double. */
static void test_unknown_keys_big_numbers(void)
{
    struct mp_device d;
    struct fsg_report r;
    char text[1024], hb[FSG_HASH_STRLEN], hc[FSG_HASH_STRLEN];

    setup3(&d);
    snprintf(text, sizeof text,
             "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1234\", \"id\": 12345678901234567890},\n"
             " {\"name\": \"/etc/refused\", \"crc32\": \"0x1\", \"id\": 9007199254740993},\n"
             " {\"name\": \"/usr/b.py\", \"crc32\": \"%s\"}, {\"name\": \"/usr/d/c.py\", \"crc32\": \"%s\"}]",
             hash_of("print('b')\n", hb), hash_of("print('c')\n", hc));
    memport_put_str(d.usr, "checksum.json", text);
    memport_put_str(d.usr, "a.py", "garbage");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest_written, 1);
    const char *out = memport_get(d.usr, "checksum.json", NULL);
    CHECK(out != NULL && strstr(out, "12345678901234567890") != NULL);
    CHECK(out != NULL && strstr(out, "9007199254740993") != NULL);
    if (out != NULL && (strstr(out, "12345678901234567890") == NULL ||
                        strstr(out, "9007199254740993") == NULL))
        fprintf(stderr, "  BUG: integers in kept keys were altered:\n%s\n", out);
    mpdev_free(&d);
}

/* ---- malformed manifests ---- */

static void expect_rebuilt(const char *usr_text, size_t len, const char *what)
{
    struct mp_device d;
    struct fsg_report r;

    setup3(&d);
    char *bak = xstrdup(memport_get(d.bak, "checksum.json", NULL));
    memport_put(d.usr, "checksum.json", usr_text, len);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_REBUILT);
    CHECK_EQ_INT(r.usr_manifest_error, FSG_ERR_CORRUPT);
    CHECK(r.usr_manifest_offset <= len);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK_EQ_INT(r.files, 3);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    /* The rebuilt manifest holds the backup's entries. */
    uint32_t crc = 0;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/a.py", &crc), 1);
    CHECK_EQ_INT(crc, mp_crc("print('a')\n", 11));
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/d/c.py", &crc), 1);
    cJSON *j = usr_json(&d);
    CHECK(j != NULL && cJSON_GetArraySize(j) == 3);
    cJSON_Delete(j);
    /* The backup is never touched. */
    CHECK_EQ_STR(memport_get(d.bak, "checksum.json", NULL), bak);
    CHECK_EQ_INT(memport_mutating_calls(d.bak), 0);
    if (r.manifest != FSG_MANIFEST_REBUILT)
        fprintf(stderr, "  (case: %s)\n", what);
    free(bak);
    mpdev_free(&d);
}

static void expect_bak_rejected(const char *bak_text, int want_err)
{
    struct mp_device d;
    struct fsg_report r;

    setup3(&d);
    memport_put_str(d.bak, "checksum.json", bak_text);
    memport_put_str(d.usr, "a.py", "damaged");
    char *before = memport_dump(d.usr);
    int ret = mpdev_boot(&d, 0, &r);
    CHECK_EQ_INT(ret, want_err);
    CHECK_EQ_INT(r.bak_manifest_error, want_err);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);
    mpdev_free(&d);
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "",
        "   ",
        "[",
        "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"}",      /* unterminated */
        "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"},]",    /* trailing comma */
        "[{\"name\": \"/usr/a.py\" \"crc32\": \"0x1\"}]",      /* missing comma */
        "[,]",
        "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"}] x",   /* trailing garbage */
        "[] []",
        "[]]",
        "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"}],",
        "{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"}",       /* wrong root type */
        "\"/usr/a.py\"",
        "null",
        "42",
        "\xEF\xBB\xBF",                                        /* BOM alone */
        "\xEF\xBB[]",                                          /* broken BOM */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_rebuilt(bad[i], strlen(bad[i]), bad[i]);
    /* A NUL byte after the array is garbage too. */
    expect_rebuilt("[]\0", 3, "NUL after array");

    /* The offset points at where the JSON broke. */
    struct mp_device d;
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off = 0;
    mpdev_init(&d);
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    const char *t = "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"}] x";
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, strlen(t), FSG_SOURCE_USR, &m, &off), FSG_ERR_CORRUPT);
    CHECK_EQ_INT(off, strlen(t) - 1);
    CHECK_EQ_INT(m.n, 0);
    CHECK(m.v == NULL);
    t = "{}";
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, strlen(t), FSG_SOURCE_USR, &m, &off), FSG_ERR_CORRUPT);
    CHECK_EQ_INT(off, 0);
    t = "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"},\n {\"name\": ]";
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, strlen(t), FSG_SOURCE_USR, &m, &off), FSG_ERR_CORRUPT);
    CHECK(off > 40 && off <= strlen(t));
    fsg_ctx_fini(&c);
    mpdev_free(&d);

    /* A broken backup manifest makes the backup unusable. */
    expect_bak_rejected("[{\"name\": \"/usr/a.py\"", FSG_ERR_CORRUPT);
    expect_bak_rejected("{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"}", FSG_ERR_CORRUPT);
    expect_bak_rejected("[] trailing", FSG_ERR_CORRUPT);
}

static void test_bom(void)
{
    struct mp_device d;
    struct fsg_report r;

    setup3(&d);
    char *text = malloc(strlen(memport_get(d.usr, "checksum.json", NULL)) + 4);
    strcpy(text, "\xEF\xBB\xBF");
    strcat(text, memport_get(d.usr, "checksum.json", NULL));
    memport_put_str(d.usr, "checksum.json", text);
    memport_put_str(d.bak, "checksum.json", text);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(r.bak_manifest_error, 0);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(r.bad_entries, 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    /* The BOM'd manifest was left exactly as it was. */
    CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL), text);
    free(text);
    mpdev_free(&d);
}

/* ---- entry defects ---- */

struct bad_case {
    const char *json;   /* the entry; NULL = built at run time */
    int defect;
    const char *name;   /* expected event name; NULL for none */
};

static void test_name_check(void)
{
    CHECK_EQ_INT(fsg_name_check("/usr/a.py"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/a/b/c.py"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/.hidden"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/a/checksum.json"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/caf\xC3\xA9.txt"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/..a"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/a.fsg-tmp"), FSG_DEFECT_NONE); /* no leading dot */
    CHECK_EQ_INT(fsg_name_check("/etc/passwd"), FSG_DEFECT_NAME_OUTSIDE);
    CHECK_EQ_INT(fsg_name_check("/usr"), FSG_DEFECT_NAME_OUTSIDE);
    CHECK_EQ_INT(fsg_name_check("usr/a"), FSG_DEFECT_NAME_OUTSIDE);
    CHECK_EQ_INT(fsg_name_check("/USR/a"), FSG_DEFECT_NAME_OUTSIDE);
    CHECK_EQ_INT(fsg_name_check("/usrx/a"), FSG_DEFECT_NAME_OUTSIDE);
    CHECK_EQ_INT(fsg_name_check(""), FSG_DEFECT_NAME_OUTSIDE);
    CHECK_EQ_INT(fsg_name_check("/usr/"), FSG_DEFECT_NAME_EMPTY);
    CHECK_EQ_INT(fsg_name_check("/usr//a"), FSG_DEFECT_NAME_EMPTY);
    CHECK_EQ_INT(fsg_name_check("/usr/a//b"), FSG_DEFECT_NAME_EMPTY);
    CHECK_EQ_INT(fsg_name_check("/usr/a/"), FSG_DEFECT_NAME_EMPTY);
    CHECK_EQ_INT(fsg_name_check("/usr/."), FSG_DEFECT_NAME_DOTS);
    CHECK_EQ_INT(fsg_name_check("/usr/.."), FSG_DEFECT_NAME_DOTS);
    CHECK_EQ_INT(fsg_name_check("/usr/../etc/passwd"), FSG_DEFECT_NAME_DOTS);
    CHECK_EQ_INT(fsg_name_check("/usr/a/./b"), FSG_DEFECT_NAME_DOTS);
    CHECK_EQ_INT(fsg_name_check("/usr/a/.."), FSG_DEFECT_NAME_DOTS);
    CHECK_EQ_INT(fsg_name_check("/usr/a\tb"), FSG_DEFECT_NAME_CHARS);
    CHECK_EQ_INT(fsg_name_check("/usr/a\nb"), FSG_DEFECT_NAME_CHARS);
    CHECK_EQ_INT(fsg_name_check("/usr/a\x7f"), FSG_DEFECT_NAME_CHARS);
    CHECK_EQ_INT(fsg_name_check("/usr/a\\b"), FSG_DEFECT_NAME_CHARS);
    /* UTF-8 names are ordinary (QuecPython projects often have Chinese
     * names); malformed UTF-8 is refused, whatever else is wrong. */
    CHECK_EQ_INT(fsg_name_check("/usr/\xe9\x85\x8d\xe7\xbd\xae.json"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/\xf0\x9f\x93\x81/a"), FSG_DEFECT_NONE);
    CHECK_EQ_INT(fsg_name_check("/usr/bad\xff\xfe.py"), FSG_DEFECT_NAME_CHARS);
    CHECK_EQ_INT(fsg_name_check("/usr/\xc0\xaf"), FSG_DEFECT_NAME_CHARS);      /* overlong '/' */
    CHECK_EQ_INT(fsg_name_check("/usr/\xed\xa0\x80"), FSG_DEFECT_NAME_CHARS);  /* surrogate */
    CHECK_EQ_INT(fsg_name_check("/usr/\xe9\x85"), FSG_DEFECT_NAME_CHARS);      /* cut short */
    CHECK_EQ_INT(fsg_name_check("/etc/\xff"), FSG_DEFECT_NAME_CHARS);
    CHECK_EQ_INT(fsg_name_check("/usr/checksum.json"), FSG_DEFECT_NAME_RESERVED);
    CHECK_EQ_INT(fsg_name_check("/usr/.a.fsg-tmp"), FSG_DEFECT_NAME_RESERVED);
    CHECK_EQ_INT(fsg_name_check("/usr/d/.b.py.fsg-tmp"), FSG_DEFECT_NAME_RESERVED);
    CHECK_EQ_INT(fsg_name_check("/usr/.checksum.json.fsg-tmp"), FSG_DEFECT_NAME_RESERVED);

    /* Length limits: exactly at the limit passes, one more byte fails. */
    char name[FSG_NAME_MAX + 64];
    char *seg = repeat('s', FSG_SEGMENT_MAX);
    snprintf(name, sizeof name, "/usr/%s", seg);
    CHECK_EQ_INT(fsg_name_check(name), FSG_DEFECT_NONE);
    snprintf(name, sizeof name, "/usr/%sx", seg);
    CHECK_EQ_INT(fsg_name_check(name), FSG_DEFECT_NAME_LONG);
    snprintf(name, sizeof name, "/usr/%sx/a", seg);
    CHECK_EQ_INT(fsg_name_check(name), FSG_DEFECT_NAME_LONG);
    free(seg);
    /* 5 + 240 + 1 + 240 + 1 + 25 = 512 bytes. */
    char *s240 = repeat('a', 240), *s25 = repeat('c', 25);
    snprintf(name, sizeof name, "/usr/%s/%s/%s", s240, s240, s25);
    CHECK_EQ_INT(strlen(name), FSG_NAME_MAX);
    CHECK_EQ_INT(fsg_name_check(name), FSG_DEFECT_NONE);
    snprintf(name, sizeof name, "/usr/%s/%s/%sc", s240, s240, s25);
    CHECK_EQ_INT(fsg_name_check(name), FSG_DEFECT_NAME_LONG);
    free(s240);
    free(s25);
}

static void test_defects(void)
{
    struct mp_device d;
    struct fsg_report r;
    char ha[FSG_HASH_STRLEN], hc[FSG_HASH_STRLEN];
    char *longseg = repeat('x', FSG_SEGMENT_MAX + 1);
    char *s240 = repeat('a', 240), *s26 = repeat('c', 26);
    char longseg_json[512], longname_json[700], longname[600], longseg_name[300];

    snprintf(longseg_name, sizeof longseg_name, "/usr/%s", longseg);
    snprintf(longseg_json, sizeof longseg_json, "{\"name\": \"%s\", \"crc32\": \"0x1\"}",
             longseg_name);
    snprintf(longname, sizeof longname, "/usr/%s/%s/%s", s240, s240, s26);
    snprintf(longname_json, sizeof longname_json, "{\"name\": \"%s\", \"crc32\": \"0x1\"}",
             longname);

    const struct bad_case cases[] = {
        {"1", FSG_DEFECT_NOT_OBJECT, NULL},
        {"\"/usr/a.py\"", FSG_DEFECT_NOT_OBJECT, NULL},
        {"[{\"name\": \"/usr/q.py\", \"crc32\": \"0x1\"}]", FSG_DEFECT_NOT_OBJECT, NULL},
        {"null", FSG_DEFECT_NOT_OBJECT, NULL},
        {"{\"name\": \"/usr/q.py\", \"name\": \"/usr/r.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_DUP_KEY, NULL},
        {"{\"name\": \"/usr/q.py\", \"crc32\": \"0x1\", \"crc32\": \"0x2\"}", FSG_DEFECT_DUP_KEY, NULL},
        {"{\"crc32\": \"0x1\", \"note\": \"orphan\"}", FSG_DEFECT_NO_NAME, NULL},
        {"{}", FSG_DEFECT_NO_NAME, NULL},
        {"{\"name\": 5, \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_TYPE, NULL},
        {"{\"name\": null, \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_TYPE, NULL},
        {"{\"name\": [\"/usr/q.py\"], \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_TYPE, NULL},
        {"{\"name\": \"/etc/passwd\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_OUTSIDE, "/etc/passwd"},
        {"{\"name\": \"usr/q.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_OUTSIDE, "usr/q.py"},
        {"{\"name\": \"/bak/usr/q.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_OUTSIDE, "/bak/usr/q.py"},
        {"{\"name\": \"/usr/../etc/passwd\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_DOTS, "/usr/../etc/passwd"},
        {"{\"name\": \"/usr/./q.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_DOTS, "/usr/./q.py"},
        {"{\"name\": \"/usr/q//r.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_EMPTY, "/usr/q//r.py"},
        {"{\"name\": \"/usr/q/\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_EMPTY, "/usr/q/"},
        {longseg_json, FSG_DEFECT_NAME_LONG, longseg_name},
        {longname_json, FSG_DEFECT_NAME_LONG, longname},
        {"{\"name\": \"/usr/q\\tr.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_CHARS, "/usr/q\tr.py"},
        {"{\"name\": \"/usr/q\\u001br.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_CHARS, "/usr/q\x1br.py"},
        {"{\"name\": \"/usr/q\\\\r.py\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_CHARS, "/usr/q\\r.py"},
        {"{\"name\": \"/usr/checksum.json\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_RESERVED, "/usr/checksum.json"},
        {"{\"name\": \"/usr/.a.fsg-tmp\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_RESERVED, "/usr/.a.fsg-tmp"},
        {"{\"name\": \"/usr/d/.c.py.fsg-tmp\", \"crc32\": \"0x1\"}", FSG_DEFECT_NAME_RESERVED, "/usr/d/.c.py.fsg-tmp"},
        {"{\"name\": \"/usr/q.py\"}", FSG_DEFECT_NO_HASH, "/usr/q.py"},
        {"{\"name\": \"/usr/q.py\", \"sha1\": \"0x1\"}", FSG_DEFECT_NO_HASH, "/usr/q.py"},
        {"{\"name\": \"/usr/r.py\", \"crc32\": 472456355}", FSG_DEFECT_HASH_TYPE, "/usr/r.py"},
        {"{\"name\": \"/usr/r.py\", \"crc32\": null}", FSG_DEFECT_HASH_TYPE, "/usr/r.py"},
        {"{\"name\": \"/usr/s.py\", \"crc32\": \"0xzz\"}", FSG_DEFECT_HASH_BAD, "/usr/s.py"},
        {"{\"name\": \"/usr/s.py\", \"crc32\": \"0x1ffffffff\"}", FSG_DEFECT_HASH_BAD, "/usr/s.py"},
        {"{\"name\": \"/usr/s.py\", \"crc32\": \"\"}", FSG_DEFECT_HASH_BAD, "/usr/s.py"},
        {"{\"name\": \"/usr/s.py\", \"crc32\": \" 0x5\"}", FSG_DEFECT_HASH_BAD, "/usr/s.py"},
        /* A later entry for a name already listed (hash written differently). */
        {NULL, FSG_DEFECT_DUPLICATE, "/usr/a.py"},
    };
    size_t ncases = sizeof cases / sizeof cases[0];
    char dup_json[256];

    setup3(&d);
    hash_of("print('a')\n", ha);
    hash_of("print('c')\n", hc);
    snprintf(dup_json, sizeof dup_json, "{\"name\": \"/usr/a.py\", \"crc32\": \"%s\", \"k\": 7}", ha);

    /* [a.py, bad..., d/c.py]; b.py is left out, so the manifest gets rewritten. */
    struct sb text = {NULL, 0, 0};
    char line[256];
    snprintf(line, sizeof line, "[{\"name\": \"/usr/a.py\", \"crc32\": \"%s\"}", ha);
    sb_add(&text, line);
    for (size_t i = 0; i < ncases; i++) {
        sb_add(&text, ",\n ");
        sb_add(&text, cases[i].json != NULL ? cases[i].json : dup_json);
    }
    snprintf(line, sizeof line, ",\n {\"name\": \"/usr/d/c.py\", \"crc32\": \"%s\"}]", hc);
    sb_add(&text, line);
    memport_put_str(d.usr, "checksum.json", text.s);

    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_ENTRY), ncases);
    CHECK_EQ_INT(r.bad_entries, ncases);
    for (size_t i = 0; i < ncases; i++) {
        const struct mp_event *e = mpdev_entry_event(&d, FSG_SOURCE_USR, i + 1);
        CHECK(e != NULL);
        if (e == NULL) {
            fprintf(stderr, "  (no event for entry %zu: %s)\n", i + 1, cases[i].json);
            continue;
        }
        CHECK_EQ_INT(e->defect, cases[i].defect);
        if (cases[i].name != NULL)
            CHECK_EQ_STR(e->name, cases[i].name);
        else
            CHECK(e->name == NULL || cases[i].defect == FSG_DEFECT_DUP_KEY);
        if (e->defect != cases[i].defect)
            fprintf(stderr, "  (entry %zu: %s)\n", i + 1, cases[i].json);
    }
    /* The good entries were still processed, and the missing one put back. */
    CHECK_EQ_INT(r.files, 3);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(r.entries_added, 1);
    const struct mp_event *fb = mpdev_event(&d, FSG_EVENT_FILE, "/usr/b.py");
    CHECK(fb != NULL && fb->entry_added == 1 && fb->status == FSG_STATUS_OK);
    CHECK(mpdev_event(&d, FSG_EVENT_FILE, "/usr/d/c.py") != NULL);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UPDATED);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
    /* Nothing was created for refused names. */
    CHECK_EQ_INT(memport_exists(d.usr, "q.py"), 0);
    CHECK_EQ_INT(memport_exists(d.usr, "etc"), 0);

    /* Refused entries are written back, in place and unchanged. */
    cJSON *out = usr_json(&d);
    cJSON *in = cJSON_Parse(text.s);
    CHECK(out != NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(out), ncases + 3);
    for (size_t i = 0; out != NULL && i < ncases + 2; i++) {
        cJSON *want = cJSON_GetArrayItem(in, (int)i);
        cJSON *got = cJSON_GetArrayItem(out, (int)i);
        /* cJSON_Compare cannot match objects with a repeated key: compare
         * the compact forms too. */
        char *pw = cJSON_PrintUnformatted(want), *pg = got != NULL ? cJSON_PrintUnformatted(got) : NULL;
        int same = cJSON_Compare(want, got, 1) || (pg != NULL && strcmp(pw, pg) == 0);
        cJSON_free(pw);
        cJSON_free(pg);
        CHECK(same);
        if (!same) {
            char *g = got != NULL ? cJSON_PrintUnformatted(got) : NULL;
            fprintf(stderr, "  (entry %zu written back as %s)\n", i, g != NULL ? g : "nothing");
            cJSON_free(g);
        }
    }
    cJSON *last = cJSON_GetArrayItem(out, (int)ncases + 2);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "name")), "/usr/b.py");
    cJSON_Delete(in);
    cJSON_Delete(out);

    /* A second boot finds the same refused entries and writes nothing. */
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.bad_entries, ncases);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_ENTRY), ncases);

    free(text.s);
    free(longseg);
    free(s240);
    free(s26);
    mpdev_free(&d);
}

/* A refused user entry whose name the backup lists is replaced by the
 * backup's entry; one the backup does not list is kept. */
static void test_refused_replaced(void)
{
    struct mp_device d;
    struct fsg_report r;
    char hc[FSG_HASH_STRLEN];
    char text[512];

    setup3(&d);
    snprintf(text, sizeof text,
             "[{\"name\": \"/usr/a.py\", \"crc32\": 5},\n"
             " {\"name\": \"/usr/b.py\"},\n"
             " {\"name\": \"/usr/d/c.py\", \"crc32\": \"%s\"}]",
             hash_of("print('c')\n", hc));
    memport_put_str(d.usr, "checksum.json", text);
    memport_put_str(d.usr, "a.py", "damaged");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_ENTRY), 2);
    const struct mp_event *e = mpdev_entry_event(&d, FSG_SOURCE_USR, 0);
    CHECK(e != NULL && e->defect == FSG_DEFECT_HASH_TYPE);
    e = mpdev_entry_event(&d, FSG_SOURCE_USR, 1);
    CHECK(e != NULL && e->defect == FSG_DEFECT_NO_HASH);
    CHECK_EQ_INT(r.entries_added, 2);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('a')\n");
    const struct mp_event *fa = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(fa != NULL && fa->entry_added && fa->status == FSG_STATUS_RESTORED);
    /* Replaced entries are not counted as bad. */
    CHECK_EQ_INT(r.bad_entries, 0);
    cJSON *j = usr_json(&d);
    CHECK(j != NULL && cJSON_GetArraySize(j) == 3);
    uint32_t crc;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/a.py", &crc), 1);
    CHECK_EQ_INT(crc, mp_crc("print('a')\n", 11));
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/b.py", &crc), 1);
    /* No refused copy of a.py or b.py is left. */
    cJSON *it;
    int na = 0;
    cJSON_ArrayForEach(it, j)
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
        na += n != NULL && (strcmp(n, "/usr/a.py") == 0 || strcmp(n, "/usr/b.py") == 0);
    }
    CHECK_EQ_INT(na, 2);
    cJSON_Delete(j);
    mpdev_free(&d);
}

/* Refused entries of the backup manifest are reported with source BAK;
 * the first of duplicate names wins. */
static void test_bak_defects(void)
{
    struct mp_device d;
    struct fsg_report r;
    char ha[FSG_HASH_STRLEN], hb[FSG_HASH_STRLEN];
    char text[512];

    mpdev_init(&d);
    memport_put_str(d.bak, "usr/a.py", "A");
    memport_put_str(d.bak, "usr/b.py", "B");
    snprintf(text, sizeof text,
             "[{\"name\": \"/usr/a.py\", \"crc32\": \"%s\"}, {\"name\": \"/etc/x\", \"crc32\": \"0x1\"},"
             " {\"name\": \"/usr/b.py\", \"crc32\": \"%s\"}, {\"name\": \"/usr/a.py\", \"crc32\": \"0x99\"}]",
             hash_of("A", ha), hash_of("B", hb));
    memport_put_str(d.bak, "checksum.json", text);
    /* No user manifest, no user files. */
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    const struct mp_event *e = mpdev_entry_event(&d, FSG_SOURCE_BAK, 1);
    CHECK(e != NULL && e->defect == FSG_DEFECT_NAME_OUTSIDE);
    e = mpdev_entry_event(&d, FSG_SOURCE_BAK, 3);
    CHECK(e != NULL && e->defect == FSG_DEFECT_DUPLICATE);
    CHECK_EQ_STR(e != NULL ? e->name : NULL, "/usr/a.py");
    CHECK_EQ_INT(r.bad_entries, 2);
    CHECK_EQ_INT(r.files, 2);
    CHECK_EQ_INT(r.restored, 2);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "A");
    CHECK_EQ_STR(memport_get(d.usr, "b.py", NULL), "B");
    /* The created manifest holds the two usable entries, first a.py wins. */
    cJSON *j = usr_json(&d);
    CHECK(j != NULL && cJSON_GetArraySize(j) == 2);
    cJSON_Delete(j);
    uint32_t crc;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/a.py", &crc), 1);
    CHECK_EQ_INT(crc, mp_crc("A", 1));
    mpdev_free(&d);
}

/* A NUL in a name is a control character: it must not cut the name short
 * and turn "/usr/a.py\u0000.evil" into "/usr/a.py". */
/* A \u0000 in crc32 must not cut it short, and raw control bytes are not
 * JSON whitespace (cJSON would skip them). */
static void test_nul_and_control_bytes(void)
{
    struct mp_device d;
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off = 0;
    const char *t = "[{\"name\": \"/usr/q.py\", \"crc32\": \"0x1\\u0000\"}]";
    static const char raw[] = "[{\"name\": \"/usr/q.py\",\0 \"crc32\": \"0x1\"}]";

    mpdev_init(&d);
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, strlen(t), FSG_SOURCE_USR, &m, &off), 0);
    CHECK(m.n == 1 && !m.v[0].valid);
    const struct mp_event *e = mpdev_entry_event(&d, FSG_SOURCE_USR, 0);
    CHECK(e != NULL && e->defect == FSG_DEFECT_HASH_BAD);
    fsg_manifest_free(&c, &m);
    CHECK_EQ_INT(fsg_manifest_parse(&c, raw, sizeof raw - 1, FSG_SOURCE_USR, &m, &off),
                 FSG_ERR_CORRUPT);
    CHECK_EQ_INT(off, 22); /* the NUL byte */
    fsg_ctx_fini(&c);
    mpdev_free(&d);
}

static void test_nul_in_name(void)
{
    struct mp_device d;
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off;
    const char *t = "[{\"name\": \"/usr/q.py\\u0000.evil\", \"crc32\": \"0x1\"}]";

    mpdev_init(&d);
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, strlen(t), FSG_SOURCE_USR, &m, &off), 0);
    CHECK_EQ_INT(m.n, 1);
    if (m.n == 1) {
        CHECK(!m.v[0].valid);
        if (m.v[0].valid)
            fprintf(stderr, "  BUG: entry named \"/usr/q.py\\u0000.evil\" accepted as \"%s\"\n",
                    m.v[0].name);
    }
    const struct mp_event *e = mpdev_entry_event(&d, FSG_SOURCE_USR, 0);
    CHECK(e != NULL && e->defect == FSG_DEFECT_NAME_CHARS);
    fsg_manifest_free(&c, &m);
    fsg_ctx_fini(&c);
    mpdev_free(&d);
}

/* manifest_max bounds what is read: a manifest of exactly manifest_max
 * bytes is accepted, one byte more is not. */
static void test_manifest_max(void)
{
    struct mp_device d;
    struct fsg_report r;
    size_t len;

    setup3(&d);
    memport_get(d.usr, "checksum.json", &len);

    /* Both manifests are len bytes long. */
    d.cfg.manifest_max = len + 1;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(r.ok, 3);

    d.cfg.manifest_max = len; /* exactly the size: accepted */
    int ret = mpdev_boot(&d, 0, &r);
    CHECK_EQ_INT(ret, 0);
    CHECK_EQ_INT(r.bak_manifest_error, 0);
    CHECK_EQ_INT(r.ok, 3);
    if (ret != 0)
        fprintf(stderr, "  BUG: a %zu-byte manifest is refused with manifest_max %zu (%s)\n",
                len, len, fsg_strerror(ret));

    /* One byte less: the backup manifest is too big, the pass cannot run. */
    d.cfg.manifest_max = len - 1;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), FSG_ERR_FBIG);
    CHECK_EQ_INT(r.bak_manifest_error, FSG_ERR_FBIG);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);

    /* A user manifest grown past the limit is rebuilt from the backup. */
    d.cfg.manifest_max = len + 5;
    char *big = malloc(len + 64);
    snprintf(big, len + 64, "%s%s", memport_get(d.usr, "checksum.json", NULL), "          ");
    memport_put_str(d.usr, "checksum.json", big);
    free(big);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_REBUILT);
    CHECK_EQ_INT(r.usr_manifest_error, FSG_ERR_FBIG);
    CHECK_EQ_INT(r.ok, 3);
    mpdev_free(&d);
}

/* The same bound for backup_restore.json (4096 bytes). */
static void test_switch_max(void)
{
    struct mp_device d;
    struct fsg_report r;
    char *sw = malloc(FSG_SWITCH_MAX + 2);

    setup3(&d);
    memset(sw, ' ', FSG_SWITCH_MAX + 1);
    memcpy(sw, "{\"enable\": 1}", 13);
    sw[FSG_SWITCH_MAX] = '\0'; /* exactly 4096 bytes */
    memport_put_str(d.bak, "backup_restore.json", sw);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.feature, FSG_FEATURE_ENABLED);
    if (r.feature != FSG_FEATURE_ENABLED)
        fprintf(stderr, "  BUG: a %u-byte backup_restore.json is refused (%s)\n",
                FSG_SWITCH_MAX, fsg_strerror(r.feature_error));
    sw[FSG_SWITCH_MAX] = ' '; /* 4097 bytes */
    sw[FSG_SWITCH_MAX + 1] = '\0';
    memport_put_str(d.bak, "backup_restore.json", sw);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.feature, FSG_FEATURE_BAD_SWITCH);
    CHECK_EQ_INT(r.feature_error, FSG_ERR_FBIG);
    free(sw);
    mpdev_free(&d);
}

/* The written manifest: a JSON array, one entry per line, hashes in
 * Python's hex() form, and it reads back to the same entries. */
static void test_written_format(void)
{
    struct mp_device d;
    struct fsg_report r;

    mpdev_init(&d);
    /* Contents chosen so some hashes have leading zero nibbles. */
    mpdev_add_str(&d, "/usr/a.py", "a");
    mpdev_add_str(&d, "/usr/sub/dir/b.txt", "hello\n");
    mpdev_add(&d, "/usr/empty", "", 0);
    mpdev_add_str(&d, "/usr/caf\xC3\xA9.txt", "utf8 name");
    mpdev_save(&d);
    memport_remove(d.usr, "checksum.json");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    const char *out = memport_get(d.usr, "checksum.json", NULL);
    CHECK(out != NULL);
    if (out == NULL) {
        mpdev_free(&d);
        return;
    }
    CHECK(out[0] == '[');
    CHECK(strstr(out, "\"crc32\":\"0x78076e7c\"") != NULL); /* "hello\n" */
    CHECK(strstr(out, "\"crc32\":\"0xffffffff\"") != NULL); /* empty */
    CHECK(strstr(out, "\"name\":\"/usr/caf\xC3\xA9.txt\"") != NULL);
    /* One entry per line. */
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_EQ_INT(lines, 4 + 2);

    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off;
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    CHECK_EQ_INT(fsg_manifest_parse(&c, out, strlen(out), FSG_SOURCE_USR, &m, &off), 0);
    CHECK_EQ_INT(m.n, 4);
    if (m.n == 4) {
        CHECK_EQ_STR(m.v[0].name, "/usr/a.py");
        CHECK_EQ_INT(m.v[0].sum.crc, mp_crc("a", 1));
        CHECK_EQ_STR(m.v[1].name, "/usr/sub/dir/b.txt");
        CHECK_EQ_INT(m.v[1].sum.crc, 0x78076e7cu);
        CHECK_EQ_STR(m.v[2].name, "/usr/empty");
        CHECK_EQ_INT(m.v[2].sum.crc, 0xffffffffu);
        for (size_t i = 0; i < 4; i++)
            CHECK(m.v[i].valid && m.v[i].extra == NULL);
    }
    fsg_manifest_free(&c, &m);

    /* An empty manifest is written as "[]". */
    fsg_manifest_parse(&c, "[]", 2, FSG_SOURCE_USR, &m, &off);
    CHECK_EQ_INT(fsg_manifest_save(&c, c.usr, &m), 0);
    CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL), "[]\n");
    fsg_manifest_free(&c, &m);
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    fsg_ctx_fini(&c);
    mpdev_free(&d);
}

/* Direct: index sorts, finds, and refuses later duplicates. */
static void test_index_find(void)
{
    struct mp_device d;
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off;
    const char *t = "[{\"name\": \"/usr/z\", \"crc32\": \"0x1\"}, {\"name\": \"/usr/a\", \"crc32\": \"0x2\"},"
                    " {\"name\": \"/usr/m\", \"crc32\": \"0x3\"}, {\"name\": \"/usr/z\", \"crc32\": \"0x4\"},"
                    " {\"name\": \"/usr/b\"}]";

    mpdev_init(&d);
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, strlen(t), FSG_SOURCE_BAK, &m, &off), 0);
    CHECK_EQ_INT(m.n, 5);
    CHECK_EQ_INT(fsg_manifest_index(&c, &m, FSG_SOURCE_BAK), 0);
    CHECK_EQ_INT(m.nindex, 3);
    struct fsg_entry *e = fsg_manifest_find(&m, "/usr/z");
    CHECK(e != NULL && e->sum.crc == 1 && e == &m.v[0]);
    e = fsg_manifest_find(&m, "/usr/a");
    CHECK(e != NULL && e->sum.crc == 2);
    CHECK(fsg_manifest_find(&m, "/usr/b") == NULL);
    CHECK(fsg_manifest_find(&m, "/usr/q") == NULL);
    /* A duplicate is refused but keeps its fields, to be written back. */
    CHECK(!m.v[3].valid && m.v[3].raw == NULL && m.v[3].sum.crc == 4 &&
          m.v[3].name != NULL && strcmp(m.v[3].name, "/usr/z") == 0);
    const struct mp_event *ev = mpdev_entry_event(&d, FSG_SOURCE_BAK, 3);
    CHECK(ev != NULL && ev->defect == FSG_DEFECT_DUPLICATE);
    ev = mpdev_entry_event(&d, FSG_SOURCE_BAK, 4);
    CHECK(ev != NULL && ev->defect == FSG_DEFECT_NO_HASH);
    fsg_manifest_free(&c, &m);
    fsg_ctx_fini(&c);
    mpdev_free(&d);
}

/* An allocator that refuses any block over 1 MiB, counting refusals in
 * *ctx. */
static void *small_alloc(void *ctx, void *ptr, size_t size)
{
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (size > 1024 * 1024) {
        ++*(unsigned *)ctx;
        return NULL;
    }
    return realloc(ptr, size);
}

/* The entry array is sized from the number of '{' in the text, a hint a
 * hostile table inflates at will ('{' inside a string): when the allocator
 * refuses that size, the table still parses, growing as it goes. */
static void test_presize_is_a_hint(void)
{
    struct mp_device d;
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off = 0;
    size_t braces = 200000, len = 0;
    char *t = malloc(braces + 256);

    len += (size_t)sprintf(t, "[{\"name\":\"/usr/a.py\",\"crc32\":\"0x1\"},{\"name\":\"/usr/");
    memset(t + len, '{', braces);
    len += braces;
    len += (size_t)sprintf(t + len, "\",\"crc32\":\"0x2\"}]");
    unsigned refused = 0;
    mpdev_init(&d);
    d.cfg.alloc = small_alloc;
    d.cfg.alloc_ctx = &refused;
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    /* 200,002 entries' worth of array is far over 1 MiB: refused, ignored. */
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, len, FSG_SOURCE_USR, &m, &off), 0);
    CHECK(refused > 0); /* the case under test did happen */
    CHECK_EQ_INT(m.n, 2);
    CHECK(m.n == 2 && m.v[0].valid && m.v[0].sum.crc == 1);
    CHECK(m.n == 2 && !m.v[1].valid && m.v[1].defect == FSG_DEFECT_NAME_LONG);
    fsg_manifest_free(&c, &m);
    fsg_ctx_fini(&c);
    mpdev_free(&d);
    free(t);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* fsg_sort (a heapsort: no allocation) sorts whatever it is given: every
 * length up to 70, in-order, reversed, all-equal and pseudo-random input,
 * with the multiset of items unchanged. */
static void test_sort(void)
{
    unsigned seed = 12345;
    for (int n = 0; n <= 70; n++) {
        for (int shape = 0; shape < 4; shape++) {
            int v[70], count[8] = {0}, after[8] = {0};
            for (int i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                v[i] = shape == 0 ? i % 8 : shape == 1 ? 7 - i % 8 : shape == 2 ? 3
                                                                   : (int)(seed >> 16) % 8;
                count[v[i]]++;
            }
            fsg_sort(v, (size_t)n, sizeof v[0], cmp_int);
            int sorted = 1;
            for (int i = 0; i < n; i++) {
                after[v[i]]++;
                if (i > 0 && v[i - 1] > v[i])
                    sorted = 0;
            }
            CHECK(sorted);
            CHECK(memcmp(count, after, sizeof count) == 0);
        }
    }
}

/* RFC 8259 allows a \u escape of half a surrogate pair (Python's json.dumps
 * writes one for a file name it decoded with surrogateescape); cJSON
 * refuses it. The table still parses: an entry with one in its name or
 * hashes is refused alone, one elsewhere (a key fsguard does not use, the
 * key itself) is valid and written back byte for byte, and a real pair is
 * the character it encodes. The same in every position of the table. */
static void test_lone_surrogates(void)
{
    struct mp_device d;
    struct fsg_ctx c;
    struct fsg_manifest m;
    uint64_t off = 0;
    static const char t[] =
        "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\", \"note\": \"\\udc00 low\", \"\\ud800\": 1},\n"
        " {\"name\": \"/usr/\\ud800.py\", \"crc32\": \"0x2\"},\n"
        " {\"name\": \"/usr/\\ud83d\\ude00.py\", \"crc32\": \"0x3\"},\n"
        " {\"name\": \"/usr/b.py\", \"crc32\": \"\\udbff\"},\n"
        " {\"name\": \"/usr/x\\\\ud800.py\", \"crc32\": \"0x5\"},\n"
        " {\"name\": \"/usr/c.py\", \"crc32\": \"0x6\", \"fsg_pending\": \"\\ude00\"},\n"
        " {\"name\": \"/usr/\\ud800\\ud800.py\", \"crc32\": \"0x7\"},\n"
        " {\"name\": \"/usr/z.py\", \"crc32\": \"0x8\"}]";
    static const int valid[] = {1, 0, 1, 0, 0, 0, 0, 1};
    static const int defect[] = {0, FSG_DEFECT_NAME_CHARS, 0, FSG_DEFECT_HASH_BAD,
                                 FSG_DEFECT_NAME_CHARS, FSG_DEFECT_PENDING_BAD,
                                 FSG_DEFECT_NAME_CHARS, 0};

    mpdev_init(&d);
    CHECK_EQ_INT(fsg_ctx_init(&c, &d.cfg), 0);
    CHECK_EQ_INT(fsg_manifest_parse(&c, t, sizeof t - 1, FSG_SOURCE_USR, &m, &off), 0);
    CHECK_EQ_INT(m.n, 8);
    for (size_t i = 0; i < m.n && i < 8; i++) {
        CHECK_EQ_INT(m.v[i].valid, valid[i]);
        const struct mp_event *e = mpdev_entry_event(&d, FSG_SOURCE_USR, (unsigned long)i);
        if (defect[i] != 0)
            CHECK(e != NULL && e->defect == defect[i]);
        else
            CHECK(e == NULL);
    }
    if (m.n == 8) {
        CHECK_EQ_STR(m.v[0].name, "/usr/a.py");
        CHECK_EQ_STR(m.v[0].extra, "\"note\": \"\\udc00 low\",\"\\ud800\": 1");
        CHECK_EQ_STR(m.v[2].name, "/usr/\xf0\x9f\x98\x80.py"); /* U+1F600 */
        CHECK_EQ_INT(m.v[7].sum.crc, 8);
    }
    /* Written back, every byte of the refused entries and of the kept key
     * is as it was. */
    CHECK_EQ_INT(fsg_manifest_save(&c, c.usr, &m), 0);
    const char *out = memport_get(d.usr, "checksum.json", NULL);
    CHECK(out != NULL && strstr(out, "\"note\": \"\\udc00 low\",\"\\ud800\": 1") != NULL);
    CHECK(out != NULL && strstr(out, "{\"name\": \"/usr/\\ud800.py\", \"crc32\": \"0x2\"}") != NULL);
    CHECK(out != NULL && strstr(out, "\"crc32\": \"\\udbff\"") != NULL);
    fsg_manifest_free(&c, &m);
    /* A table that is not JSON for another reason after one is still not. */
    static const char bad[] = "[{\"name\": \"/usr/\\ud800.py\", \"crc32\": \"0x2\"}, {\"name\": 1,]";
    CHECK_EQ_INT(fsg_manifest_parse(&c, bad, sizeof bad - 1, FSG_SOURCE_USR, &m, &off),
                 FSG_ERR_CORRUPT);
    CHECK(off > 45 && off < sizeof bad - 1); /* in the second entry, not the first */
    fsg_ctx_fini(&c);
    mpdev_free(&d);
}

int main(void)
{
    test_sort();
    test_presize_is_a_hint();
    test_quecpython_input();
    test_unknown_keys_kept();
    test_unknown_keys_big_numbers();
    test_malformed();
    test_bom();
    test_name_check();
    test_defects();
    test_refused_replaced();
    test_bak_defects();
    test_nul_in_name();
    test_nul_and_control_bytes();
    test_lone_surrogates();
    test_manifest_max();
    test_switch_max();
    test_written_format();
    test_index_find();
    return check_done("test_manifest");
}
