"""Reading the audit log: filters, keyset pages, and chunked iteration for exports.

Every filter is an equality on an indexed column (or a trigram-indexed substring
search), the order is always `seq`, and pages are cut with `seq < cursor` (keyset), so
the first page and the millionth cost the same. A date range is turned into a seq range
first (two index probes): created_at never decreases along seq, so that is exact.

Free text needs care. Postgres either walks the seq index newest-first and tests each
row (fast when the text is common, hopeless when its matches are all old: the walk
reads the whole table), or reads every match from the trigram index and sorts them
(fast for rare text, slow for common text). It cannot tell which case it is in, so a
page looks first at the newest SEARCH_WINDOW rows, testing each (the test is written
so the trigram index cannot serve it: bounded cost, and enough for common text), and
only if that does not fill the page asks the trigram index for the older rest, in an
order no btree index provides, so the planner must use the trigram index. The cost is
bounded by the window plus the matches older than it.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import F, Q, Value
from django.db.models.functions import Lower
from django.utils.dateparse import parse_date, parse_datetime

from .models import OUTCOMES, AuditEvent

FILTER_KEYS = ("actor", "action", "queue", "task_id", "outcome", "since", "until", "q")
MIN_SEARCH = 3
MAX_VALUE = 500
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_CHUNK = 1000
SEARCH_WINDOW = 2000


class BadFilter(ValueError):
    """A filter value we cannot use; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    actor: str = ""
    action: str = ""
    queue: str = ""
    task_id: str = ""
    outcome: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    q: str = ""
    # The values as given (what links and the form carry back).
    params: dict = field(default_factory=dict, compare=False)

    @property
    def active(self):
        return bool(self.params)


