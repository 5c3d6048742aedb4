/*
 * test_crc.c -- QuecPython's CRC-32 variant (zlib crc32 seeded with
 * 0xFFFFFFFF) and its "0x..." string form, against the check values of
 * docs/formats.md, "The hash".
 */
#include "check.h"
#include "memport.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc_str(const char *s)
{
    return fsg_crc32(FSG_CRC_INIT, s, strlen(s));
}

static void test_check_values(void)
{
    CHECK_EQ_INT(crc_str("123456789"), 0xd202d277u);
    CHECK_EQ_INT(crc_str("hello\n"), 0x78076e7cu);
    CHECK_EQ_INT(fsg_crc32(FSG_CRC_INIT, "", 0), 0xffffffffu);
    /* An empty update, even with no buffer, changes nothing (libdeflate
     * alone would return 0, zlib's initial value, for a NULL buffer). */
    CHECK_EQ_INT(fsg_crc32(FSG_CRC_INIT, NULL, 0), 0xffffffffu);
    uint32_t run = fsg_crc32(FSG_CRC_INIT, "1234", 4);
    run = fsg_crc32(run, NULL, 0);
    run = fsg_crc32(run, "56789", 5);
    CHECK_EQ_INT(run, 0xd202d277u);
    /* The common CRC-32 (seed 0) is a different value: not what is stored. */
    CHECK_EQ_INT(fsg_crc32(0, "123456789", 9), 0xcbf43926u);
    CHECK(crc_str("123456789") != 0xcbf43926u);
    CHECK_EQ_INT(FSG_CRC_INIT, 0xffffffffu);
}

static void test_chunked(void)
{
    /* A buffer with every byte value, fed in pieces of many sizes. */
    size_t len = 70000;
    unsigned char *buf = malloc(len);
    uint32_t seed = 12345;
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
    uint32_t whole = fsg_crc32(FSG_CRC_INIT, buf, len);
    static const size_t steps[] = {1, 2, 3, 7, 16, 63, 64, 255, 4096, 65537};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        uint32_t crc = FSG_CRC_INIT;
        for (size_t off = 0; off < len; off += steps[s]) {
            size_t n = len - off < steps[s] ? len - off : steps[s];
            crc = fsg_crc32(crc, buf + off, n);
        }
        CHECK_EQ_INT(crc, whole);
    }
    /* Zero-length pieces change nothing. */
    uint32_t c = fsg_crc32(FSG_CRC_INIT, "12345", 5);
    c = fsg_crc32(c, "", 0);
    c = fsg_crc32(c, "6789", 4);
    CHECK_EQ_INT(c, 0xd202d277u);
    /* A single flipped bit changes the value. */
    buf[len / 2] ^= 0x10;
    CHECK(fsg_crc32(FSG_CRC_INIT, buf, len) != whole);
    free(buf);
}

static void test_format(void)
{
    char out[FSG_HASH_STRLEN];
    CHECK_EQ_STR(fsg_hash_format(0x5, out), "0x5");
    CHECK_EQ_STR(fsg_hash_format(0x0, out), "0x0");
    CHECK_EQ_STR(fsg_hash_format(0xffffffffu, out), "0xffffffff");
    CHECK_EQ_STR(fsg_hash_format(0xd202d277u, out), "0xd202d277");
    CHECK_EQ_STR(fsg_hash_format(0x1C291CA3u, out), "0x1c291ca3");
    CHECK_EQ_STR(fsg_hash_format(0x10, out), "0x10");
    CHECK_EQ_STR(fsg_hash_format(0x0000abcdu, out), "0xabcd");
    CHECK_EQ_STR(fsg_hash_format(0x80000000u, out), "0x80000000");
    /* Returns its buffer; the longest form fits FSG_HASH_STRLEN exactly. */
    CHECK(fsg_hash_format(1, out) == out);
    memset(out, 'Z', sizeof out);
    fsg_hash_format(0xffffffffu, out);
    CHECK_EQ_INT(strlen(out), FSG_HASH_STRLEN - 1);
}

static void expect_parse(const char *s, uint32_t want)
{
    uint32_t v = 0xdeadbeefu;
    int r = fsg_hash_parse(s, &v);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(v, want);
    if (r != 0 || v != want)
        fprintf(stderr, "  (parsing \"%s\")\n", s);
}

static void expect_reject(const char *s)
{
    uint32_t v = 0x12345678u;
    int r = fsg_hash_parse(s, &v);
    CHECK_EQ_INT(r, FSG_ERR_CORRUPT);
    CHECK_EQ_INT(v, 0x12345678u); /* untouched on failure */
    if (r != FSG_ERR_CORRUPT)
        fprintf(stderr, "  (\"%s\" was accepted)\n", s);
}

static void test_parse(void)
{
    expect_parse("0x5", 0x5);
    expect_parse("0X1C291CA3", 0x1c291ca3u);
    expect_parse("1c291ca3", 0x1c291ca3u);
    expect_parse("0x00000005", 0x5);
    expect_parse("0x0", 0);
    expect_parse("0", 0);
    expect_parse("0xffffffff", 0xffffffffu);
    expect_parse("FFFFFFFF", 0xffffffffu);
    expect_parse("0x000000000000000000ffffffff", 0xffffffffu); /* leading zeros */
    expect_parse("0xAbCdEf01", 0xabcdef01u);

    expect_reject("");
    expect_reject("0x");
    expect_reject("0X");
    expect_reject("0xg1");
    expect_reject("0x1ffffffff");
    expect_reject("100000000");
    expect_reject("-1");
    expect_reject(" 0x5");
    expect_reject("0x5 ");
    expect_reject("+5");
    expect_reject("0x0x5");
    expect_reject("x5");
    expect_reject("0x5\n");
    expect_reject("0xffffffffffffffffffffffff");

    /* Every formatted value parses back to itself. */
    static const uint32_t vals[] = {0, 1, 0xf, 0x10, 0x1c291ca3u, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char out[FSG_HASH_STRLEN];
        uint32_t v = 0;
        CHECK_EQ_INT(fsg_hash_parse(fsg_hash_format(vals[i], out), &v), 0);
        CHECK_EQ_INT(v, vals[i]);
    }
}

static void test_strings(void)
{
    /* Error and defect texts exist for every code and never are NULL. */
    CHECK_EQ_STR(fsg_strerror(FSG_ERR_NOSPC), "no space left on device");
    CHECK(fsg_strerror(12345) != NULL);
    CHECK(fsg_defect_str(FSG_DEFECT_NAME_OUTSIDE) != NULL);
    CHECK(strcmp(fsg_defect_str(FSG_DEFECT_NAME_OUTSIDE), fsg_defect_str(FSG_DEFECT_NONE)) != 0);
    CHECK(fsg_defect_str(999) != NULL);
}

int main(void)
{
    test_check_values();
    test_chunked();
    test_format();
    test_parse();
    test_strings();
    return check_done("test_crc");
}
