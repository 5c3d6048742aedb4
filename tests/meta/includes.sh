#!/usr/bin/env bash
# The include rules of the library's two folders, checked file by file:
#  - core/ (what a device links) includes only standard C headers, the
#    public fsguard.h and its own fsg_internal.h: everything
#    platform-specific is behind the port, and no core file reaches a host
#    header (fsg_host.h, the POSIX port's);
#  - host/ may include the core's headers and its own fsg_host.h too;
#  - a library's header (cJSON, libdeflate, libsodium) only in a file that
#    calls that library, so the crypto header stands only where it is used.
set -u
root=${1:?usage: includes.sh REPO_ROOT}
std='stdbool\.h|stddef\.h|stdint\.h|string\.h|stdlib\.h'
# header => the prefix of the names a file that includes it must call
declare -A lib_use=([cjson/cJSON.h]='cJSON_' [libdeflate.h]='libdeflate_' [sodium.h]='crypto_')
bad=0 n=0
fail() { echo "FAIL: $1"; bad=$((bad + 1)); }
for file in "$root"/core/*.[ch] "$root"/host/*.[ch]; do
  case $file in
    */core/*) own='fsguard\.h|fsg_internal\.h' ;;
    *) own='fsguard\.h|fsg_internal\.h|fsg_host\.h' ;;
  esac
  while IFS=: read -r line inc; do
    n=$((n + 1))
    name=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$inc")
    if grep -Eqx "$std|$own" <<<"$name"; then
      continue
    elif [ -n "${lib_use[$name]:-}" ]; then
      grep -q "${lib_use[$name]}" <(grep -v '#[[:space:]]*include' "$file") ||
        fail "${file#"$root"/}:$line includes <$name> but calls nothing of it (${lib_use[$name]}*)"
    else
      fail "${file#"$root"/}:$line includes <$name>, which $(basename "$(dirname "$file")")/ must not use"
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$file")
done
[ "$n" -gt 0 ] || { echo "FAIL: no includes found under $root/core and $root/host"; exit 1; }
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
