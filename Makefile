# fsguard: the quick-start commands. The real build is CMake (CMakeLists.txt).
#   make demo   install missing Debian packages, build, run the demo device
#   make test   install missing Debian packages, build, run every test, then
#               again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-deep  the power-loss sweeps with more seeds and fault kinds
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2

.PHONY: all deps build test test-asan test-deep demo install clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory test-asan

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFSG_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

test-deep: build
	FSG_CRASH_DEEP=1 ctest --test-dir $(BUILD) --output-on-failure -R '^crash' -j $(JOBS)

demo: build
	bash scripts/demo.sh $(BUILD)/fsguard

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) demo-device
