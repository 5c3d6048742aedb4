#!/usr/bin/env bash
# The core (core/, and host/ for now) may include only standard C headers, its own headers and
# the JSON, CRC and crypto libraries: everything platform-specific is behind the port.
set -u
root=${1:?usage: core_includes.sh REPO_ROOT}
allowed='^(fsguard\.h|fsg_internal\.h|stdbool\.h|stddef\.h|stdint\.h|string\.h|stdlib\.h|cjson/cJSON\.h|libdeflate\.h|sodium\.h)$'
bad=0 n=0
while IFS=: read -r file line inc; do
  n=$((n + 1))
  name=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$inc")
  if ! grep -Eq "$allowed" <<<"$name"; then
    echo "FAIL: $file:$line includes <$name>, which the core must not use"
    bad=$((bad + 1))
  fi
done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$root"/core/*.[ch] "$root"/host/*.c)
[ "$n" -gt 0 ] || { echo "FAIL: no includes found under $root/core"; exit 1; }
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
