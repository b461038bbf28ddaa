"""Audit events as JSON and CSV, streamed a chunk of rows at a time.

JSON is verbatim: an unfiltered JSON export can be re-verified offline
(`verify_audit_log --file`). CSV is for spreadsheets: a cell a spreadsheet would run
as a formula (starting with = + - @ or a tab / carriage return) gets a leading "'".
"""

import csv
import json

from . import chain, selectors

CSV_COLUMNS = ("seq", "time", "actor_id", "actor_name", "action", "queue", "task_id", "target", "reason",
               "outcome", "message", "request_id", "ip", "user_agent", "detail", "prev_hash", "hash")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def event_dict(event):
    return {
        "seq": event.seq,
        "time": chain.format_time(event.created_at),
        "actor": {"id": event.actor_id, "name": event.actor_name},
        "action": event.action,
        "queue": event.queue,
        "task_id": event.task_id,
        "target": event.target,
        "reason": event.reason,
        "outcome": event.outcome,
        "message": event.message,
        "request_id": event.request_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _json_line(event):
    return json.dumps(event_dict(event), ensure_ascii=False, separators=(",", ":"))


def json_stream(filters, upto):
    """A JSON array, one event per line, oldest first."""
    yield "["
    first = True
    for event in selectors.iter_events(filters, upto=upto):
        yield ("\n" if first else ",\n") + _json_line(event)
        first = False
    yield "\n]\n"


def _safe_cell(value):
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Line:
    """csv.writer target that hands back what was just written."""

    def write(self, value):
        return value


def csv_stream(filters, upto):
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    for event in selectors.iter_events(filters, upto=upto):
        row = event_dict(event)
        detail = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        yield writer.writerow([
            row["seq"], row["time"], event.actor_id, _safe_cell(event.actor_name), *(
                _safe_cell(row[c]) for c in ("action", "queue", "task_id", "target", "reason", "outcome",
                                             "message", "request_id", "ip", "user_agent")),
            _safe_cell(detail), row["prev_hash"], row["hash"],
        ])
