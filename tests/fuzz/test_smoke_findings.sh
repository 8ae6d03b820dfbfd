#!/usr/bin/env bash
# CTest fuzz_smoke_describes_findings: what the fuzz smoke stage prints when a target breaks. A deliberately broken
# libFuzzer target (below: one bug per input's first byte) runs through smoke.sh's own functions (run_target.sh),
# once per kind of finding; each description must name the kind, point at the broken line of "nfp's" code and the
# input, stay short, and give a reproduce command that, run as printed, fails the same way.
# Needs a clang that links -fsanitize=fuzzer,address,undefined: skipped (exit 77) without one.
#
# Adding a kind: a branch in broken.cpp below keyed on a new first byte, and a `check` line with the words its
# description must hold.
set -euo pipefail
lib=$1
CLANGXX=${NFP_CLANG:-clang++}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

ROOT=$dir/src-tree
BUILD=$ROOT/build-fuzz
WORK=$dir/work
ARTIFACTS=$BUILD/fuzz-artifacts
LOGS=$BUILD/fuzz-logs
UNIT_TIMEOUT=1
FUZZ_SECONDS=30
mkdir -p "$ROOT/src" "$BUILD/tests/fuzz" "$WORK"
# shellcheck source=run_target.sh
. "$lib"

cat > "$ROOT/src/broken.cpp" <<'EOF'
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>
#include <vector>
namespace nfp {
int parse_broken(const uint8_t* d, size_t n) {
  if (n < 4) return 0;
  switch (d[0]) {
    case 'H': { std::vector<uint8_t> v(3); return v.data()[n + 1]; }                      // line 12
    case 'U': { int x = 0x7fffffff; volatile int y = d[1]; return x + y; }                 // line 13
    case 'L': { return *new int[10]{}; }                                                   // line 14
    case 'E': throw std::runtime_error("a bad header");                                    // line 15
    case 'C': std::fprintf(stderr, "fuzz_broken: a parsed value that is not finite\n"); std::abort();
    case 'M': { std::vector<char> big(size_t(3) << 30, 1); return big[d[1]]; }             // line 17
    case 'X': std::fprintf(stderr, "broken: giving up on this input\n"); std::_Exit(3);
    case 'T': { const std::clock_t end = std::clock() + 5 * CLOCKS_PER_SEC; volatile long k = 0;
                while (std::clock() < end) k = k + 1; return int(k & 1); }
  }
  return 0;
}
}  // namespace nfp
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) { return nfp::parse_broken(d, n); }
EOF
if ! command -v "$CLANGXX" >/dev/null ||
   ! "$CLANGXX" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
     "$ROOT/src/broken.cpp" -o "$BUILD/tests/fuzz/fuzz_broken" 2>"$dir/cc.log"; then
  echo "SKIP: no $CLANGXX that links -fsanitize=fuzzer,address,undefined (the fuzz smoke stage of make test installs one)"
  exit 77
fi

use_clang_symbolizer "$CLANGXX"
status=0
corpus=$ROOT/tests/fuzz/corpus/broken
# check STAGE NAME BYTES WORDS...: run STAGE (replay or fuzz) on a corpus of the one input BYTES; the description
# must hold every WORD, at most 14 lines and no raw address; its reproduce command must fail and print the kind again.
check() {
  local stage=$1 name=$2 bytes=$3 out rc=0 word repro kind
  shift 3
  rm -rf "$corpus" "$ARTIFACTS" && mkdir -p "$corpus" && printf '%s' "$bytes" > "$corpus/$name"
  if [ "$stage" = replay ]; then out=$(replay broken) || rc=$?
  else fuzz broken || rc=$?; out=$(cat "$WORK/broken.report"); fi
  echo "--- $stage $name (exit $rc):"; echo "$out"
  [ $rc -ne 0 ] || { echo "FAILED: $stage $name: the finding did not fail the run"; status=1; }
  for word in "$@"; do
    [[ $out == *"$word"* ]] || { echo "FAILED: $stage $name: no '$word' in the description"; status=1; }
  done
  [ "$(printf '%s\n' "$out" | wc -l)" -le 14 ] || { echo "FAILED: $stage $name: more than 14 lines"; status=1; }
  [[ $out != *" 0x"* ]] || { echo "FAILED: $stage $name: a raw address (a frame without a function)"; status=1; }
  repro=$(printf '%s\n' "$out" | sed -n 's/^  reproduce: //p')
  kind=$(printf '%s\n' "$out" | head -1 | sed 's/.*): //')
  [ -n "$repro" ] || { echo "FAILED: $stage $name: no reproduce line"; status=1; return; }
  rc=0; (cd / && bash -c "$repro") > "$dir/repro.log" 2>&1 || rc=$?
  if [ $rc -eq 0 ] || [ "$(finding_kind broken "$dir/repro.log" "$rc" 0)" != "$kind" ]; then
    echo "FAILED: $stage $name: '$repro' (exit $rc) did not reproduce '$kind'"; status=1
  fi
}

at="src/broken.cpp"
check replay heap HEAPxx "FINDING replaying its corpus" "AddressSanitizer: heap-buffer-overflow, READ of size 1" \
  "where:     nfp::parse_broken(unsigned char const*, unsigned long)  $at:12" "allocated: " \
  "LLVMFuzzerTestOneInput  $at:" "input:     tests/fuzz/corpus/broken/heap (6 bytes)" \
  "log:       build-fuzz/fuzz-logs/broken.replay.log" \
  "reproduce: cd $ROOT && UBSAN_OPTIONS=" "build-fuzz/tests/fuzz/fuzz_broken -timeout=2 tests/fuzz/corpus/broken/heap" \
  "then:      fix it, then keep the input in tests/fuzz/corpus/broken/"
check replay overflow Uxxx "UndefinedBehaviorSanitizer: signed integer overflow" "($at:13" "$at:13"
check replay leak Lxxx "LeakSanitizer: 40 byte(s) leaked in 1 allocation(s)" "where:     nfp::parse_broken" "$at:14"
check replay throw Exxx "uncaught exception std::runtime_error: a bad header" "$at:15"
check replay check Cxxx "the target's check: a parsed value that is not finite"
check replay oom Mxxx "libFuzzer: out-of-memory (malloc(3221225472))" "$at:17"
check replay quit Xxxx "exit 3 without a sanitizer report" "last:      broken: giving up on this input"
check replay slow Txxx "libFuzzer: timeout: one input ran past the 2 s limit" "where:     nfp::parse_broken"
# libFuzzer stops at a seed that crashes and saves it: the description points at the saved copy
check fuzz heap HEAPxx "FINDING while fuzzing for up to 30 s" "AddressSanitizer: heap-buffer-overflow" "$at:12" \
  "input:     build-fuzz/fuzz-artifacts/broken-crash-" "log:       build-fuzz/fuzz-logs/broken.fuzz.log" \
  "build-fuzz/tests/fuzz/fuzz_broken -timeout=1 -rss_limit_mb=2048 build-fuzz/fuzz-artifacts/broken-crash-"
exit $status
