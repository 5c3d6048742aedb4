#!/usr/bin/env bash
# debsrc.sh PACKAGE BINARY DEST -- unpacks the Debian source of PACKAGE, at
# the version of the installed binary package BINARY (so the target links
# the same library the host tests use), into DEST/PACKAGE (replaced if it
# holds another version). For building a library for a microcontroller
# (make test-mcu): nothing third-party is kept in the repository, and
# everything comes from Debian's archive.
#
# apt-get source needs deb-src entries; where the system has none, one is
# added beside its deb entries (/etc/apt/sources.list.d/fsguard-deb-src.sources,
# the same archives and suites) and the lists updated. Needs root for that.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: debsrc.sh PACKAGE BINARY DEST" >&2; exit 2; }
pkg=$1 bin=$2 dest=$3
version=$(dpkg-query -W -f='${Version}' "$bin" 2>/dev/null) ||
    { echo "debsrc: $bin is not installed (make deps)" >&2; exit 1; }
mkdir -p "$dest"
stamp="$dest/$pkg/.fsguard-version"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    exit 0
fi

has_src() {
    grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! has_src; then
    [ "$(id -u)" -eq 0 ] || { echo "debsrc: no deb-src entries in apt's sources and not root to add them" >&2; exit 1; }
    out=/etc/apt/sources.list.d/fsguard-deb-src.sources
    echo "debsrc: adding deb-src entries ($out) for apt-get source"
    : >"$out.new"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$out" ] || continue
        # Every stanza of Debian's own archives, as deb-src.
        awk 'BEGIN { RS = ""; ORS = "\n\n" }
             /URIs:[^\n]*(deb\.debian\.org|security\.debian\.org|snapshot\.debian\.org)/ &&
             /Types:[^\n]*deb/ { sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$out.new"
    done
    if [ -f /etc/apt/sources.list ]; then
        sed -n 's/^deb \(.*debian\.org.*\)$/deb-src \1/p' /etc/apt/sources.list >"$out.list.tmp"
        if [ -s "$out.list.tmp" ]; then
            mv "$out.list.tmp" /etc/apt/sources.list.d/fsguard-deb-src.list
        else
            rm -f "$out.list.tmp"
        fi
    fi
    if [ -s "$out.new" ]; then mv "$out.new" "$out"; else rm -f "$out.new"; fi
    has_src || { echo "debsrc: found no Debian archive in apt's sources to take sources from" >&2; exit 1; }
    apt-get update -qq
fi

work=$(mktemp -d "$dest/.debsrc.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source -qq "$pkg=$version" >/dev/null)
dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" -print -quit)
[ -n "$dir" ] || { echo "debsrc: apt-get source $pkg=$version unpacked nothing" >&2; exit 1; }
rm -rf "${dest:?}/$pkg"
mv "$dir" "$dest/$pkg"
echo "$version" >"$stamp"
echo "debsrc: $pkg $version in $dest/$pkg"
