#!/usr/bin/env bash
# The demo: builds a device from examples/quecpython-app with `fsguard pack`
# (what QuecPython's factory tool does), damages it in five ways, runs
# `fsguard boot`, and shows every protected file back to its factory content.
set -euo pipefail
cd "$(dirname "$0")/.."
FSGUARD=${1:-build/fsguard}
DEV=demo-device
SRC=examples/quecpython-app

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; set +e; "$@"; rc=$?; set -e; printf '(exit %d)\n' "$rc"; }

rm -rf "$DEV"
say "Factory image: $DEV/usr (user partition) and $DEV/bak (read-only backup)"
run "$FSGUARD" pack "$SRC" --out "$DEV"
(cd "$DEV" && find usr bak -type f | sort | sed 's/^/  /')
echo "  $DEV/bak/backup_restore.json: $(cat "$DEV/bak/backup_restore.json")"

say "First boot of an intact device: nothing to do, nothing written"
run "$FSGUARD" boot --root "$DEV"

say "Damage the user partition"
rm "$DEV/usr/main.py";                                echo "  deleted     usr/main.py"
python3 - "$DEV/usr/cfg/system_config.json" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[12] ^= 0x04
open(p, 'wb').write(b)
PY
echo "  flipped a bit in usr/cfg/system_config.json"
truncate -s 20 "$DEV/usr/cfg/cloud.json";             echo "  truncated   usr/cfg/cloud.json to 20 bytes"
rm "$DEV/usr/checksum.json";                          echo "  deleted     usr/checksum.json"
rm -r "$DEV/usr/app";                                 echo "  deleted     usr/app/ (holds usr/app/net.py)"

say "What would boot do? (verify writes nothing)"
run "$FSGUARD" verify --root "$DEV"

say "Boot: find and repair"
run "$FSGUARD" boot --root "$DEV"

say "Every protected file is back to its factory content"
bad=0
while IFS= read -r -d '' f; do
  rel=${f#"$SRC"/}
  if cmp -s "$f" "$DEV/usr/$rel"; then
    echo "  identical   usr/$rel"
  else
    echo "  DIFFERENT   usr/$rel"; bad=1
  fi
done < <(find "$SRC" -type f -print0 | sort -z)

say "A legitimate edit, recorded with calc (QuecPython's file_crc32.calc), survives the next boot"
printf '{"volume": 3, "server": "203.0.113.10", "port": 8883, "log_level": "info"}\n' \
  > "$DEV/usr/cfg/system_config.json"
run "$FSGUARD" calc --root "$DEV" /usr/cfg/system_config.json
run "$FSGUARD" boot --root "$DEV"
echo "  usr/cfg/system_config.json: $(cat "$DEV/usr/cfg/system_config.json")"

say "QuecPython's own reader accepts the checksum.json fsguard wrote"
run python3 scripts/qpy_check.py "$DEV/usr" "$DEV/bak"

[ "$bad" -eq 0 ] || { echo "demo: some files were not restored" >&2; exit 1; }
echo
echo "demo: done. The device is in ./$DEV; try: $FSGUARD boot --root $DEV --json"
