#!/usr/bin/env bash
# Installs the Debian packages fsguard needs to build, test and run its demo,
# but only those that are missing (with 'bench' or 'size': those targets' too). Packages come from Debian's archive only.
set -euo pipefail

packages=(cmake make gcc libc6-dev pkg-config libcjson-dev libdeflate-dev libsodium-dev python3
          clang libclang-rt-14-dev openssl xxd)
# `deps.sh bench`: also the peers the benchmark measures, and gnuplot;
# `deps.sh size` (make size, and so make test): the ARM cross compiler the
# core is built with, and newlib's headers (libnewlib-dev: string.h; the
# 45 MB of newlib's libraries are not needed, nothing is linked).
# `deps.sh mcu` (make test-mcu): the ARM and RISC-V cross compilers,
# picolibc for each (C library, start-up code and linker script for the
# target), QEMU's ARM and RISC-V boards (qemu-system-misc), and dpkg-dev,
# with which apt-get source unpacks cJSON's source for the target.
if [ "${1:-}" = bench ]; then
  packages+=(rhash rsync gnuplot-nox)
elif [ "${1:-}" = size ]; then
  packages+=(gcc-arm-none-eabi libnewlib-dev)
elif [ "${1:-}" = mcu ]; then
  packages+=(gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm
             gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc dpkg-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "deps: not root and no sudo; install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
