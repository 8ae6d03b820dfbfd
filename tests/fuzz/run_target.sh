# shellcheck shell=bash
# Running one fuzz target and describing what it found: sourced by smoke.sh (and by test_smoke_findings.sh, which
# runs a deliberately broken target through the same functions). Not a script of its own.
#
# The caller sets:
#   ROOT        the source tree: the corpus of TARGET is $ROOT/tests/fuzz/corpus/TARGET
#   BUILD       the build: the executable of TARGET is $BUILD/tests/fuzz/fuzz_TARGET
#   WORK        a scratch directory (removed by the caller)
#   ARTIFACTS   where libFuzzer writes the inputs it finds (kept)
#   LOGS        where each run's whole log is kept: LOGS/TARGET.replay.log, LOGS/TARGET.fuzz.log
#   UNIT_TIMEOUT  seconds one input may take while fuzzing (the replay allows twice that)
#
# A finding is described in a dozen lines, never the whole log:
#   fuzz_csv: FINDING while fuzzing (exit 1): AddressSanitizer: heap-buffer-overflow, READ of size 1
#     where:     nfp::parse_csv(...)  src/core/csv.cpp:120:9        <- nfp's frames (and libraries' without
#                LLVMFuzzerTestOneInput  tests/fuzz/fuzz_csv.cpp:31     sources), not libFuzzer's, libc's or std's
#     allocated: ...                                                 <- ASan's other stacks, their top frame
#     input:     build-fuzz/fuzz-artifacts/csv-crash-3273ad... (8 bytes)
#     log:       build-fuzz/fuzz-logs/csv.fuzz.log (412 lines)
#     reproduce: cd /src && UBSAN_OPTIONS=... build-fuzz/tests/fuzz/fuzz_csv build-fuzz/fuzz-artifacts/csv-crash-...
#     then:      fix it, then keep the input in tests/fuzz/corpus/csv/ under a name saying what it broke

# The sanitizers' reports need llvm-symbolizer for function names and lines; where none is on PATH, the one beside
# the clang++ given is used.
use_clang_symbolizer() {
  if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null; then
    local sym
    sym=$(ls "$(dirname "$(readlink -f "$(command -v "$1")")")"/llvm-symbolizer 2>/dev/null || true)
    if [ -n "$sym" ]; then export ASAN_SYMBOLIZER_PATH=$sym; fi
  fi
}

# Per target: libFuzzer flags and environment. libhdf5 1.10 leaks on corrupt files (an object-header error path of
# H5Oget_info_by_name, docs/RESULTS.md), so leaks are not checked for hdf5, neither by libFuzzer nor at exit.
flags_of() { case $1 in hdf5) echo "-detect_leaks=0" ;; *) echo "" ;; esac; }
env_of() {
  echo "UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}"
  # the hdf5 corpus holds a file on which libhdf5 loops: the structure walk gives up after 3 s
  case $1 in hdf5) echo "NFP_HDF5_WALK_SECONDS=3 ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" ;; esac
}
# hdf5 forks a structure walk per input: a third of the time
seconds_of() { case $1 in hdf5) echo $(((FUZZ_SECONDS + 2) / 3)) ;; *) echo "$FUZZ_SECONDS" ;; esac; }

