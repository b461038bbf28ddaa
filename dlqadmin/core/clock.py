"""The one clock of the Django side: every "what time is it?" goes through now().

Tests pin it with `frozen(...)` (or the `clock` fixture) so nothing depends on the
day the suite runs; the asynq reader and operations get `now` from here too, so the
counters they read under dated keys ("processed:2026-11-22") follow the same clock.

Only the application's clock is used to compare application times: never Postgres'
NOW() or Redis' TIME, which can be skewed from ours.
"""

from __future__ import annotations

import datetime as _dt
from contextlib import contextmanager
from typing import Callable

from django.utils import timezone

UTC = _dt.UTC

# None: the real clock. Otherwise a callable returning an aware datetime.
_source: Callable[[], _dt.datetime] | None = None


def now() -> _dt.datetime:
    """The current time, aware, in UTC."""
    if _source is not None:
        value = _source()
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return timezone.now()


def timestamp() -> float:
    """now() as Unix seconds."""
    return now().timestamp()


@contextmanager
def frozen(at: _dt.datetime | Callable[[], _dt.datetime]):
    """Pin now() to `at` (a datetime, or a callable for a clock that moves) while inside."""
    global _source
    previous = _source
    _source = at if callable(at) else (lambda: at)
    try:
        yield
    finally:
        _source = previous


class Clock:
    """A settable clock for tests: `clock.set(dt)`, `clock.advance(seconds=...)`."""

    def __init__(self, at: _dt.datetime):
        self.at = at

    def __call__(self) -> _dt.datetime:
        return self.at

    now = __call__

    def timestamp(self) -> float:
        return self.at.timestamp()

    def set(self, at: _dt.datetime) -> None:
        self.at = at

    def advance(self, **delta) -> _dt.datetime:
        self.at = self.at + _dt.timedelta(**delta)
        return self.at
