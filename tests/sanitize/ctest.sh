#!/usr/bin/env bash
# The whole test suite under ASan + UBSan (`make test-sanitize`, README.md): configures and builds BUILD with
# -DNFP_SANITIZE=address,undefined (gcc by default; CXX=clang++ works too), then runs CTest there with the runtime
# options below. Any sanitizer report fails the test that triggered it: UBSan stops the process
# (-fno-sanitize-recover), ASan always does, LeakSanitizer reports at exit.
# Usage: tests/sanitize/ctest.sh [BUILD] [ctest arguments...]     (BUILD defaults to build-asan)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build-asan}
shift || true
jobs=${NFP_JOBS:-$(nproc)}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNFP_SANITIZE=address,undefined >/dev/null
cmake --build "$build" -j "$jobs"

# Leaks inside libraries nfp links but does not own are suppressed (lsan.supp says which and why); nfp's own are not.
# Not detect_stack_use_after_return: its fake stack frames are not 64-byte aligned, and GCC 12 spills AVX-512
# registers with aligned stores (vmovaps zmm) there, a general-protection fault in the runtime's AVX-512 kernels
# (quantize_avx512) that only this option causes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$here/ubsan.supp}
cd "$build"
# Tests run 2-5x slower under the sanitizers: CTest's per-test limit is raised accordingly.
ctest --output-on-failure -j "$jobs" --timeout 1800 "$@"
