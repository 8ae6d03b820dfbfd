# The two commands of the README. Each does its own set-up on a fresh Debian machine.
#   make demo  — install dependencies, build, run nfp's main job on its embedded default
#   make test  — install dependencies, build, run the test suite, then the sanitizer + fuzz smoke stage
#                (tests/fuzz/smoke.sh: a clang ASan + UBSan build in $(FUZZ_BUILD), every fuzz corpus replayed,
#                each target fuzzed FUZZ_SECONDS; skipped with one SKIP line where clang cannot be installed)
#   make test-sanitize — the whole suite in an ASan + UBSan build of its own ($(ASAN_BUILD); not part of make test:
#                a second full build, then ~7 minutes of tests on 2 cores)
BUILD ?= build
FUZZ_BUILD ?= build-fuzz
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 30
JOBS ?= $(shell nproc)
FUZZ_SMOKE = NFP_FUZZ_JOBS=$(JOBS) NFP_FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/smoke.sh $(FUZZ_BUILD)

.PHONY: all deps configure build demo test fuzz-smoke test-sanitize clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(FUZZ_SMOKE)

fuzz-smoke: deps
	@$(FUZZ_SMOKE)

test-sanitize: deps
	@NFP_JOBS=$(JOBS) bash tests/sanitize/ctest.sh $(ASAN_BUILD)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)
