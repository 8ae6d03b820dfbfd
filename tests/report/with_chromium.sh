#!/bin/bash
# Runs a test binary that drives a real headless browser (tests/report/chromium.hpp) with NFP_CHROMIUM set to
# Debian's chromium. Installs the `chromium` package when it can (root or sudo, with apt-get: ~100 MB the first
# time); otherwise skips (exit 77, CTest's SKIP_RETURN_CODE) saying why, so a machine without the browser or the
# network still passes the suite.
# Usage: with_chromium.sh TEST_BINARY [args...]
# Environment: NFP_CHROMIUM (a browser to use instead of /usr/bin/chromium), NFP_CHROMIUM_SKIP_INSTALL=1 (never
# install; also how the skip path is tested).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 TEST_BINARY [args...]" >&2; exit 2; }
BROWSER=${NFP_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$BROWSER" ] && [ "${NFP_CHROMIUM_SKIP_INSTALL:-0}" != 1 ] && command -v apt-get >/dev/null; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    # Only a sudo that needs no password: a prompt would hang the test until CTest's timeout.
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
  fi
  if [ "$SUDO" != none ]; then
    echo "installing Debian's chromium for the browser tests (once, ~100 MB)"
    # The first try uses the package lists as they are; a stale list (404 on a superseded version) needs an update.
    ($SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 ||
     ($SUDO apt-get update -q >/dev/null 2>&1 &&
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1)) ||
      true
  fi
fi

if [ ! -x "$BROWSER" ]; then
  echo "SKIP: no headless browser at $BROWSER for the report page tests (apt-get install chromium)"
  exit 77
fi
export NFP_CHROMIUM=$BROWSER
exec "$@"
