"""Numbers as people read them (pure; used by templates, alerts and notifications)."""

from datetime import timedelta


def duration(value):
    """Seconds (or a timedelta) as a short human string: 0s, 42s, 3m 5s, 2h 10m, 4d 3h."""
    if value is None or value == "":
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return "0s" if seconds <= 0 else f"{seconds:.2f}s"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
