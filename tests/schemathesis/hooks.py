"""Schemathesis hooks for qunfa (loaded by run.sh through SCHEMATHESIS_HOOKS).

- Every call to the signed API gets fresh NIM signature headers: AppKey, a Nonce never used
  before (qunfa refuses a repeated Nonce with 431), CurTime in seconds and
  CheckSum = sha1(AppSecret + Nonce + CurTime) as lowercase hex.
- `no_internal_error`: qunfa answers a fault on its side as HTTP 200 `{"code":500,...}`, so the
  5xx check alone would not see it; this check fails on that answer too.
"""

import hashlib
import os
import time
import uuid

import schemathesis

APPKEY = os.environ["QUNFA_APPKEY"]
SECRET = os.environ["QUNFA_APPSECRET"]
UNSIGNED = ("/nimserver/health/",)


def signature():
    nonce = uuid.uuid4().hex
    curtime = str(int(time.time()))
    checksum = hashlib.sha1((SECRET + nonce + curtime).encode()).hexdigest()
    return {"AppKey": APPKEY, "Nonce": nonce, "CurTime": curtime, "CheckSum": checksum}


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if not case.path.startswith("/nimserver/") or case.path.startswith(UNSIGNED):
        return
    headers = dict(case.headers or {})
    # Drop whatever was generated for the security headers, in any spelling, then sign.
    for name in list(headers):
        if name.lower() in ("appkey", "nonce", "curtime", "checksum"):
            del headers[name]
    headers.update(signature())
    case.headers = headers


@schemathesis.check
def no_internal_error(ctx, response, case):
    if "json" not in (response.headers.get("content-type") or [""])[0]:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("code") == 500:
        raise AssertionError(f"internal error answered: {body}")
    return None
