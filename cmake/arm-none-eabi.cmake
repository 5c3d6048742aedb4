# arm-none-eabi.cmake -- CMake toolchain file for a Cortex-M4 (Thumb-2, no
# FPU used) with picolibc (Debian: gcc-arm-none-eabi, picolibc-arm-none-eabi),
# whose programs run on QEMU's mps2-an386 board through semihosting
# (scripts/mcu-run.sh, ctest's emulator). picolibc brings the start-up code
# and the linker script; the memory map is the board's: 4 MiB of code at 0,
# 4 MiB of RAM at 0x20000000, of which FSG_MCU_STACK bytes are the stack.
#
#   cmake -S tests/mcu -B build-mcu-arm -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(FSG_MCU_ARCH arm)

set(FSG_MCU_STACK 0x4000 CACHE STRING "stack size of the target programs (bytes)")
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "--oslib=semihost --crt0=semihost \
-Wl,--defsym=__flash=0x00000000 -Wl,--defsym=__flash_size=0x400000 \
-Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000 \
-Wl,--defsym=__stack_size=${FSG_MCU_STACK}")

get_filename_component(_fsg_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_fsg_root}/scripts/mcu-run.sh;arm")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
