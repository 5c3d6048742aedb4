/*
 * test_crc_table.c -- the portable CRC-32 backend (crc.c built with
 * FSG_CRC_TABLE) gives QuecPython's check values and the same CRC as a
 * bitwise computation and as libdeflate, whole or fed in pieces.
 */
#include "fsguard.h"

#include <libdeflate.h>
#include <stdio.h>
#include <string.h>

static int failed, checks;

static void check(int ok, const char *what)
{
    checks++;
    if (!ok) {
        failed++;
        printf("FAIL %s\n", what);
    }
}

static uint32_t bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
    uint32_t c = ~crc;
    while (n-- > 0) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

int main(void)
{
    static unsigned char buf[70001];
    uint32_t s = 99;
    for (size_t i = 0; i < sizeof buf; i++) {
        s = s * 1103515245u + 12345u;
        buf[i] = (unsigned char)(s >> 16);
    }
    check(fsg_crc32(FSG_CRC_INIT, "123456789", 9) == 0xd202d277u, "check value 123456789");
    check(fsg_crc32(FSG_CRC_INIT, "hello\n", 6) == 0x78076e7cu, "check value hello");
    check(fsg_crc32(FSG_CRC_INIT, "", 0) == 0xffffffffu, "empty file");
    check(fsg_crc32(0, "123456789", 9) == 0xcbf43926u, "common CRC-32 from seed 0");
    for (size_t n = 0; n < sizeof buf; n = n * 3 + 1) {
        uint32_t t = fsg_crc32(FSG_CRC_INIT, buf, n);
        check(t == bitwise(FSG_CRC_INIT, buf, n), "whole buffer: bitwise");
        check(n == 0 || t == libdeflate_crc32(FSG_CRC_INIT, buf, n), "whole buffer: libdeflate");
        uint32_t c = FSG_CRC_INIT;
        for (size_t off = 0; off < n; off += 257)
            c = fsg_crc32(c, buf + off, n - off < 257 ? n - off : 257);
        check(c == t, "in 257-byte pieces");
    }
    printf("test_crc_table: %d checks, %d failed\n", checks, failed);
    return failed != 0;
}
