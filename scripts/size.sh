#!/usr/bin/env bash
# size.sh -- `make size`: compiles the portable core for an ARM Cortex-M4
# (arm-none-eabi-gcc -Os -ffreestanding, warnings as errors) in two
# configurations and reports what a firmware links, and what issue 8
# budgets. The JSON, CRC and crypto libraries are not compiled in: they are
# the firmware's, and appear only as the symbols the core needs from them.
#
#   small: FSG_NO_MALLOC FSG_NO_CRYPTO FSG_NO_FOTA FSG_NO_PERM FSG_SMALL FSG_CRC_TABLE,
#          the smallest core (docs/PORTING.md, "Build options and size");
#   full:  FSG_NO_MALLOC FSG_CRC_TABLE, every feature.
#
# A firmware links with --gc-sections, so what it carries depends on the
# API it calls. Each profile below is the core's objects linked (ld -r
# --gc-sections) from one set of API functions: that is the code the
# firmware gets. Budgets, checked (exit 1 if missed):
#   - the small configuration's boot + calc (QuecPython's boot check and
#     file_crc32.calc) has at most 11 KiB of .text (10 KiB until the
#     robustness fixes of issue 14 cost 1 KiB: docs/PORTING.md);
#   - no .data or .bss in any core object of either configuration;
#   - no stack frame over 512 bytes, none of dynamic size;
#   - the core calls no C-library allocator (malloc, realloc, free, ...)
#     or qsort: it allocates only through cfg.alloc.
#
#   scripts/size.sh [OUT_DIR] [--report-only]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-size}
mode=${2:-}
cc=${ARM_CC:-arm-none-eabi-gcc}
ld=${ARM_LD:-arm-none-eabi-ld}
nm=${ARM_NM:-arm-none-eabi-nm}
size=${ARM_SIZE:-arm-none-eabi-size}
TEXT_MAX=$((11 * 1024))
FRAME_MAX=512

