#!/usr/bin/env bash
# mcu-run.sh ARCH PROGRAM.elf [ARG]... -- runs a program built for a
# microcontroller (cmake/arm-none-eabi.cmake) on an emulated board, as
# ctest's CMAKE_CROSSCOMPILING_EMULATOR, and tells apart what can happen:
#
#   PASS   the program returned 0                       exit 0
#   FAIL   it returned N (1..125, not a fault)          exit N
#   ABORT  it called abort() (picolibc: status 134)     exit 134
#   FAULT  the CPU took a fault (picolibc prints
#          "ARM fault" or "RISCV fault", exits 1)       exit 135
#   HANG   it ran past MCU_TIMEOUT seconds (default 300) exit 124
#   ERROR  the emulator itself failed (no such board,
#          a program it cannot load)                    exit 125
#
# so that no failure of the harness can read as a pass: a pass needs the
# program's own exit status 0, delivered through semihosting, with no
# fault report on the way. The program's output passes through; the
# verdict is the last line, on stderr.
#
# ARCH: arm (Cortex-M4 on QEMU's mps2-an386 board) or riscv32 (RV32IMAC on
# QEMU's virt board, no firmware: the program is loaded at 0x80000000).
set -u -o pipefail

[ $# -ge 2 ] || { echo "usage: mcu-run.sh ARCH PROGRAM.elf [ARG]..." >&2; exit 125; }
arch=$1 elf=$2
shift 2
timeout_s=${MCU_TIMEOUT:-300}

case $arch in
arm) qemu=(qemu-system-arm -M mps2-an386 -cpu cortex-m4) ;;
riscv32) qemu=(qemu-system-riscv32 -M virt -bios none) ;;
*) echo "mcu-run: unknown architecture '$arch'" >&2; exit 125 ;;
esac
command -v "${qemu[0]}" >/dev/null || { echo "mcu-run: ${qemu[0]} is not installed (make deps-mcu)" >&2; exit 125; }
[ -f "$elf" ] || { echo "mcu-run: $elf: no such program" >&2; exit 125; }

# Semihosting hands the program its arguments; picolibc's crt0 puts its
# own argv[0] ("program-name") before them.
semi="enable=on,target=native"
for a in "$@"; do
    case $a in *,*) echo "mcu-run: an argument may not hold a comma: $a" >&2; exit 125 ;; esac
    semi="$semi,arg=$a"
done

log=$(mktemp "${TMPDIR:-/tmp}/mcu-run.XXXXXX") || exit 125
trap 'rm -f "$log"' EXIT
# -icount: instructions drive the clock, so the same program runs the same
# way however loaded the host is. -monitor none: no console of QEMU's own.
timeout --foreground -k 5 "$timeout_s" "${qemu[@]}" -nographic -monitor none -serial none \
    -icount shift=0 -semihosting-config "$semi" -kernel "$elf" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

if grep -qE '^(ARM|RISCV|RISC-V) fault' "$log"; then
    echo "mcu-run: FAULT: $(basename "$elf") took a CPU fault (exit $rc)" >&2
    exit 135
fi
case $rc in
0) echo "mcu-run: PASS: $(basename "$elf")" >&2; exit 0 ;;
124 | 137) echo "mcu-run: HANG: $(basename "$elf") still ran after ${timeout_s} s" >&2; exit 124 ;;
134) echo "mcu-run: ABORT: $(basename "$elf") called abort()" >&2; exit 134 ;;
esac
if grep -qiE 'qemu-system-[a-z0-9]+: ' "$log"; then
    echo "mcu-run: ERROR: the emulator failed (exit $rc)" >&2
    exit 125
fi
[ "$rc" -ge 1 ] && [ "$rc" -le 125 ] || rc=125
echo "mcu-run: FAIL: $(basename "$elf") returned $rc" >&2
exit "$rc"
