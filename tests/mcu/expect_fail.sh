#!/usr/bin/env bash
# expect_fail.sh ARCH PROGRAM.elf -- passes only if PROGRAM, a test built
# against a core broken on purpose, runs to its end on the target and
# reports failed checks (the runner's FAIL verdict): a fault, an abort, a
# hang or a pass means the target suite would not catch the breakage.
set -u
out=$(bash "$(dirname "$0")/../../scripts/mcu-run.sh" "$@" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E 'CHECK failed|checks,|mcu-run:' | head -5
if [ $rc -ge 1 ] && [ $rc -le 123 ] && printf '%s\n' "$out" | grep -qE '[1-9][0-9]* failed'; then
    echo "expect_fail: caught (exit $rc)"
    exit 0
fi
echo "expect_fail: the broken core was not caught (exit $rc)"
exit 1
