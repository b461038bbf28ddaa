"""Write and read whole Redis DBs in the golden snapshot format.

The format (see tests/fixtures/asynq-golden/README.md): a JSON array with one
object per key, sorted by key bytes::

    {"key": str, "type": "string|hash|list|set|zset", "ttl_ms": int, "value": ...}

string ``{"b64": ...}``; hash ``{field: {"b64": ...}}``; list ``[b64, ...]`` head
first; set ``[b64, ...]`` sorted by raw bytes; zset ``[[b64, score], ...]`` in
ZRANGE order. ``ttl_ms`` is -1 for keys without expiry.

Key and field names are JSON strings; they are encoded/decoded as UTF-8 with
``surrogateescape`` so arbitrary bytes survive a dump/restore round trip.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Iterable, Union

Snapshot = list[dict]


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def _s(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _name(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def load(snapshot: Union[str, Path, Iterable[dict]]) -> Snapshot:
    """A snapshot from a path, or the list itself."""
    if isinstance(snapshot, (str, Path)):
        with open(snapshot, encoding="utf-8") as fh:
            return json.load(fh)
    return list(snapshot)


def restore(client, snapshot: Union[str, Path, Iterable[dict]], *, with_ttl: bool = True) -> None:
    """Write every key of ``snapshot`` into the client's DB with its exact bytes.

    Keys already present are replaced. ``with_ttl=False`` skips the PEXPIREs
    (heartbeat keys in the golden data expire a few seconds after restore,
    which a slow test machine could notice).
    """
    pipe = client.pipeline(transaction=False)
    for entry in load(snapshot):
        key = _name(entry["key"])
        kind = entry["type"]
        value = entry["value"]
        pipe.delete(key)
        if kind == "string":
            pipe.set(key, _b(value["b64"]))
        elif kind == "hash":
            pipe.hset(key, mapping={_name(f): _b(v["b64"]) for f, v in value.items()})
        elif kind == "list":
            pipe.rpush(key, *[_b(v) for v in value])
        elif kind == "set":
            pipe.sadd(key, *[_b(v) for v in value])
        elif kind == "zset":
            pipe.zadd(key, {_b(member): score for member, score in value})
        else:
            raise ValueError(f"unknown key type {kind!r} for {entry['key']!r}")
        ttl = entry.get("ttl_ms", -1)
        if with_ttl and ttl > 0:
            pipe.pexpire(key, ttl)
    pipe.execute()


def _score(value: float):
    # Scores are integers in asynq's data; keep them integers in JSON.
    return int(value) if float(value).is_integer() else value


def dump(client) -> Snapshot:
    """Every key of the client's DB in snapshot format, sorted by key bytes.

    Reads key by key (not one atomic snapshot): meant for quiescent test DBs.
    """
    out = []
    for key in sorted(client.scan_iter(count=1000)):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            value = {"b64": _s(client.get(key))}
        elif kind == "hash":
            value = {_text(f): {"b64": _s(v)} for f, v in sorted(client.hgetall(key).items())}
        elif kind == "list":
            value = [_s(v) for v in client.lrange(key, 0, -1)]
        elif kind == "set":
            value = [_s(v) for v in sorted(client.smembers(key))]
        elif kind == "zset":
            value = [[_s(m), _score(s)] for m, s in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "none":  # expired between SCAN and TYPE
            continue
        else:
            raise ValueError(f"unsupported key type {kind!r} for {key!r}")
        out.append({"key": _text(key), "type": kind, "ttl_ms": client.pttl(key), "value": value})
    return out
