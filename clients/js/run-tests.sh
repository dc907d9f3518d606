#!/usr/bin/env bash
# The JS package's checks and tests (clients/js/test/*.test.js) against a real qunfa binary,
# with the demo page and the web console driven in headless Chromium. Installs what is missing:
# Debian's chromium and CJK fonts (as root), the npm devDependencies, and builds the server
# binary. Then: the TypeScript declarations checked by tsc, the package packed with `npm pack`
# and installed into an empty project that imports and type-checks it (the README's React hook
# included), and node's test run
# (its summary last). Exits non-zero when anything fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Screenshots of the console must show Chinese characters, not boxes.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then missing+=(fonts-noto-cjk); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
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

echo "== tsc: the declarations against test/types.ts"
node node_modules/typescript/bin/tsc -p test/tsconfig.json

echo "== npm pack, installed into an empty project"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" >/dev/null
tarball="$(ls "$work"/qunfa-client-*.tgz)"
contents="$(tar -tzf "$tarball" | sed 's|^package/||' | sort | tr '\n' ' ')"
expected="README.md api.d.ts api.js package.json qunfa.d.ts qunfa.js sha1.d.ts sha1.js "
if [ "$contents" != "$expected" ]; then
  echo "the package holds: $contents; expected: $expected" >&2
  exit 1
fi
mkdir "$work/app"
cat > "$work/app/package.json" <<'EOF'
{ "name": "an-app", "version": "1.0.0", "private": true, "type": "module" }
EOF
(cd "$work/app" && npm install --offline --no-audit --no-fund --silent "$tarball")
cat > "$work/app/check.ts" <<'EOF'
import { QunfaClient, CloseCode, type QunfaMessage } from 'qunfa-client';
import { QunfaApi, checkSum } from 'qunfa-client/api';
const show = (m: QunfaMessage): string => `${m.msgid} ${m.kind}`;
const c = new QunfaClient({ url: 'http://127.0.0.1:8080', appkey: 'k', accid: 'a', token: 't', onMessage: (m) => { show(m); } });
const api = new QunfaApi({ url: 'http://127.0.0.1:8080', appkey: 'k', secret: 's' });
export const used = [c.cursor, CloseCode.KICKED, api.url, checkSum('a', 'b', 'c')];
EOF
cat > "$work/app/tsconfig.json" <<'EOF'
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true, "noEmit": true, "lib": ["es2022", "dom"], "types": [] }, "files": ["check.ts"] }
EOF
node node_modules/typescript/bin/tsc -p "$work/app/tsconfig.json"
# The README's React hook, as a front-end developer would paste it (React's types from ours).
awk '/^## React/ { r = 1 } r && /^```tsx/ { t = 1; next } t && /^```/ { exit } t' README.md > "$work/app/useQunfa.tsx"
[ -s "$work/app/useQunfa.tsx" ] || { echo "no React example in README.md" >&2; exit 1; }
cat > "$work/app/tsconfig.react.json" <<JSON
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true,
    "noEmit": true, "jsx": "react-jsx", "lib": ["es2022", "dom"], "types": [],
    "paths": { "react": ["$here/node_modules/@types/react/index.d.ts"],
               "react/jsx-runtime": ["$here/node_modules/@types/react/jsx-runtime.d.ts"] } },
  "files": ["useQunfa.tsx"] }
JSON
node node_modules/typescript/bin/tsc -p "$work/app/tsconfig.react.json"
(cd "$work/app" && node --input-type=module -e "
import { QunfaClient, wsUrl } from 'qunfa-client';
import { checkSum } from 'qunfa-client/api';
if (typeof QunfaClient !== 'function' || wsUrl('http://h') !== 'ws://h/ws') process.exit(1);
if (checkSum('1234567890ab', '4tgggergigwow323t23t', '1443592222') !== 'f2c2b4c8fe9020844c6b00cbd084718d8bf25890') process.exit(1);
")
echo "$(basename "$tarball"): $contents"

if [ -z "${QUNFA_BIN:-}" ]; then
  echo "== cargo build -p qunfa"
  (cd "$root" && cargo build -p qunfa)
  QUNFA_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/qunfa"
fi
[ -x "$QUNFA_BIN" ] || { echo "no qunfa binary at $QUNFA_BIN" >&2; exit 1; }

echo "== node --test (QUNFA_BIN=$QUNFA_BIN)"
export QUNFA_BIN QUNFA_REQUIRE_BROWSER=1
node --test --test-reporter=tap --test-timeout=120000 test/*.test.js
