"""Per-token rate limit of the API, counted in Postgres so that every web process
shares one count (no process memory).

A fixed window of DLQADMIN_API_RATE_WINDOW seconds: one `INSERT ... ON CONFLICT DO
UPDATE ... RETURNING` per request increments the token's row for the current window
atomically, whichever worker serves it. (django-ratelimit counts through the cache,
whose database backend increments by read-then-write: two workers can both read 9
and write 10. One upsert cannot lose a count.) The first request of a window deletes
the token's older rows, so the table holds about one row per active token.
"""

from dataclasses import dataclass

from django.conf import settings

from dlqadmin.core import clock
from dlqadmin.core.prepared import server_cursor

from .models import ApiTokenUse

_UPSERT = (
    f"INSERT INTO {ApiTokenUse._meta.db_table} (token_id, window_start, count) VALUES (%s, %s, 1) "
    "ON CONFLICT (token_id, window_start) DO UPDATE SET count = "
    f"{ApiTokenUse._meta.db_table}.count + 1 RETURNING count"
)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window ends


def hit(token):
    """Count one request of `token`; the verdict says whether it is within the limit.
    A limit of 0 turns the limit off (nothing is counted)."""
    limit = settings.DLQADMIN_API_RATE_LIMIT
    window_seconds = max(1, settings.DLQADMIN_API_RATE_WINDOW)
    now = int(clock.timestamp())
    window = now - now % window_seconds
    retry_after = max(1, window + window_seconds - now)
    if limit <= 0:
        return Verdict(True, 0, 0, 0)
    with server_cursor() as cursor:  # planned once per connection (core/prepared.py)
        cursor.execute(_UPSERT, [token.pk, window])
        count = cursor.fetchone()[0]
    if count == 1:
        ApiTokenUse.objects.filter(token=token, window_start__lt=window).delete()
    return Verdict(count <= limit, limit, max(0, limit - count), retry_after)
