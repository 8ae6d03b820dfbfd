#!/usr/bin/env bash
# Installs every Debian package nfp's build, tests and demo need. Idempotent: installs only what is missing.
# Also makes libtorch use OpenBLAS instead of the reference BLAS (the reference BLAS is ~30x slower on a
# batched flow pass; see docs/RESULTS.md, "BLAS").
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config
  python3  # the demo script formats its table with it
  libtorch-dev libopenblas0-openmp libgloo-dev  # libgloo-dev: c10d's Gloo process group (distributed training)
  libmujoco-dev libqhull-dev
  libegl-dev libegl-mesa0 libgl-dev libgles-dev
  libhdf5-dev
  nlohmann-json3-dev libcli11-dev
  libavcodec-dev libavformat-dev libswscale-dev libavutil-dev
  libwebsocketpp-dev libasio-dev libmsgpack-cxx-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install these packages: ${PACKAGES[*]}" >&2; exit 1; fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# libtorch links libblas.so.3 / liblapack.so.3 through Debian's alternatives; point both at OpenBLAS.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)
for lib in libblas.so.3 liblapack.so.3; do
  target=$(ls /usr/lib/"$arch"/openblas-openmp/"$lib" 2>/dev/null || true)
  [ -n "$target" ] || continue
  current=$(readlink -f /etc/alternatives/"$lib-$arch" 2>/dev/null || true)
  if [ "$current" != "$(readlink -f "$target")" ]; then
    $SUDO update-alternatives --set "$lib-$arch" "$target" >/dev/null
    echo "install-deps: $lib -> $target"
  fi
done
