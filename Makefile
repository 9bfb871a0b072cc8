# The two commands: `make demo` and `make test`. A thin layer over CMake and ctest.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test test-unit test-asan demo install fuzz clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Every test through ctest (unit, integration, browser), then the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
test: build
	ctest --test-dir $(BUILD) --output-on-failure --timeout 600
	$(MAKE) --no-print-directory test-asan

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -L unit

demo: build
	@scripts/demo.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