command -v "$cc" >/dev/null || { echo "size: $cc not found (make size installs gcc-arm-none-eabi)" >&2; exit 2; }
# The core's sources: the core/ folder, as CMake takes them.
mapfile -t core < <(cd "$root" && ls core/*.c)
[ ${#core[@]} -gt 0 ] || { echo "size: no core sources found in core/" >&2; exit 2; }

rm -rf "$out" && mkdir -p "$out/inc"
# The libraries' headers come from the host's Debian packages, linked in
# place (their code is not compiled here: on a device it is the firmware's).
ln -s /usr/include/cjson "$out/inc/cjson"
ln -s /usr/include/sodium.h "$out/inc/sodium.h"
ln -s /usr/include/sodium "$out/inc/sodium"

# newlib's headers (string.h) from Debian's libnewlib-dev, searched last:
# the cross compiler's own sysroot is used first when it is installed.
flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft -Os -ffreestanding -std=c11 -fstack-usage
       -ffunction-sections -fdata-sections -Wall -Wextra -Wpedantic -Werror -Wshadow
       -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 -Wconversion -Wno-sign-conversion
       -I"$root/include" -I"$out/inc" -idirafter /usr/include/newlib)
declare -A defs=(
  [small]="-DFSG_NO_MALLOC -DFSG_NO_CRYPTO -DFSG_NO_FOTA -DFSG_NO_PERM -DFSG_SMALL -DFSG_CRC_TABLE"
  [full]="-DFSG_NO_MALLOC -DFSG_CRC_TABLE"
)
for config in small full; do
  mkdir -p "$out/$config"
  for f in "${core[@]}"; do
    # shellcheck disable=SC2086 # the definitions are separate words
    "$cc" "${flags[@]}" ${defs[$config]} -c "$root/$f" -o "$out/$config/$(basename "$f" .c).o"
  done
done

# sections OBJ: ".text .rodata .data .bss" byte counts (-ffunction-sections
# makes one section per function; they are summed by name).
sections() {
  "$size" -A "$1" | awk '
    /^\.text/ {t += $2} /^\.rodata/ {r += $2} /^\.data/ {d += $2} /^\.bss/ {b += $2}
    END {printf "%d %d %d %d\n", t, r, d, b}'
}

echo "core objects, full configuration (bytes):"
printf '  %-14s %8s %8s %8s %8s\n' object .text .rodata .data .bss
writable=0
for config in full small; do
  for o in "$out/$config"/*.o; do
    read -r text ro data bss < <(sections "$o")
    writable=$((writable + data + bss))
    [ "$config" = full ] &&
      printf '  %-14s %8d %8d %8d %8d\n' "$(basename "$o")" "$text" "$ro" "$data" "$bss"
  done
done

# api CONFIG: the public functions the configuration defines, as fsguard.h
# declares them.
api() {
  "$nm" --defined-only "$out/$1"/*.o | awk '$2 == "T" {print $3}' | sort -u |
    while read -r s; do grep -q "\\b$s(" "$root/include/fsguard.h" && echo "$s"; done
}
boot=(fsg_boot fsg_calc fsg_report_exit_code)
put=(fsg_put_begin fsg_put_write fsg_put_commit fsg_put_abort)
fota=(fsg_fota_begin fsg_fota_add fsg_fota_write fsg_fota_commit fsg_fota_abort fsg_fota_status)

# profile CONFIG NAME FUNCTION...: links the configuration's objects from
# those functions; prints a row, leaves the object in $out/CONFIG-NAME.o.
budget_text=0
profile() {
  local config=$1 name=$2
  shift 2
  local roots=()
  for s in "$@"; do roots+=(-u "$s"); done
  local obj="$out/$config-${name// /-}.o"
  "$ld" -r --gc-sections "${roots[@]}" -o "$obj" "$out/$config"/*.o
  read -r text ro data bss < <(sections "$obj")
  printf '  %-28s %-6s %8d %8d %8d %8d\n' "$name" "$config" "$text" "$ro" "$data" "$bss"
  [ "$name" = boot+calc ] && [ "$config" = small ] && budget_text=$text
  return 0
}
echo
echo "what a firmware links (ld --gc-sections from the API it calls; bytes):"
printf '  %-28s %-6s %8s %8s %8s %8s\n' "API called" config .text .rodata .data .bss
profile small boot+calc "${boot[@]}"
profile small boot+calc+put "${boot[@]}" "${put[@]}"
profile small "whole API" $(api small)
profile full boot+calc "${boot[@]}"
profile full boot+calc+put "${boot[@]}" "${put[@]}"
profile full boot+calc+put+fota "${boot[@]}" "${put[@]}" "${fota[@]}"
profile full "whole API" $(api full)

echo
echo "what the core needs from outside (undefined symbols, whole API):"
forbidden=0
for config in small full; do
  undef=$("$nm" -u "$out/$config-whole-API.o" | awk '{print $2}' | sort -u)
  echo "  $config: $(echo "$undef" | tr '\n' ' ')"
  bad=$(echo "$undef" | grep -E '^(malloc|calloc|realloc|free|qsort|printf|fprintf|abort|exit)$' || true)
  if [ "$config" = small ]; then
    bad+=$(echo "$undef" | grep -E '^(crypto_|sodium_|libdeflate_)' || true)
  fi
  [ -z "$bad" ] || { echo "  not allowed in the $config core: $bad"; forbidden=1; }
done

echo
echo "largest stack frames (bytes, both configurations):"
cat "$out"/*/*.su | awk -F'\t' '{split($1, a, ":"); printf "%6d  %s %s\n", $2, a[length(a)], $3}' |
  sort -rn | uniq | awk 'NR <= 8'   # not head: under pipefail, uniq may die of SIGPIPE
max_frame=$(cat "$out"/*/*.su | awk -F'\t' 'BEGIN{m=0} $2>m{m=$2} END{print m}')
dynamic=$(cat "$out"/*/*.su | awk -F'\t' '$3 ~ /dynamic/' | wc -l)

echo
fail=0
check() { # check OK WHAT
  if [ "$1" = 1 ]; then echo "met:    $2"; else echo "MISSED: $2"; fail=1; fi
}
check $((budget_text > 0 && budget_text <= TEXT_MAX)) \
  "small core, boot + calc: .text $budget_text bytes <= $TEXT_MAX"
check $((writable == 0)) "no writable data (.data + .bss of every core object: $writable)"
check $((max_frame <= FRAME_MAX)) "largest stack frame $max_frame bytes <= $FRAME_MAX"
check $((dynamic == 0)) "no dynamically sized stack frame ($dynamic)"
check $((forbidden == 0)) "no C-library allocator or qsort called by the core"
[ "$mode" = --report-only ] && exit 0
exit $fail