# A path as the user types it: relative to the source tree where it is inside it.
shown_path() { case $1 in "$ROOT"/*) echo "${1#"$ROOT"/}" ;; *) echo "$1" ;; esac; }

# reproduce_of TARGET INPUT FLAGS: the command that runs TARGET on INPUT once, as the stage ran it, from anywhere.
reproduce_of() {
  local t=$1 input=$2 flags=$3
  echo "cd $ROOT && $(env_of "$t" | tr '\n' ' ')$(shown_path "$BUILD/tests/fuzz/fuzz_$t") $(flags_of "$t") $flags $(shown_path "$input")" |
    tr -s ' '
}

# What went wrong, in one line: the first report in LOG (the target's own check, an uncaught exception, ASan, LSan,
# UBSan, libFuzzer), else how the run ended.
finding_kind() {
  local t=$1 log=$2 rc=$3 limit=$4 kind
  kind=$(awk -v t="fuzz_$t: " -v root="$ROOT/" '
    index($0, t) == 1 { print "the target'"'"'s check: " substr($0, length(t) + 1); exit }
    /^terminate called after throwing an instance of / {
      ex = $0; sub(/^terminate called after throwing an instance of /, "", ex); gsub(/'"'"'/, "", ex)
      if ((getline w) > 0 && w ~ /what\(\): /) { sub(/^ *what\(\): */, "", w); ex = ex ": " w }
      print "uncaught exception " ex; exit }
    /ERROR: AddressSanitizer: / {
      k = $0; sub(/.*ERROR: AddressSanitizer: /, "", k); sub(/ on (unknown )?address.*/, "", k)
      if ((getline a) > 0 && a ~ /^(READ|WRITE) of size/) { sub(/ at 0x.*/, "", a); k = k ", " a }
      print "AddressSanitizer: " k; exit }
    /ERROR: LeakSanitizer: / { leak = 1; next }
    leak && /^SUMMARY: / { s = $0; sub(/^SUMMARY: [A-Za-z]+Sanitizer: /, "", s); sub(/\.$/, "", s); print "LeakSanitizer: " s; exit }
    / runtime error: / { r = $0; at = $0; sub(/.* runtime error: /, "", r); sub(/: runtime error: .*/, "", at)
      if (index(at, root) == 1) at = substr(at, length(root) + 1)
      print "UndefinedBehaviorSanitizer: " r " (" at ")"; exit }
    /the timeout value is [0-9]+/ { tv = $0; sub(/.*the timeout value is /, "", tv); sub(/ .*/, "", tv) }
    /ERROR: libFuzzer: / { k = $0; sub(/.*ERROR: libFuzzer: /, "", k)
      if (k ~ /^timeout/ && tv != "") k = "timeout: one input ran past the " tv " s limit"  # (not the elapsed time)
      print "libFuzzer: " k; exit }
  ' "$log")
  if [ -n "$kind" ]; then echo "${kind:0:240}"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "the run did not end by itself within $limit s and was killed"
  else echo "exit $rc without a sanitizer report"
  fi
}

