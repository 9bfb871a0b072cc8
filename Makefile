# The two commands: `make demo` and `make test`. A thin layer over CMake and ctest.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test test-unit test-asan test-tsan check-builds demo install fuzz clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Every test through ctest (unit, integration, browser, and the "build" label: the Dockerfile's
# configure line and clang Release, scripts/check-builds.sh), then under AddressSanitizer +
# UndefinedBehaviorSanitizer the unit tests, every integration test that drives the gateway or the
# delivery worker (label "asan") and the SDK compatibility cases (label "compat", serial), $(JOBS)
# at a time (each starts its own services on free ports; the timing-bound checks are in the
# regular build's serial run).
test: build
	ctest --test-dir $(BUILD) --output-on-failure --timeout 600
	$(MAKE) --no-print-directory test-asan

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure --timeout 900 -L 'unit|asan|compat' -j $(JOBS)

# The same gateway and worker tests under ThreadSanitizer (not part of `make test`): a race report
# from any process they start fails the test (tests/tsan.supp lists librdkafka's own).
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_TSAN=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	ctest --test-dir $(TSAN_BUILD) --output-on-failure --timeout 900 -L asan -j $(JOBS)

# The Dockerfile's configure line (gcc Release, tests off) and clang Release, as `make test` runs
# them (ctest -L build); CLEAN=1 builds them from scratch.
check-builds: deps
	@scripts/check-builds.sh $(if $(CLEAN),--clean) $(BUILD)/check-builds

# The demo's build prints one summary line (or the errors); its whole output goes to
# $(BUILD)/build.log. Same configure and build as `make build`.
demo: deps
	@JOBS='$(JOBS)' CMAKE_ARGS='$(CMAKE_ARGS)' scripts/build-quiet.sh $(BUILD)
	@scripts/demo.sh $(BUILD)

# Every libFuzzer target (tests/fuzz) for FUZZ_SECONDS each (clang, ASan+UBSan). New inputs go
# to build-fuzz/corpus/<target>; the checked-in seeds in tests/fuzz/corpus are only read.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target sluice-fuzzers
	@set -e; for f in build-fuzz/tests/fuzz/fuzz_*; do \
	  name=$${f##*/fuzz_}; case "$$name" in replay_*) continue ;; esac; \
	  mkdir -p build-fuzz/corpus/$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus/$$name tests/fuzz/corpus/$$name 2>build-fuzz/fuzz-$$name.log \
	    || { tail -40 build-fuzz/fuzz-$$name.log; echo "fuzz: $$name found a problem (input in build-fuzz/)"; exit 1; }; \
	  grep -E "stat::number_of_executed_units|stat::peak_rss" build-fuzz/fuzz-$$name.log; \
	done

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
