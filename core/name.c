/*
 * name.c -- validation of protected-file names and the port paths derived
 * from them. Every path the core hands to a port comes from a name that
 * passed fsg_name_check, so no port ever sees "..", "." or an empty component.
 */
#include "fsg_internal.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (shortest form, no surrogates,
 * at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || p[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
        return 0;
    return n;
}

int fsg_name_check(const char *name)
{
    size_t len = strlen(name);

    /* Characters first: whatever else is wrong with a name, reports can
     * then show it as it is unless this check refused it. */
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0';) {
        size_t n = utf8_len(p);
        if (n == 0 || *p < 0x20 || *p == 0x7f || *p == '\\')
            return FSG_DEFECT_NAME_CHARS;
        p += n;
    }
    if (strncmp(name, FSG_USR_PREFIX, FSG_USR_PREFIX_LEN) != 0)
        return FSG_DEFECT_NAME_OUTSIDE;
    if (len > FSG_NAME_MAX)
        return FSG_DEFECT_NAME_LONG;

    const char *seg = name + FSG_USR_PREFIX_LEN;
    for (;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0)
            return FSG_DEFECT_NAME_EMPTY;
        if (n > FSG_SEGMENT_MAX)
            return FSG_DEFECT_NAME_LONG;
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return FSG_DEFECT_NAME_DOTS;
        /* The update staging area (fota.c) belongs to fsguard. */
        if (seg == name + FSG_USR_PREFIX_LEN && n == strlen(FSG_FOTA_DIR) &&
            memcmp(seg, FSG_FOTA_DIR, n) == 0)
            return FSG_DEFECT_NAME_RESERVED;
        if (seg[n] == '\0') {
            /* The last component: the file's own name. */
            if (seg == name + FSG_USR_PREFIX_LEN && strcmp(seg, FSG_MANIFEST_NAME) == 0)
                return FSG_DEFECT_NAME_RESERVED;
            if (fsg_is_tmp_name(seg))
                return FSG_DEFECT_NAME_RESERVED;
            return FSG_DEFECT_NONE;
        }
        seg += n + 1;
    }
}

const char *fsg_usr_path(const char *name)
{
    return name + FSG_USR_PREFIX_LEN;
}

int fsg_bak_path(const char *name, char *out, size_t size)
{
    size_t len = strlen(name);
    /* "/usr/a" -> "usr/a": the backup keeps /usr/x at /bak/usr/x. */
    if (len > size)
        return FSG_ERR_NAMETOOLONG;
    memcpy(out, name + 1, len);
    return 0;
}

size_t fsg_dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? (size_t)(slash - path) : 0;
}

int fsg_tmp_path(const char *path, char *out, size_t size)
{
    size_t dlen = fsg_dir_len(path);
    const char *base = dlen > 0 ? path + dlen + 1 : path;
    size_t blen = strlen(base);
    size_t need = dlen + (dlen > 0) + strlen(FSG_TMP_PREFIX) + blen + strlen(FSG_TMP_SUFFIX) + 1;

    if (need > size)
        return FSG_ERR_NAMETOOLONG;
    char *p = out;
    if (dlen > 0) {
        memcpy(p, path, dlen);
        p += dlen;
        *p++ = '/';
    }
    memcpy(p, FSG_TMP_PREFIX, strlen(FSG_TMP_PREFIX));
    p += strlen(FSG_TMP_PREFIX);
    memcpy(p, base, blen);
    p += blen;
    memcpy(p, FSG_TMP_SUFFIX, strlen(FSG_TMP_SUFFIX) + 1);
    return 0;
}

bool fsg_is_tmp_name(const char *base)
{
    size_t len = strlen(base);
    size_t plen = strlen(FSG_TMP_PREFIX), slen = strlen(FSG_TMP_SUFFIX);

    return len > plen + slen && strncmp(base, FSG_TMP_PREFIX, plen) == 0 &&
           strcmp(base + len - slen, FSG_TMP_SUFFIX) == 0;
}
