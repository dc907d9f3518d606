#!/usr/bin/env bash
# schemathesis (from PyPI) against a live qunfa, every API call signed (hooks.py). Fails on any
# 5xx, any answer docs/openapi.yaml does not allow (status, content type, headers, body), a
# `{"code":500}` answer, a wrong 405 / Allow header, and the server crashing or panicking.
#
#   bash tests/schemathesis/run.sh [QUNFA_BINARY]      (default: target/debug/qunfa)
#
# Settings (environment): SCHEMATHESIS_MAX_EXAMPLES (cases per operation and phase, default 50),
# SCHEMATHESIS_SEED (default 1, so CI runs the same cases; try others locally),
# SCHEMATHESIS_VENV (where schemathesis is installed, default ~/.cache/qunfa/schemathesis),
# SCHEMATHESIS_SPEC (another spec file, for experiments), SCHEMATHESIS_REPORT (e.g. har) and
# SCHEMATHESIS_REPORT_DIR.
# Only PyPI is needed: the first run makes the virtualenv and pip-installs requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=${1:-target/debug/qunfa}
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
if [ ! -x "$bin" ]; then
  echo "no qunfa binary at $bin: run \`cargo build -p qunfa\` first" >&2
  exit 1
fi

venv=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/qunfa/schemathesis}
req=tests/schemathesis/requirements.txt
if ! cmp -s "$req" "$venv/requirements.txt" 2>/dev/null || [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
fi
"$venv/bin/schemathesis" --version

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# qunfa runs without any of the caller's QUNFA_* variables (QUNFA_BIN, a developer's QUNFA_URL).
clean_env=()
while IFS= read -r name; do clean_env+=(-u "$name"); done < <(env | sed -n 's/^\(QUNFA_[A-Za-z0-9_]*\)=.*/\1/p')
qunfa() { env "${clean_env[@]}" NO_COLOR=1 "$bin" "$@"; }

# Rate limits off: the fuzzer calls far faster than NIM's 100/s per group, and a 416 for the
# rest of the run would leave most endpoints untested.
(cd "$work" && exec env "${clean_env[@]}" NO_COLOR=1 QUNFA_RATE_LIMITS__ENABLED=false \
  "$bin" serve --listen 127.0.0.1:0) >"$work/serve.log" 2>&1 &
server=$!
log() { sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log"; }
for _ in $(seq 1 300); do
  log | grep -q 'qunfa listening' && break
  if ! kill -0 "$server" 2>/dev/null; then
    log >&2
    echo "qunfa serve exited before listening" >&2
    exit 1
  fi
  sleep 0.1
done
addr=$(log | grep -o 'listen=[0-9.:]*' | head -1 | cut -d= -f2)
appkey=$(log | awk '$1 == "AppKey:" { print $2; exit }')
secret=$(log | awk '$1 == "AppSecret:" { print $2; exit }')
if [ -z "$addr" ] || [ -z "$appkey" ] || [ -z "$secret" ]; then
  log >&2
  echo "could not read the address and the first app from qunfa serve's output" >&2
  exit 1
fi
url="http://$addr"
echo "qunfa at $url"

# What the spec's examples name: areas 370000 > 370100 > 370102, types 1 and 2, zhangsan and
# lisi, team 1 (the first tid), a message of each kind.
call() { qunfa call --url "$url" --appkey "$appkey" --secret "$secret" "$@" >/dev/null; }
call dic/createArea areaid=370000 name=山东省
call dic/createArea areaid=370100 name=济南市 parentid=370000
call dic/createArea areaid=370102 name=历下区 parentid=370100
call dic/createEnterptype enterptypeid=1 name=食品制造
call dic/createEnterptype enterptypeid=2 name=纺织业
call user/create accid=zhangsan name=张三 token=zhangsan-token areaid=370102 enterptypeid=1
call user/create accid=lisi name=李四 token=lisi-token areaid=370100 enterptypeid=2
call team/create tname=同乡会 owner=zhangsan 'members=["lisi"]' msg=来吧 magree=0 joinmode=0
call msg/sendMsg from=zhangsan ope=0 to=lisi type=0 'body={"msg":"你好"}' markRead=1
call msg/sendMsg from=lisi ope=1 to=1 type=0 'body={"msg":"大家好"}' markRead=1
call msg/sendMsgToAll areaid=370100 type=0 'body={"msg":"济南的朋友们好"}' markRead=1
call msg/broadcastMsg body=系统维护通知 isOffline=true

spec=${SCHEMATHESIS_SPEC:-docs/openapi.yaml}
case "$spec" in /*) ;; *) spec="$root/$spec" ;; esac
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance
checks+=,unsupported_method,allow_header_conformance,no_internal_error
status=0
(
  # In the scratch directory: schemathesis keeps a cache (.schemathesis/) where it runs.
  cd "$work"
  SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/tests/schemathesis" PYTHONDONTWRITEBYTECODE=1 \
    QUNFA_APPKEY="$appkey" QUNFA_APPSECRET="$secret" \
    "$venv/bin/schemathesis" run "$spec" --url "$url" \
    --checks "$checks" \
    --phases examples,coverage,fuzzing \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 2 \
    --request-timeout 10 \
    --generation-database none \
    --report-dir "${SCHEMATHESIS_REPORT_DIR:-$work/report}" ${SCHEMATHESIS_REPORT:+--report "$SCHEMATHESIS_REPORT"} \
    --no-color
) || status=$?

if ! kill -0 "$server" 2>/dev/null; then
  log >&2
  echo "qunfa serve died during the run" >&2
  exit 1
fi
if log | grep -E -q 'panicked|request handler panicked'; then
  log | grep -E -B2 -A5 'panicked' >&2
  echo "qunfa panicked during the run" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis found answers that break docs/openapi.yaml (see above)" >&2
  exit "$status"
fi
echo "schemathesis: every answer of qunfa matched docs/openapi.yaml; no 5xx, no crash"
