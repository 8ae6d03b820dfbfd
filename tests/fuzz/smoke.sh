#!/usr/bin/env bash
# The sanitizer + fuzz smoke stage of `make test` (README.md here): a clang build of the torch-free layers that hold
# the parsers (-DNFP_FUZZ=ON: libFuzzer, ASan + UBSan on every library), then for each fuzz target
#   1. its checked-in corpus replayed, one input at a time (a crash names the input), and
#   2. libFuzzer for a bounded time, on a scratch copy of the corpus (the checked-in one is never modified).
# Any crash, sanitizer report, leak, timeout or out-of-memory fails the stage (exit 1); each finding is described in
# a dozen lines (what, nfp's frames, the input, the whole log's path, the command that reproduces it: run_target.sh).
# Installs clang with apt-get when it is missing and it can (root or password-less sudo); otherwise prints one
# SKIP line and succeeds, so a machine without clang still passes `make test`.
#
# Usage: tests/fuzz/smoke.sh [BUILD_DIR]      (default: build-fuzz beside the sources)
# Environment:
#   NFP_FUZZ_SECONDS       libFuzzer time per target (default 30; hdf5, which forks a structure walk per input,
#                          gets a third of it); 0 replays the corpora only
#   NFP_FUZZ_JOBS          build jobs and targets fuzzed at once (default: the number of cores)
#   NFP_FUZZ_TARGETS       a space-separated subset of the targets (default: every one the build has)
#   NFP_FUZZ_UNIT_TIMEOUT  seconds one input may take while fuzzing (default 30; the replay allows twice that)
#   NFP_CLANG              the clang++ to use (default clang++; clang beside it is the C compiler)
#   NFP_FUZZ_SKIP_INSTALL  1: never install clang (also how the skip path is tested)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build-fuzz}
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
FUZZ_SECONDS=${NFP_FUZZ_SECONDS:-30}
JOBS=${NFP_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
CLANGXX=${NFP_CLANG:-clang++}
# The parsers' layers, all buildable without libtorch: core (nfp_base: safetensors, CSV), runtime (.nfpr through the
# C API), data (nfp_hdf5: the HDF5 readers), serve (nfp_serve_protocol: msgpack / WebSocket frames), monitor (its
# JSON calibration). Only the fuzz targets are built, so their torch-side neighbours (nfp_core, nfp_data) are not.
LAYERS="core;runtime;data;serve;monitor"
START=$(date +%s)

say() { echo "fuzz smoke: $*"; }
skip() { echo "SKIP: fuzz smoke (sanitizers + libFuzzer): $*"; exit 0; }
fail() { echo "FAIL: fuzz smoke: $*" >&2; exit 1; }

# A clang that can link a libFuzzer target with ASan + UBSan (the compiler-rt libraries are a package of their own on
# some Debian releases).
clang_works() {
  command -v "$CLANGXX" >/dev/null 2>&1 || return 1
  local d rc=0
  d=$(mktemp -d)
  printf '%s\n' '#include <cstdint>' '#include <cstddef>' \
    'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' > "$d/t.cpp"
  "$CLANGXX" -fsanitize=fuzzer,address,undefined "$d/t.cpp" -o "$d/t" >/dev/null 2>&1 || rc=1
  rm -rf "$d"
  return $rc
}

if ! clang_works && [ "${NFP_FUZZ_SKIP_INSTALL:-0}" != 1 ] && [ -z "${NFP_CLANG:-}" ] && command -v apt-get >/dev/null; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    # Only a sudo that needs no password: a prompt would hang `make test`.
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  fi
  if [ "$SUDO" != none ]; then
    say "installing Debian's clang and its sanitizer / libFuzzer runtime (once)"
    apt_install() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; }
    # The first try uses the package lists as they are; a stale list (404 on a superseded version) needs an update.
    (apt_install clang || ($SUDO apt-get update -q >/dev/null 2>&1 && apt_install clang)) || true
    clang_works || apt_install libclang-rt-dev || true
  fi
fi
clang_works || skip "no clang++ that links -fsanitize=fuzzer,address,undefined (apt-get install clang libclang-rt-dev)"
CLANGXX=$(command -v "$CLANGXX")
CLANGC=${CLANGXX/%clang++/clang}; CLANGC=${CLANGC/clang++-/clang-}
[ -x "$CLANGC" ] || CLANGC=$CLANGXX

# shellcheck source=run_target.sh
. "$ROOT/tests/fuzz/run_target.sh"
use_clang_symbolizer "$CLANGXX"

say "configuring $BUILD (clang, -DNFP_FUZZ=ON, layers $LAYERS)"
log=$BUILD/smoke-build.log
mkdir -p "$BUILD"
if ! cmake -S "$ROOT" -B "$BUILD" -DCMAKE_CXX_COMPILER="$CLANGXX" \
     -DCMAKE_C_COMPILER="$CLANGC" -DNFP_FUZZ=ON -DNFP_ONLY_LAYERS="$LAYERS" >"$log" 2>&1 ||
   ! cmake --build "$BUILD" --target fuzz_all -j "$JOBS" >>"$log" 2>&1; then
  tail -40 "$log" >&2
  fail "the sanitizer build failed (whole log: $log)"
fi
BUILT=$(tr '\n' ' ' < "$BUILD/tests/fuzz/fuzz_targets.txt")
TARGETS=${NFP_FUZZ_TARGETS:-$BUILT}
say "built in $(($(date +%s) - START)) s: ${BUILT}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nfp-fuzz-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS=$BUILD/fuzz-artifacts  # inputs libFuzzer found: kept after the stage ends
LOGS=$BUILD/fuzz-logs            # the whole log of each run: kept (a finding is described in a dozen lines)
UNIT_TIMEOUT=${NFP_FUZZ_UNIT_TIMEOUT:-30}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
fail_findings() {
  fail "findings in: ${failed[*]} (each described above: its input and the command that reproduces it; whole logs in $(shown_path "$LOGS")/)"
}
for t in $TARGETS; do
  [ -x "$BUILD/tests/fuzz/fuzz_$t" ] || fail "no fuzz target $t in $BUILD (the build has: $BUILT)"
  replay "$t" || failed+=("$t (replay)")
done
[ ${#failed[@]} -eq 0 ] || fail_findings
say "corpora replayed at $(($(date +%s) - START)) s"

if [ "$FUZZ_SECONDS" -gt 0 ]; then
  say "fuzzing each target for up to ${FUZZ_SECONDS} s, $JOBS at a time"
  running=0
  for t in $TARGETS; do
    if [ $running -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
    fuzz "$t" &
    running=$((running + 1))
  done
  wait || true
  for t in $TARGETS; do
    cat "$WORK/$t.report" 2>/dev/null || echo "fuzz_$t: no report (the run did not start)"
    grep -q ', no finding$' "$WORK/$t.report" 2>/dev/null || failed+=("$t")
  done
fi
[ ${#failed[@]} -eq 0 ] || fail_findings
say "passed in $(($(date +%s) - START)) s"
