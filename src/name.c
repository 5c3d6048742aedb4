/*
 * name.c -- validation of protected-file names and the port paths derived
 * from them. Every path the core hands to a port comes from a name that
 * passed fsg_name_check, so no port ever sees "..", "." or an empty component.
 */
#include "fsg_internal.h"

#include <string.h>

int fsg_name_check(const char *name)
{
    size_t len = strlen(name);

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
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)seg[i];
            if (ch < 0x20 || ch == 0x7f || ch == '\\')
                return FSG_DEFECT_NAME_CHARS;
        }
        if (seg[n] == '\0') {
            /* The last component: the file's own name. */
            if (seg == name + FSG_USR_PREFIX_LEN && strcmp(seg, FSG_MANIFEST_NAME) == 0)
                return FSG_DEFECT_NAME_RESERVED;
            char base[FSG_SEGMENT_MAX + 1];
            memcpy(base, seg, n);
            base[n] = '\0';
            if (fsg_is_tmp_name(base))
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