def _parse_time(name, raw, *, end):
    try:
        value = parse_datetime(raw) if "T" in raw or " " in raw else None
        day = None if value else parse_date(raw)
    except ValueError:
        value = day = None
    if value is None:
        if day is None:
            raise BadFilter(f"{name}: use a date (YYYY-MM-DD) or an ISO 8601 time, not {raw!r}.")
        # A date-only 'until' means through the end of that day.
        try:
            value = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        except OverflowError:
            raise BadFilter(f"{name}: out of range.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_filters(data):
    """Filters from a query dict (request.GET); raises BadFilter."""
    values, params = {}, {}
    for key in FILTER_KEYS:
        raw = (data.get(key) or "").strip()
        if not raw:
            continue
        if len(raw) > MAX_VALUE:
            raise BadFilter(f"{key}: at most {MAX_VALUE} characters.")
        params[key] = raw
        if key in ("since", "until"):
            values[key] = _parse_time(key, raw, end=key == "until")
        elif key == "outcome":
            if raw not in OUTCOMES:
                raise BadFilter(f"outcome: one of {', '.join(OUTCOMES)}.")
            values[key] = raw
        elif key == "q":
            if len(raw) < MIN_SEARCH:
                raise BadFilter(f"Search text needs at least {MIN_SEARCH} characters.")
            values[key] = raw
        else:
            values[key] = raw
    if values.get("since") and values.get("until") and values["since"] >= values["until"]:
        raise BadFilter("The start of the date range must be before its end.")
    return Filters(**values, params=params)


def parse_cursor(data, name):
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise BadFilter(f"{name}: a row number.")
    return int(raw)


def parse_limit(data, default=PAGE_SIZE, maximum=MAX_PAGE_SIZE):
    raw = (data.get("limit") or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadFilter(f"limit: a number from 1 to {maximum}.")
    return int(raw)


def seq_range(filters):
    """(lowest, highest) seq inside the date range (None = unbounded); raises
    LookupError when the range holds no rows at all."""
    low = high = None
    rows = AuditEvent.objects.values_list("seq", flat=True)
    if filters.since:
        low = rows.filter(created_at__gte=filters.since).order_by("created_at", "seq").first()
        if low is None:
            raise LookupError
    if filters.until:
        high = rows.filter(created_at__lt=filters.until).order_by("-created_at", "-seq").first()
        if high is None:
            raise LookupError
    if low is not None and high is not None and low > high:
        raise LookupError
    return low, high


def filtered(filters, *, text_index=True):
    """The events matching `filters`, unordered (callers order by seq). With
    text_index=False the free-text test is one the trigram index cannot serve (each
    row is tested), for scanning a bounded window of rows."""
    qs = AuditEvent.objects.defer("search")
    for key in ("actor", "action", "queue", "task_id", "outcome"):
        value = getattr(filters, key)
        if value:
            qs = qs.filter(**{"actor_name" if key == "actor" else key: value})
    if filters.q and text_index:
        qs = qs.filter(search__contains=filters.q.lower())
    elif filters.q:
        qs = qs.alias(search_scan=Lower("search")).filter(search_scan__contains=filters.q.lower())
    try:
        low, high = seq_range(filters)
    except LookupError:
        return qs.none()
    if low is not None:
        qs = qs.filter(seq__gte=low)
    if high is not None:
        qs = qs.filter(seq__lte=high)
    return qs


@dataclass
class Page:
    events: list
    older: int | None  # pass as ?before= for the next (older) page
    newer: int | None  # pass as ?after= for the previous (newer) page


def _rows(filters, cursor, *, ascending, edge, n):
    """Up to n matching rows beyond the `cursor` condition, in seq order, walking away
    from `edge` (the cursor's seq, or None for the newest end)."""
    order = "seq" if ascending else "-seq"
    if not filters.q:
        return list(filtered(filters).filter(cursor).order_by(order)[:n])
    if ascending:
        split = edge + SEARCH_WINDOW
        near, far = Q(seq__lte=split), Q(seq__gt=split)
    else:
        top = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        split = (min(top, edge - 1) if edge is not None else top) - SEARCH_WINDOW
        near, far = Q(seq__gt=split), Q(seq__lte=split)
    rows = list(filtered(filters, text_index=False).filter(cursor, near).order_by(order)[:n])
    if len(rows) < n:
        unindexed = F("seq") + Value(0)  # no btree gives this order: the trigram index is used
        rest = filtered(filters).filter(cursor, far).order_by(unindexed.asc() if ascending else unindexed.desc())
        rows += list(rest[: n - len(rows)])
    return rows


def page(filters, *, before=None, after=None, limit=PAGE_SIZE):
    """One page, newest first. `before` / `after` are keyset cursors (seq values)."""
    if after is not None:
        rows = _rows(filters, Q(seq__gt=after), ascending=True, edge=after, n=limit + 1)
        more_newer = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        return Page(rows, older=rows[-1].seq if rows else None, newer=rows[0].seq if more_newer else None)
    cursor = Q(seq__lt=before) if before is not None else Q()
    rows = _rows(filters, cursor, ascending=False, edge=before, n=limit + 1)
    more_older = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, older=rows[-1].seq if more_older else None,
                newer=rows[0].seq if before is not None and rows else None)


def iter_events(filters, *, upto=None, chunk=None):
    """Every matching event, oldest first, `chunk` rows per query (keyset, so nothing
    is held in memory and no cursor stays open between chunks)."""
    chunk = chunk or EXPORT_CHUNK
    qs = filtered(filters)
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    last = 0
    while True:
        rows = list(qs.filter(seq__gt=last).order_by("seq")[:chunk])
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].seq


def action_names():
    """Every action name in the log, sorted: a loose index scan over (action, seq), one
    index probe per distinct name, so the filter's suggestions cost little on a long log."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"""
            WITH RECURSIVE names(action) AS (
                (SELECT action FROM {table} ORDER BY action LIMIT 1)
                UNION ALL
                SELECT (SELECT e.action FROM {table} e WHERE e.action > names.action ORDER BY e.action LIMIT 1)
                FROM names WHERE names.action IS NOT NULL)
            SELECT action FROM names WHERE action IS NOT NULL""")  # noqa: S608 - table name from the model
        return [row[0] for row in cur.fetchall()]


@dataclass
class Entry:
    """One row of the review page: an event, with the intent it completes when both are on
    the page (the outcome event names its intent's seq in detail.intent)."""
    event: AuditEvent
    intent: AuditEvent | None = None


def entries(events):
    """`events` (newest first) as rows, each intent folded into its outcome's row."""
    by_seq = {e.seq: e for e in events}
    folded = {}
    for e in events:
        ref = e.detail.get("intent") if isinstance(e.detail, dict) else None
        if (isinstance(ref, int) and ref in by_seq and by_seq[ref].outcome == "intent"
                and by_seq[ref].action == e.action and ref not in folded.values()):
            folded[e.seq] = ref
    hidden = set(folded.values())
    return [Entry(e, by_seq[folded[e.seq]] if e.seq in folded else None) for e in events if e.seq not in hidden]
