/*
 * crc.c -- QuecPython's CRC-32 variant and its string encoding.
 * The CRC itself is libdeflate's (zlib-compatible, CPU-dispatched); only the
 * seed differs from the common CRC-32, and that is the caller's FSG_CRC_INIT.
 */
#include "fsg_internal.h"

#include <libdeflate.h>

uint32_t fsg_crc32(uint32_t crc, const void *buf, size_t len)
{
    /* libdeflate answers a NULL buffer with its own initial value (0), which
     * would reset a running CRC: an empty update must change nothing. */
    return len == 0 ? crc : libdeflate_crc32(crc, buf, len);
}

char *fsg_hash_format(uint32_t crc, char out[FSG_HASH_STRLEN])
{
    static const char digits[] = "0123456789abcdef";
    char tmp[8];
    int n = 0;

    /* Python's hex(): no zero padding, so 5 is "0x5" and 0 is "0x0". */
    do {
        tmp[n++] = digits[crc & 0xf];
        crc >>= 4;
    } while (crc != 0);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < n; i++)
        out[2 + i] = tmp[n - 1 - i];
    out[2 + n] = '\0';
    return out;
}

int fsg_hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int fsg_hash_parse(const char *s, uint32_t *crc)
{
    uint64_t v = 0;
    int digits = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; *s != '\0'; s++) {
        int d = fsg_hex_digit(*s);
        if (d < 0)
            return FSG_ERR_CORRUPT;
        v = (v << 4) | (uint64_t)d;
        if (v > 0xFFFFFFFFu)
            return FSG_ERR_CORRUPT;
        digits++;
    }
    if (digits == 0)
        return FSG_ERR_CORRUPT;
    *crc = (uint32_t)v;
    return 0;
}
