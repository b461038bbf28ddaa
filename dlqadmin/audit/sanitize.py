"""What may enter an audit row: no secrets, no raw payloads, only stable JSON.

`detail` passes through `clean_detail` before it is hashed and stored:

- keys naming a secret (containing password, passwd, secret, token, apikey/api_key,
  credential, private_key, authorization or cookie; or equal to otp, totp, pin,
  session, session_id, session_key; case, "_" and "-" ignored) keep their key but the
  value becomes "[redacted]";
- keys naming raw task data (payload, body, raw, result, headers, last_err) and any
  bytes value become {"omitted": true, "bytes": <size>, "hmac": <keyed hash>}: enough to
  tell whether two records concern the same data, not enough to recover it (the hash
  is an HMAC keyed with SECRET_KEY, so short values cannot be guessed offline);
- values are reduced to what Postgres jsonb returns unchanged (so the stored row
  re-hashes to the same value): str, int, bool, None, lists and dicts with str keys;
  floats stay floats only when finite and below 1e16 in magnitude (larger ones and
  NaN/Infinity become strings); other objects become str(); NUL characters and
  lone surrogates are dropped;
- it stays small: strings are cut at 2,000 characters, lists at 200 items, dicts at
  100 keys, nesting at 6 levels.

Free-text columns (reason, message...) go through `clean_text` only. Callers must not
put secrets or payloads there; `record` is the place to pass them as detail keys.
"""

import hashlib
import hmac
import re

from django.conf import settings

REDACTED = "[redacted]"
_SECRET_PARTS = ("password", "passwd", "secret", "token", "apikey", "credential", "privatekey",
                 "authorization", "cookie")
_SECRET_EXACT = {"otp", "totp", "pin", "session", "sessionid", "sessionkey"}
_RAW_KEYS = {"payload", "body", "raw", "result", "headers", "lasterr", "rawpayload"}

MAX_STRING = 2000
MAX_ITEMS = 200
MAX_KEYS = 100
MAX_DEPTH = 6
_FLOAT_LIMIT = 1e16
_NORMALISE_KEY = re.compile(r"[^a-z0-9]")


def clean_text(value, max_length=MAX_STRING):
    """A string Postgres stores and returns unchanged, at most `max_length` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def _key_kind(key):
    norm = _NORMALISE_KEY.sub("", key.lower())
    if norm in _SECRET_EXACT or any(part in norm for part in _SECRET_PARTS):
        return "secret"
    if norm in _RAW_KEYS:
        return "raw"
    return None


def fingerprint(value):
    """{omitted, bytes, hmac}: lets records be compared without holding the value."""
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
    digest = hmac.new(settings.SECRET_KEY.encode(), data, hashlib.sha256).hexdigest()[:32]
    return {"omitted": True, "bytes": len(data), "hmac": digest}


def _clean(value, depth):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or abs(value) >= _FLOAT_LIMIT:  # NaN, inf, or printed as an int by jsonb
            return repr(value)
        return value + 0.0 if value else 0.0  # no negative zero
    if isinstance(value, (bytes, bytearray, memoryview)):
        return fingerprint(bytes(value))
    if isinstance(value, str):
        return clean_text(value)
    if depth >= MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, dict):
        out = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_KEYS:
                out["…"] = f"{len(value) - MAX_KEYS} more keys"
                break
            key = clean_text(key, 100)
            kind = _key_kind(key)
            if kind == "secret":
                out[key] = REDACTED if item not in (None, "") else item
            elif kind == "raw":
                out[key] = None if item is None else fingerprint(item)
            else:
                out[key] = _clean(item, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        out = [_clean(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            out.append(f"… {len(items) - MAX_ITEMS} more")
        return out
    return clean_text(value)


def clean_detail(detail):
    """A sanitised copy of `detail` (a dict; anything else is wrapped as {"value": ...})."""
    if detail is None:
        return {}
    if not isinstance(detail, dict):
        detail = {"value": detail}
    return _clean(detail, 0)
