#!/usr/bin/env python3
"""forge_crc.py ORIG PREFIX OUT -- writes OUT: PREFIX plus 4 bytes chosen so
that OUT has the same QuecPython CRC-32 as ORIG (binascii.crc32(data,
0xFFFFFFFF)), different bytes. The CRC is affine over GF(2) in those 4
bytes: 32 basis vectors, then Gaussian elimination. Used by the tests to
show that a sha256 catches what a CRC-32 cannot."""
import binascii, sys
def crc(b):
    return binascii.crc32(b, 0xFFFFFFFF)
orig, prefix, out = sys.argv[1:4]
target = crc(open(orig, "rb").read())
pre = open(prefix, "rb").read()
base = crc(pre + bytes(4))
basis = {}
for i in range(32):
    s = bytearray(4)
    s[i // 8] |= 1 << (i % 8)
    v, m = crc(pre + bytes(s)) ^ base, 1 << i
    for bit in range(31, -1, -1):
        if not (v >> bit) & 1:
            continue
        if bit in basis:
            v, m = v ^ basis[bit][0], m ^ basis[bit][1]
        else:
            basis[bit] = (v, m)
            break
x, comb = base ^ target, 0
for bit in range(31, -1, -1):
    if (x >> bit) & 1:
        if bit not in basis:
            sys.exit("forge: no solution")
        x, comb = x ^ basis[bit][0], comb ^ basis[bit][1]
data = pre + bytes((comb >> (8 * k)) & 0xFF for k in range(4))
assert crc(data) == target and data != open(orig, "rb").read()
open(out, "wb").write(data)
