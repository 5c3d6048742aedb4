# fsguard: the quick-start commands. The real build is CMake (CMakeLists.txt).
#   make demo   install missing Debian packages, build, run the demo device
#   make test   install missing Debian packages, build, run every test, check
#               the core's size (make size), run the tests again under
#               AddressSanitizer + UndefinedBehaviorSanitizer, then a 10 s
#               run of each fuzz target
#   make test-deep  the power-loss sweeps with more seeds and fault kinds
#   make fuzz   the libFuzzer targets, FUZZ_SECONDS each (clang)
#   make bench  fsguard against rhash, sha256sum, rsync and a bare read;
#               writes bench/results/ and refreshes the README's table
#   make size   the core built for a Cortex-M4: sizes, stack frames and
#               allocator use against the budgets (make test runs it)
#   make test-mcu  the core's tests built for a Cortex-M4 and a 32-bit
#               RISC-V and run on emulated boards (QEMU), cJSON built from
#               Debian's source (make test runs it)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MCU_BUILD ?= build-mcu
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = boot name
JOBS ?= 2
BENCH_WORK ?= $(BUILD)/bench-work
BENCH_FLAGS ?=

.PHONY: all deps build test test-asan test-deep test-mcu fuzz bench size demo install clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory size
	$(MAKE) --no-print-directory test-mcu
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFSG_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

test-deep: build
	FSG_CRASH_DEEP=1 ctest --test-dir $(BUILD) --output-on-failure -R '^crash' -j $(JOBS)

# Each target starts from a copy of its corpus (tests/fuzz/corpus/T); a
# crash stops make and leaves the input in $(FUZZ_BUILD): keep it in the
# corpus, and it replays in every test build from then on.
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DFSG_TESTS=OFF -DFSG_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t && cp tests/fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/ && \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s" && \
	  (cd $(FUZZ_BUILD) && ./tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=0 corpus/$$t 2>&1 | tail -n 3) && \
	  test "$$(ls $(FUZZ_BUILD)/crash-* $(FUZZ_BUILD)/leak-* $(FUZZ_BUILD)/timeout-* 2>/dev/null)" = "" \
	  || { echo "fuzz_$$t found a problem: see $(FUZZ_BUILD)"; exit 1; }; \
	done

bench: build
	@bash scripts/deps.sh bench
	python3 bench/bench.py --fsguard $(BUILD)/fsguard --measure $(BUILD)/bench/measure \
	  --bareread $(BUILD)/bench/bareread --work $(BENCH_WORK) --out bench/results $(BENCH_FLAGS)

# The target suites (tests/mcu): one build per architecture (toolchain
# file cmake/TOOLCHAIN.cmake into $(MCU_BUILD)/ARCH).
MCU_TARGETS = arm:arm-none-eabi riscv32:riscv32-unknown-elf
test-mcu:
	@bash scripts/deps.sh mcu
	bash scripts/debsrc.sh cjson libcjson-dev $(MCU_BUILD)/src
	bash scripts/debsrc.sh libsodium libsodium-dev $(MCU_BUILD)/src
	@set -e; for t in $(MCU_TARGETS); do \
	  arch=$${t%%:*}; tc=$${t#*:}; \
	  cmake -S tests/mcu -B $(MCU_BUILD)/$$arch -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/$$tc.cmake \
	    -DFSG_CJSON_SRC=$(CURDIR)/$(MCU_BUILD)/src/cjson \
	    -DFSG_SODIUM_SRC=$(CURDIR)/$(MCU_BUILD)/src/libsodium; \
	  cmake --build $(MCU_BUILD)/$$arch -j $(JOBS); \
	  ctest --test-dir $(MCU_BUILD)/$$arch --output-on-failure -j $(JOBS); \
	done

size:
	@bash scripts/deps.sh size
	bash scripts/size.sh $(BUILD)-size

demo: build
	bash scripts/demo.sh $(BUILD)/fsguard

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(MCU_BUILD) demo-device