# The frames that say where: from the first stack of LOG, nfp's and other libraries' frames up to the target's entry
# (libFuzzer's, the sanitizers', libc's and the standard library's left out), then the top such frame of each of
# ASan's further stacks ("freed by", "allocated by").
finding_frames() {
  local log=$1
  awk -v root="$ROOT/" '
    function frame(line,   f, loc, n) {
      if (line !~ /^ *#[0-9]+ 0x[0-9a-f]+ in /) return ""  # a frame without a function name
      f = line; sub(/^ *#[0-9]+ 0x[0-9a-f]+ in /, "", f); sub(/ \(BuildId: [0-9a-f]+\)$/, "", f)
      n = split(f, w, " "); loc = w[n]
      if (n < 2) return ""
      f = substr(f, 1, length(f) - length(loc) - 1)
      if (loc ~ /^\(.*\+0x[0-9a-f]+\)$/) { sub(/^\(/, "", loc); sub(/\+0x[0-9a-f]+\)$/, "", loc); sub(/.*\//, "", loc) }
      else if (loc !~ /^\// || loc ~ /^\/usr\/(include|lib\/gcc|lib\/llvm|bin\/\.\.\/lib\/gcc)/) return ""
      if (f ~ /^(fuzzer::|__sanitizer|__asan|__lsan|__ubsan|__interceptor|__libc_|__cxa_|__gnu_cxx::|std::|operator new|operator delete)/ ||
          f ~ /^(_start|main|abort|raise|__pthread_kill_implementation|clock_nanosleep|__nanosleep|sleep|malloc|calloc|realloc|free|memcpy|memmove|memset|strlen)$/)
        return ""
      if (index(loc, root) == 1) loc = substr(loc, length(root) + 1)
      if (length(f) > 110) f = substr(f, 1, 107) "..."
      return f "  " loc
    }
    /^ *#[0-9]+ 0x/ {
      if (!inblock) { inblock = 1; blocks++; kept = 0; done = 0 }
      if (done) next
      s = frame($0)
      if (s == "") next
      if (blocks == 1 && kept < 6) { printf "  %-10s %s\n", (kept ? "" : "where:"), s; kept++ }
      else if (blocks > 1 && kept < 1 && heading != "") { printf "  %-10s %s\n", heading ":", s; kept++ }
      if ($0 ~ / in LLVMFuzzerTestOneInput /) done = 1
      next
    }
    # any other line ends a stack; ASan names the stack that follows on the line just before it
    { inblock = 0; heading = "" }
    /^(previously allocated|allocated|freed) by thread T[0-9]+ here:$/ { heading = $1 == "previously" ? "allocated" : $1 }
    END { if (blocks == 0) print "  where:     (no stack trace in the log)" }
  ' "$log"
}

# describe_finding TARGET STAGE RC LOG INPUT LIMIT FLAGS: the block printed for a failed run (see the top of this
# file); FLAGS are the run's libFuzzer limits, which the reproduce command keeps.
describe_finding() {
  local t=$1 stage=$2 rc=$3 log=$4 input=$5 limit=$6 flags=$7 frames kind
  kind=$(finding_kind "$t" "$log" "$rc" "$limit")
  echo "fuzz_$t: FINDING $stage (exit $rc): $kind"
  frames=$(finding_frames "$log")
  if [ -n "$frames" ]; then echo "$frames"
  else echo "  where:     (no frame in nfp's code or a library's; the whole stack is in the log)"
  fi
  if [[ $kind == "exit "* || $kind == "the run did not end"* ]]; then  # no report to name: the log's last words
    grep -v -e $'^#[0-9]*\t' -e '^INFO: ' -e '^ *$' -e 'Running: ' -e ': Running [0-9]* inputs' "$log" | tail -n 4 | cut -c1-160 | sed 's/^/  last:      /'
  fi
  if [ -n "$input" ] && [ -f "$input" ]; then
    echo "  input:     $(shown_path "$input") ($(wc -c < "$input") bytes)"
  else
    echo "  input:     ${input:-(none written: the run was stopped before libFuzzer could save one)}"
  fi
  echo "  log:       $(shown_path "$log") ($(wc -l < "$log") lines)"
  if [ -n "$input" ] && [ -f "$input" ]; then
    echo "  reproduce: $(reproduce_of "$t" "$input" "$flags")"
    echo "  then:      fix it, then keep the input in tests/fuzz/corpus/$t/ under a name saying what it broke"
  fi
}

# replay TARGET: every checked-in input, one at a time (libFuzzer prints "Running: FILE" before each). Prints one
# line, or the finding; returns non-zero on a finding.
replay() {
  local t=$1 exe=$BUILD/tests/fuzz/fuzz_$1 corpus=$ROOT/tests/fuzz/corpus/$1 log=$LOGS/$1.replay.log rc=0
  local files=("$corpus"/*) limit=$((UNIT_TIMEOUT * 2 + 240)) limits="-timeout=$((UNIT_TIMEOUT * 2))"
  [ -e "${files[0]}" ] || { echo "fuzz_$t: empty corpus $(shown_path "$corpus")"; return 1; }
  mkdir -p "$LOGS"
  # shellcheck disable=SC2046,SC2086
  env $(env_of "$t") timeout -k 10 "$limit" "$exe" $(flags_of "$t") $limits "${files[@]}" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    describe_finding "$t" "replaying its corpus" "$rc" "$log" "$(grep '^Running: ' "$log" | tail -1 | cut -d' ' -f2-)" \
      "$limit" "$limits"
    return 1
  fi
  echo "fuzz_$t: replayed ${#files[@]} inputs, no finding"
}

# fuzz TARGET: libFuzzer for a bounded time on a scratch copy of the corpus. Writes one line, or the finding, to
# $WORK/TARGET.report; returns non-zero on a finding.
fuzz() {
  local t=$1 exe=$BUILD/tests/fuzz/fuzz_$1 s log=$LOGS/$1.fuzz.log rc=0 limit
  local limits="-timeout=$UNIT_TIMEOUT -rss_limit_mb=2048"
  s=$(seconds_of "$t")
  limit=$((s + 240))
  mkdir -p "$WORK/corpus" "$ARTIFACTS" "$LOGS"
  rm -rf "$WORK/corpus/$t"
  cp -r "$ROOT/tests/fuzz/corpus/$t" "$WORK/corpus/$t"
  local before
  before=$(find "$WORK/corpus/$t" -type f | wc -l)
  # -timeout: one input taking longer is a finding (and bounds the run); timeout(1) guards the whole run.
  # shellcheck disable=SC2046,SC2086
  env $(env_of "$t") timeout -k 10 "$limit" "$exe" $(flags_of "$t") $limits -max_total_time="$s" -print_final_stats=1 \
    -artifact_prefix="$ARTIFACTS/$t-" "$WORK/corpus/$t" >"$log" 2>&1 || rc=$?
  if [ $rc -eq 0 ]; then
    local execs after
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    after=$(find "$WORK/corpus/$t" -type f | wc -l)
    echo "fuzz_$t: ${s} s, $execs executions, corpus $before -> $after inputs, no finding" >"$WORK/$t.report"
  else
    describe_finding "$t" "while fuzzing for up to $s s" "$rc" "$log" \
      "$(grep -o 'Test unit written to .*' "$log" | tail -1 | cut -d' ' -f5- || true)" "$limit" "$limits" \
      >"$WORK/$t.report"
  fi
  return $rc
}
