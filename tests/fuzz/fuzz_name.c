/*
 * fuzz_name.c -- libFuzzer target: name validation and hash parsing. What
 * fsg_name_check accepts must be safe to turn into a path: under /usr/,
 * no empty, "." or ".." component, no control character or backslash,
 * within the length limits. What fsg_hash_parse and fsg_sha256_parse
 * accept must print back to the same value.
 */
#include "fsguard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    if (fsg_name_check(s) == FSG_DEFECT_NONE) {
        size_t len = strlen(s);
        if (strncmp(s, "/usr/", 5) != 0 || len > FSG_NAME_MAX || strstr(s, "//") != NULL ||
            strstr(s, "/./") != NULL || strstr(s, "/../") != NULL || s[len - 1] == '/' ||
            (len >= 2 && strcmp(s + len - 2, "/.") == 0) ||
            (len >= 3 && strcmp(s + len - 3, "/..") == 0) || strchr(s, '\\') != NULL)
            abort();
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                abort();
    }
    uint32_t v, w;
    char h[FSG_HASH_STRLEN];
    if (fsg_hash_parse(s, &v) == 0 && (fsg_hash_parse(fsg_hash_format(v, h), &w) != 0 || v != w))
        abort();
    /* What fsg_sha256_parse accepts is 64 hex digits, and prints back
     * (lowercase) to the same bytes. */
    unsigned char a[FSG_SHA256_LEN], b[FSG_SHA256_LEN];
    char hs[FSG_SHA256_STRLEN];
    if (fsg_sha256_parse(s, a) == 0 &&
        (strlen(s) != 64 || fsg_sha256_parse(fsg_sha256_format(a, hs), b) != 0 ||
         memcmp(a, b, sizeof a) != 0 || strspn(hs, "0123456789abcdef") != 64))
        abort();
    free(s);
    return 0;
}
