#!/usr/bin/env bash
# The JS client's tests (clients/js/test/*.test.js) against a real qunfa binary, with the demo
# page driven in headless Chromium. Installs what is missing: Debian's chromium (as root), the
# npm devDependencies, and builds the server binary. Prints node's test summary last; exits
# non-zero when a test fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

# A QUNFA_BIN given relative is relative to the caller's directory.
if [ -n "${QUNFA_BIN:-}" ]; then
  QUNFA_BIN="$(cd "$(dirname "$QUNFA_BIN")" && pwd)/$(basename "$QUNFA_BIN")"
fi

cd "$here"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

if [ -z "${QUNFA_BIN:-}" ]; then
  echo "== cargo build -p qunfa"
  (cd "$root" && cargo build -p qunfa)
  QUNFA_BIN="$root/target/debug/qunfa"
fi
[ -x "$QUNFA_BIN" ] || { echo "no qunfa binary at $QUNFA_BIN" >&2; exit 1; }

echo "== node --test (QUNFA_BIN=$QUNFA_BIN)"
export QUNFA_BIN QUNFA_REQUIRE_BROWSER=1
exec node --test --test-reporter=tap --test-timeout=120000 test/*.test.js
