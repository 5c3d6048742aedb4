#!/usr/bin/env bash
# runner_test.sh ARCH SELFTEST.elf -- scripts/mcu-run.sh tells a pass, a
# failure, an abort, a CPU fault and a hang apart (exit 0, 3, 134, 135, 124)
# and never reports one as another: otherwise a crash on the target could
# read as a passing test.
set -u
runner="$(dirname "$0")/../../scripts/mcu-run.sh"
arch=$1 elf=$2
failed=0
expect() {
    local what=$1 want=$2 got
    MCU_TIMEOUT=${3:-60} bash "$runner" "$arch" "$elf" "$what" >/dev/null 2>&1
    got=$?
    if [ "$got" = "$want" ]; then
        echo "ok   $what: exit $got"
    else
        echo "FAIL $what: exit $got, expected $want"
        failed=1
    fi
}
expect pass 0
expect fail 3
expect abort 134
expect fault 135
expect hang 124 5
bash "$runner" "$arch" "$elf.missing" >/dev/null 2>&1
got=$?
if [ $got = 125 ]; then echo "ok   a missing program: exit 125"; else echo "FAIL a missing program: exit $got"; failed=1; fi
exit $failed
