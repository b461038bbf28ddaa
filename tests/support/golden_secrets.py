"""The secrets planted in the golden mixed state, found independently of our masking
code: values under sensitive keys, e-mail addresses, DSN passwords and bearer tokens
in every payload, header, error message and result."""

import base64
import json
import re
from functools import lru_cache
from pathlib import Path

from dlqadmin.asynq.messages import decode_task_message

SNAPSHOT = Path(__file__).resolve().parents[1] / "fixtures" / "asynq-golden" / "mixed" / "snapshot.json"
SENSITIVE_KEY = re.compile(r"pass|token|secret|card_number|cvv|authorization|api_key", re.I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
DSN_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
BEARER = re.compile(r"Bearer\s+([A-Za-z0-9._~+/=-]{8,})")


def _walk(value, key, found):
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, k, found)
    elif isinstance(value, list):
        for v in value:
            _walk(v, key, found)
    elif value is not None:
        text = value if isinstance(value, str) else json.dumps(value)
        if key and SENSITIVE_KEY.search(key) and len(text) >= 3:
            found.add(text if not text.startswith("Bearer ") else text.split(" ", 1)[1])
        if isinstance(value, str):
            _scan_text(value, found)


def _scan_text(text, found):
    found.update(EMAIL.findall(text))
    found.update(DSN_PASSWORD.findall(text))
    found.update(BEARER.findall(text))


@lru_cache(maxsize=1)
def planted_secrets():
    found = set()
    for entry in json.loads(SNAPSHOT.read_text()):
        if entry["type"] != "hash" or "msg" not in entry["value"]:
            continue
        msg = decode_task_message(base64.b64decode(entry["value"]["msg"]["b64"]))
        for raw in (msg.payload, entry["value"].get("result", {}).get("b64")):
            if isinstance(raw, str):
                raw = base64.b64decode(raw)
            if not raw:
                continue
            try:
                _walk(json.loads(raw), None, found)
            except ValueError:
                _scan_text(raw.decode("utf-8", "replace"), found)
        for k, v in (msg.headers or {}).items():
            _walk(v, k, found)
        if msg.error_msg:
            _scan_text(msg.error_msg, found)
    # Short values (a 3-digit cvv) are checked in context by the tests instead.
    return sorted(s for s in found if len(s) >= 6)
