#!/usr/bin/env bash
# size.sh -- `make size`: compiles the portable core for an ARM Cortex-M4
# (arm-none-eabi-gcc -Os -ffreestanding, warnings as errors) and reports
# what issue 8 budgets: .text/.data/.bss of each core object (the JSON, CRC
# and crypto libraries are not compiled in: they are the firmware's), and
# every function's stack frame (-fstack-usage). Exits 1 if a budget is
# exceeded: core .text over 10 KiB, any .data or .bss, a frame over 512 B.
#
#   scripts/size.sh [OUT_DIR] [--report-only]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-size}
mode=${2:-}
cc=${ARM_CC:-arm-none-eabi-gcc}
size=${ARM_SIZE:-arm-none-eabi-size}
TEXT_MAX=$((10 * 1024))
FRAME_MAX=512

command -v "$cc" >/dev/null || { echo "size: $cc not found (make size installs gcc-arm-none-eabi)" >&2; exit 2; }
# The core's sources, as CMake lists them.
mapfile -t core < <(sed -n '/^set(FSG_CORE_SOURCES/,/)/p' "$root/CMakeLists.txt" |
                    grep -o 'src/[a-z_]*\.c')
[ ${#core[@]} -gt 0 ] || { echo "size: no core sources found in CMakeLists.txt" >&2; exit 2; }

rm -rf "$out" && mkdir -p "$out/inc"
# The libraries' headers come from the host's Debian packages, linked in
# place (their code is not compiled here: on a device it is the firmware's).
ln -s /usr/include/cjson "$out/inc/cjson"
ln -s /usr/include/sodium.h "$out/inc/sodium.h"
ln -s /usr/include/sodium "$out/inc/sodium"

flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft -Os -ffreestanding -std=c11 -fstack-usage
       -ffunction-sections -fdata-sections -Wall -Wextra -Wpedantic -Werror -Wshadow
       -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 -Wconversion -Wno-sign-conversion
       -DFSG_CRC_TABLE -I"$root/include" -I"$out/inc")
for f in "${core[@]}"; do
  "$cc" "${flags[@]}" -c "$root/$f" -o "$out/$(basename "$f" .c).o"
done

printf '%-14s %8s %8s %8s %8s\n' object .text .rodata .data .bss
total_text=0 total_ro=0 total_data=0 total_bss=0
for o in "$out"/*.o; do
  # Sections by name (-ffunction-sections makes one per function).
  read -r text ro data bss < <("$size" -A "$o" | awk '
    /^\.text/ {t += $2} /^\.rodata/ {r += $2} /^\.data/ {d += $2} /^\.bss/ {b += $2}
    END {printf "%d %d %d %d\n", t, r, d, b}')
  printf '%-14s %8d %8d %8d %8d\n' "$(basename "$o")" "$text" "$ro" "$data" "$bss"
  total_text=$((total_text + text)) total_ro=$((total_ro + ro))
  total_data=$((total_data + data)) total_bss=$((total_bss + bss))
done
printf '%-14s %8d %8d %8d %8d\n' total "$total_text" "$total_ro" "$total_data" "$total_bss"

echo
echo "largest stack frames (bytes):"
cat "$out"/*.su | awk -F'\t' '{split($1, a, ":"); printf "%6d  %s %s\n", $2, a[length(a)], $3}' |
  sort -rn | head -n 12
max_frame=$(cat "$out"/*.su | awk -F'\t' 'BEGIN{m=0} $2>m{m=$2} END{print m}')
dynamic=$(cat "$out"/*.su | awk -F'\t' '$3 ~ /dynamic/' | wc -l)

echo
fail=0
check() { # check OK WHAT
  if [ "$1" = 1 ]; then echo "met:    $2"; else echo "MISSED: $2"; fail=1; fi
}
check $((total_text <= TEXT_MAX)) "core .text $total_text bytes <= $TEXT_MAX"
check $((total_data == 0 && total_bss == 0)) "no writable data: .data $total_data, .bss $total_bss"
check $((max_frame <= FRAME_MAX)) "largest stack frame $max_frame bytes <= $FRAME_MAX"
check $((dynamic == 0)) "no dynamically sized stack frame ($dynamic)"
[ "$mode" = --report-only ] && exit 0
exit $fail
