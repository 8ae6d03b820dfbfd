#!/bin/bash
# Drives `nfp serve` with an openpi-style Python client (tests/serve/openpi_client.py): metadata, 1,000 requests,
# an error frame, health and API-key checks, then SIGTERM. Installs Debian's python3-msgpack, python3-websockets
# and python3-numpy when it can (root with apt-get); otherwise skips (exit 77) saying why.
# Usage: openpi_compat.sh NFP_BIN WORK_DIR
set -euo pipefail
NFP=$1
WORK=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3  # Debian's, where the python3-* packages install (a pyenv or venv python3 on PATH lacks them)
[ -x "$PY" ] || PY=python3
have_modules() { "$PY" -c "import msgpack, numpy, websockets" 2>/dev/null; }
if ! have_modules; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing python3-msgpack python3-websockets python3-numpy for the openpi client"
    (apt-get install -y -q --no-install-recommends python3-msgpack python3-websockets python3-numpy >/dev/null 2>&1 ||
     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends python3-msgpack \
       python3-websockets python3-numpy >/dev/null 2>&1)) || true
  fi
fi
if ! have_modules; then
  echo "SKIP: python3 with msgpack, numpy and websockets is not available (apt-get install python3-msgpack python3-websockets python3-numpy)"
  exit 77
fi
rm -rf "$WORK" && mkdir -p "$WORK"
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo '{"policy": {"encoder_hidden": 32, "context_dim": 32, "horizon": 8, "head": {"layers": 2, "hidden": 32}}}' > "$WORK/tiny.json"
"$NFP" collect --task push-two-goals --episodes 4 --seed 0 --out "$WORK/d.hdf5" >/dev/null
"$NFP" train --data "$WORK/d.hdf5" --policy nfp-spline --config "$WORK/tiny.json" --steps 5 --out "$WORK/run" --no-progress >/dev/null
"$NFP" serve --checkpoint "$WORK/run" --port 0 --api-key k3y --quiet > "$WORK/serve.log" 2>&1 &
SERVER=$!
PORT=""
for _ in $(seq 1 300); do
  PORT=$(grep -o 'ws://127.0.0.1:[0-9]*' "$WORK/serve.log" | head -1 | sed 's/.*://') || true
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "nfp serve did not start:"; cat "$WORK/serve.log"; exit 1; }
timeout 300 "$PY" "$HERE/openpi_client.py" "$PORT" k3y 1000
kill -TERM $SERVER
wait $SERVER
STATUS=$?
grep -q "served 100[0-9] requests" "$WORK/serve.log" || { echo "unexpected server summary:"; cat "$WORK/serve.log"; exit 1; }
echo "nfp serve exited with $STATUS after SIGTERM"
exit $STATUS
