#!/usr/bin/env bash
# `cmake --install` gives a usable library: a program built only from the
# installed header, library and pkg-config file computes QuecPython's hash.
set -euo pipefail
build=${1:?usage: install.sh BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name fsguard.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: fsguard.pc not installed"; exit 1; }
[ -x "$tmp/prefix/bin/fsguard" ] || { echo "FAIL: fsguard tool not installed"; exit 1; }
cat > "$tmp/use.c" <<'C'
#include <fsguard.h>
#include <fsguard_posix.h>
#include <stdio.h>
int main(void)
{
    char h[FSG_HASH_STRLEN];
    struct fsg_posix p;
    if (fsg_posix_open(&p, ".", 1) != 0)
        return 1;
    fsg_posix_close(&p);
    puts(fsg_hash_format(fsg_crc32(FSG_CRC_INIT, "123456789", 9), h));
    return 0;
}
C
export PKG_CONFIG_PATH=$(dirname "$pc")
# shellcheck disable=SC2046
cc -std=c11 ${FSG_CONSUMER_CFLAGS:-} -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --static --libs fsguard)
out=$("$tmp/use")
if [ "$out" = "0xd202d277" ]; then
  echo "1 passed, 0 failed"
else
  echo "FAIL: installed library printed '$out', expected 0xd202d277"
  echo "0 passed, 1 failed"
  exit 1
fi
