"""Checking the chain: every row re-hashed, every link and position checked.

A row altered in place no longer matches its hash; a row removed leaves a gap in seq
and a dangling prev_hash; rows reordered (seq swapped) hash differently at their new
position; rows cut off the end disagree with the chain head. Someone able to rewrite
the whole table *and* recompute every hash after the change is only caught by an
anchor kept elsewhere: `--expect SEQ:HASH` checks a head printed by an earlier run.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from django.utils.dateparse import parse_datetime

from . import chain
from .models import AuditEvent, ChainHead

_COLUMNS = (*chain.CHAINED_FIELDS, "prev_hash", "hash")


@dataclass
class Result:
    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str = chain.GENESIS
    broken_seq: int | None = None
    problem: str = ""

    @property
    def ok(self):
        return self.broken_seq is None and not self.problem


def parse_anchor(text):
    """'SEQ:HASH' -> (int, str); raises ValueError."""
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"expected SEQ:HASH (a row number and 64 hex digits), not {text!r}")
    return int(seq), digest


def verify_rows(rows, *, after=None, expect=None):
    """Check an iterable of row dicts (CHAINED_FIELDS + prev_hash + hash) in seq order.

    `after` = (seq, hash) of the last row archived away: the chain resumes after it.
    `expect` = (seq, hash) recorded earlier: that row must still be there, unchanged.
    """
    result = Result()
    expected_seq, prev_hash = (after[0] + 1, after[1]) if after else (1, chain.GENESIS)
    expect_seen = False
    for row in rows:
        seq = row["seq"]
        if result.first_seq is None:
            result.first_seq = seq
        if seq != expected_seq:
            result.broken_seq = seq
            if seq > expected_seq:
                missing = f"#{expected_seq}" if seq == expected_seq + 1 else f"#{expected_seq}–#{seq - 1}"
                result.problem = f"row {missing} missing before row #{seq} (removed)"
            else:
                result.problem = f"row #{seq} out of order (expected #{expected_seq})"
            return result
        if row["prev_hash"] != prev_hash:
            result.broken_seq = seq
            result.problem = (f"row #{seq}: prev_hash does not match the hash of the row before it "
                              "(that row was altered, removed or moved)")
            return result
        if chain.row_hash(row, prev_hash) != row["hash"]:
            result.broken_seq = seq
            result.problem = f"row #{seq}: content does not match its hash (altered or moved)"
            return result
        if expect and seq == expect[0]:
            expect_seen = True
            if row["hash"] != expect[1]:
                result.broken_seq = seq
                result.problem = f"row #{seq}: hash differs from the expected anchor (chain rewritten)"
                return result
        prev_hash = row["hash"]
        expected_seq += 1
        result.count += 1
        result.last_seq, result.last_hash = seq, prev_hash
    if expect and not expect_seen:
        result.broken_seq = expect[0]
        result.problem = f"row #{expect[0]} from the expected anchor is not in the log (rows removed)"
    return result


def _database_rows(chunk):
    last = 0
    while True:
        batch = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq").values(*_COLUMNS)[:chunk])
        yield from batch
        if len(batch) < chunk:
            return
        last = batch[-1]["seq"]


def verify_database(*, after=None, expect=None, chunk=5000):
    result = verify_rows(_database_rows(chunk), after=after, expect=expect)
    if not result.ok:
        return result
    head = ChainHead.objects.filter(pk=1).first()
    if head is None:
        if result.count:
            result.broken_seq = result.last_seq
            result.problem = "the chain head row is missing"
        return result
    last_seq = result.last_seq if result.last_seq is not None else (after[0] if after else 0)
    if head.seq > last_seq:
        result.broken_seq = last_seq + 1
        result.problem = f"rows #{last_seq + 1}–#{head.seq} missing from the end (the chain head is at #{head.seq})"
    elif head.seq < last_seq:
        result.broken_seq = head.seq + 1
        result.problem = f"rows after #{head.seq} were not appended by dlqadmin (the chain head is at #{head.seq})"
    elif result.count and head.hash != result.last_hash:
        result.broken_seq = last_seq
        result.problem = f"row #{last_seq}: hash differs from the chain head"
    return result


def _file_rows(path):
    """Rows of a JSON export (GET /audit/export.json without filters)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for event in data:
        row = {name: event[name] for name in _COLUMNS if name not in ("created_at", "actor_id", "actor_name")}
        row["created_at"] = parse_datetime(event["time"])
        row["actor_id"] = event["actor"]["id"]
        row["actor_name"] = event["actor"]["name"]
        yield row


def verify_file(path, *, expect=None):
    """Verify an unfiltered JSON export; it may start anywhere (its first prev_hash is
    taken as the anchor), but must be contiguous."""
    rows = iter(_file_rows(path))
    first = next(rows, None)
    if first is None:
        return Result()
    after = (first["seq"] - 1, first["prev_hash"])

    def chained():
        yield first
        yield from rows

    return verify_rows(chained(), after=after, expect=expect)
