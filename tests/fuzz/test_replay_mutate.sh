#!/usr/bin/env bash
# CTest fuzz_replay_mutate: replay_main.cpp's --mutate mode (fuzzing without libFuzzer, as the GCC sanitizer build
# runs the torch-side JSON loaders). A target that breaks on any input holding '!' is built with the project's
# compiler (with ASan + UBSan where that compiler links them) from a corpus of one harmless input: the mutants must
# find it, the crashing mutant must be saved where the run says, replay alone must fail on it, the same --seed must
# find the same mutant, a target that never breaks must run every mutant, and a bad flag is one usage error.
# Usage: test_replay_mutate.sh CXX REPLAY_MAIN_CPP
set -euo pipefail
cxx=$1
main=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
status=0
fail() { echo "FAILED: $*"; status=1; }

cat > "$dir/bang.cpp" <<'EOF'
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  if (!std::memchr(d, '!', n)) return 0;
  std::vector<uint8_t> v(n);
  volatile uint8_t x = v.data()[n + 8];  // a heap overflow under ASan
  (void)x;
  std::abort();                          // and an abort without it
}
EOF
cat > "$dir/calm.cpp" <<'EOF'
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
EOF
# The driver is compiled once (the costly part), at -O0: this checks behaviour, not speed.
san=(-fsanitize=address,undefined -fno-omit-frame-pointer)
if ! "$cxx" -std=c++17 -O0 -g "${san[@]}" -c "$main" -o "$dir/main.o" 2>"$dir/cc.log" ||
   ! "$cxx" -std=c++17 -O0 -g "${san[@]}" "$dir/bang.cpp" "$dir/main.o" -o "$dir/replay_bang" 2>>"$dir/cc.log"; then
  san=()
  "$cxx" -std=c++17 -O0 -g -c "$main" -o "$dir/main.o"
  "$cxx" -std=c++17 -O0 -g "$dir/bang.cpp" "$dir/main.o" -o "$dir/replay_bang"
fi
"$cxx" -std=c++17 -O0 -g "${san[@]}" "$dir/calm.cpp" "$dir/main.o" -o "$dir/replay_calm"
echo "built with: $cxx ${san[*]:-(no sanitizers)}"

mkdir -p "$dir/corpus"
printf 'hello world, a "key": 12' > "$dir/corpus/seed"
export ASAN_OPTIONS=detect_leaks=0

# run N: mutate the corpus with seed 5 into artifacts N; prints the saved mutant's path.
run() {
  local rc=0 out
  out=$("$dir/replay_bang" --mutate 100000 --seed 5 --artifacts "$dir/art$1" "$dir/corpus" 2>&1) || rc=$?
  [ $rc -ne 0 ] || fail "run $1: the breaking mutant did not fail the run"
  printf '%s\n' "$out" | sed -n 's/^replay: the crashing mutant is saved to //p'
}
first=$(run 1)
second=$(run 2)
echo "saved: $first"
[ -n "$first" ] && [ -f "$first" ] || fail "no saved mutant (the run printed no path, or the file is missing)"
if [ -f "$first" ]; then
  grep -q '!' "$first" || fail "the saved mutant holds no '!': not the input that broke"
  if "$dir/replay_bang" "$first" >/dev/null 2>&1; then fail "replaying the saved mutant alone did not fail"; fi
fi
[ "$(basename "${first:-a}")" = "$(basename "${second:-b}")" ] || fail "the same --seed found another mutant: $second"
cmp -s "${first:-/dev/null}" "${second:-/dev/zero}" || fail "the same --seed saved different bytes"

out=$("$dir/replay_calm" --mutate 3000 --seed 9 "$dir/corpus") || fail "a target that never breaks failed: $out"
[[ $out == *"ran 3000 mutants (seed 9)"* ]] || fail "the calm run did not report its 3000 mutants: $out"

rc=0; out=$("$dir/replay_calm" --mutate lots "$dir/corpus" 2>&1) || rc=$?
[ $rc -eq 2 ] || fail "--mutate lots: exit $rc, expected 2"
[[ $out == *"--mutate takes a whole number, not 'lots'"* ]] || fail "--mutate lots: unclear error: $out"

[ $status -eq 0 ] && echo "replay --mutate: all checks passed"
exit $status
