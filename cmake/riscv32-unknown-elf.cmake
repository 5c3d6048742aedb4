# riscv32-unknown-elf.cmake -- CMake toolchain file for a 32-bit RISC-V
# microcontroller (RV32IMAC, ilp32) with picolibc (Debian:
# gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf: multilib compilers
# that also build rv32), whose programs run on QEMU's virt board without
# firmware, through semihosting (scripts/mcu-run.sh, ctest's emulator).
# The program is loaded at 0x80000000: 4 MiB of code there, then 4 MiB of
# RAM, of which FSG_MCU_STACK bytes are the stack.
#
#   cmake -S tests/mcu -B build-mcu/riscv32 -DCMAKE_TOOLCHAIN_FILE=cmake/riscv32-unknown-elf.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(FSG_MCU_ARCH riscv32)

set(FSG_MCU_STACK 0x4000 CACHE STRING "stack size of the target programs (bytes)")
set(CMAKE_C_FLAGS_INIT "-march=rv32imac -mabi=ilp32 -mcmodel=medany --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "--oslib=semihost --crt0=semihost \
-Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x400000 \
-Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x400000 \
-Wl,--defsym=__stack_size=${FSG_MCU_STACK}")

get_filename_component(_fsg_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_fsg_root}/scripts/mcu-run.sh;riscv32")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
