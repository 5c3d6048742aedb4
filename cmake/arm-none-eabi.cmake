# arm-none-eabi.cmake -- CMake toolchain file for a Cortex-M4 (Thumb-2, no
# FPU used) with picolibc (Debian: gcc-arm-none-eabi, picolibc-arm-none-eabi),
# whose programs run on QEMU's mps2-an386 board through semihosting
# (scripts/mcu-run.sh, ctest's emulator). The board's memory map: 4 MiB of
# code at 0, 4 MiB of RAM at 0x20000000, of which FSG_MCU_STACK bytes are
# the stack.
#
#   cmake -S tests/mcu -B build-mcu/arm -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(FSG_MCU_ARCH arm)
set(FSG_MCU_CPU_FLAGS "-mcpu=cortex-m4 -mthumb")
set(FSG_MCU_FLASH 0x00000000)
set(FSG_MCU_RAM 0x20000000)
include(${CMAKE_CURRENT_LIST_DIR}/mcu-common.cmake)
