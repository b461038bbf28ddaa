"""The hash chain: what exactly is hashed, shared by the writer and the verifier.

    hash(row) = sha256( canonical_json(content(row)) || prev_hash )

`content` is every stored column except the derived search text and the hashes
themselves; `seq` is part of it, so moving a row to another position breaks its hash.
canonical_json is JSON with sorted keys, no whitespace, UTF-8, and `created_at` as
"YYYY-MM-DDTHH:MM:SS.ffffffZ". The first row's prev_hash is GENESIS.
"""

import hashlib
import json
from datetime import UTC

GENESIS = "0" * 64

# The chained columns, in the order values_list() fetches them for verification.
CHAINED_FIELDS = ("seq", "created_at", "actor_id", "actor_name", "action", "queue", "task_id", "target",
                  "reason", "outcome", "message", "request_id", "ip", "user_agent", "detail")


def format_time(value):
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(content):
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def content_of(values):
    """The hashed content from a dict (or tuple in CHAINED_FIELDS order) of column values."""
    if not isinstance(values, dict):
        values = dict(zip(CHAINED_FIELDS, values, strict=True))
    content = {name: values[name] for name in CHAINED_FIELDS}
    content["created_at"] = format_time(content["created_at"])
    return content


def row_hash(values, prev_hash):
    return hashlib.sha256(canonical_json(content_of(values)) + prev_hash.encode("ascii")).hexdigest()
