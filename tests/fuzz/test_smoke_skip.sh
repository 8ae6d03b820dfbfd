#!/usr/bin/env bash
# CTest fuzz_smoke_skips_without_clang: smoke.sh where no usable clang is found (none at all, or a compiler without
# libFuzzer such as g++) succeeds with exactly one SKIP line and builds nothing, so `make test` passes there.
# (NFP_CLANG set means smoke.sh never installs a compiler.)
set -euo pipefail
smoke=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for compiler in "$dir/no-such-clang++" "$(command -v g++ || echo "$dir/no-g++")"; do
  out=$(NFP_CLANG=$compiler bash "$smoke" "$dir/build-fuzz" 2>&1) || { echo "smoke.sh with $compiler failed: $out"; exit 1; }
  echo "$compiler: $out"
  if [ "$(printf '%s\n' "$out" | wc -l)" != 1 ] || [[ $out != "SKIP: fuzz smoke"* ]]; then
    echo "expected one line starting 'SKIP: fuzz smoke'"; exit 1
  fi
  [ ! -e "$dir/build-fuzz" ] || { echo "a build directory was created"; exit 1; }
done
