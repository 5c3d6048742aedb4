# riscv32-unknown-elf.cmake -- CMake toolchain file for a 32-bit RISC-V
# microcontroller (RV32IMAC, ilp32) with picolibc (Debian:
# gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf: multilib compilers
# that also build rv32), whose programs run on QEMU's virt board without
# firmware, through semihosting (scripts/mcu-run.sh, ctest's emulator).
# The program is loaded at 0x80000000: 4 MiB of code there, then 4 MiB of
# RAM, of which FSG_MCU_STACK bytes are the stack.
#
#   cmake -S tests/mcu -B build-mcu/riscv32 -DCMAKE_TOOLCHAIN_FILE=cmake/riscv32-unknown-elf.cmake
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(FSG_MCU_ARCH riscv32)
set(FSG_MCU_CPU_FLAGS "-march=rv32imac -mabi=ilp32 -mcmodel=medany")
set(FSG_MCU_FLASH 0x80000000)
set(FSG_MCU_RAM 0x80400000)
include(${CMAKE_CURRENT_LIST_DIR}/mcu-common.cmake)
