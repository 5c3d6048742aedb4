# mcu-common.cmake -- what the microcontroller toolchain files share
# (arm-none-eabi.cmake, riscv32-unknown-elf.cmake): a bare-metal system,
# picolibc's start-up code, linker script and semihosting, the board's
# memory map by --defsym, and scripts/mcu-run.sh as ctest's emulator. The
# including file sets FSG_MCU_ARCH, CMAKE_C_COMPILER, FSG_MCU_CPU_FLAGS
# and FSG_MCU_FLASH / FSG_MCU_RAM (addresses of 4 MiB each).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(FSG_MCU_STACK 0x4000 CACHE STRING "stack size of the target programs (bytes)")
set(CMAKE_C_FLAGS_INIT "${FSG_MCU_CPU_FLAGS} --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "--oslib=semihost --crt0=semihost \
-Wl,--defsym=__flash=${FSG_MCU_FLASH} -Wl,--defsym=__flash_size=0x400000 \
-Wl,--defsym=__ram=${FSG_MCU_RAM} -Wl,--defsym=__ram_size=0x400000 \
-Wl,--defsym=__stack_size=${FSG_MCU_STACK}")

get_filename_component(_fsg_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_fsg_root}/scripts/mcu-run.sh;${FSG_MCU_ARCH}")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
