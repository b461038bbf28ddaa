"""tests/support/redis_snapshot: restore() and dump() reproduce a snapshot."""

from __future__ import annotations

import pytest

from tests.support.redis_snapshot import dump, load, restore

from .conftest import GOLDEN, MIXED


def _without_ttl(entries):
    return [{k: v for k, v in e.items() if k != "ttl_ms"} for e in entries]


def test_restore_then_dump_is_identity(r):
    snapshot = load(MIXED / "snapshot.json")
    restore(r, MIXED / "snapshot.json")
    dumped = dump(r)
    assert _without_ttl(dumped) == _without_ttl(snapshot)
    for got, want in zip(dumped, snapshot):
        if want["ttl_ms"] > 0:
            # Expiring keys keep (at most) their remaining lifetime.
            assert 0 < got["ttl_ms"] <= want["ttl_ms"], got["key"]
        else:
            assert got["ttl_ms"] == -1, got["key"]


def test_restore_without_ttl(r):
    restore(r, MIXED / "snapshot.json", with_ttl=False)
    assert all(e["ttl_ms"] == -1 for e in dump(r))


@pytest.mark.parametrize("name", ["run-task-archived", "delete-queue-force", "pause-queue"])
def test_ops_snapshots_round_trip(r, name):
    for part in ("before", "after"):
        r.flushdb()
        snapshot = load(GOLDEN / "ops" / name / f"{part}.json")
        restore(r, snapshot)  # a list works as well as a path
        assert _without_ttl(dump(r)) == _without_ttl(snapshot)


def test_restore_replaces_existing_keys(r):
    r.rpush(b"k", b"old1", b"old2")
    restore(r, [{"key": "k", "type": "list", "ttl_ms": -1, "value": ["bmV3"]}])
    assert r.lrange(b"k", 0, -1) == [b"new"]


def test_unknown_type_is_refused(r):
    with pytest.raises(ValueError, match="stream"):
        restore(r, [{"key": "k", "type": "stream", "ttl_ms": -1, "value": []}])


def test_binary_key_and_values_round_trip(r):
    r.set(b"\xff\x00key", b"\x00\xff")
    r.zadd(b"z", {b"\x80": 1.5, b"a": 2})
    snapshot = dump(r)
    r.flushdb()
    restore(r, snapshot)
    assert r.get(b"\xff\x00key") == b"\x00\xff"
    assert r.zrange(b"z", 0, -1, withscores=True) == [(b"\x80", 1.5), (b"a", 2.0)]
    assert dump(r) == snapshot
