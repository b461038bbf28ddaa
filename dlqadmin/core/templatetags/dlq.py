import re

from django import template

from dlqadmin.core import humanize, names

register = template.Library()


@register.filter
def form_value(value):
    """A task id / name as a form value that posts back exactly (see core/names.py)."""
    return names.form_value(value) if isinstance(value, str) else value


@register.filter
def duration(value):
    """Seconds (or a timedelta) as a short human string: 0s, 42s, 3m 5s, 2h 10m, 4d 3h."""
    return humanize.duration(value)


@register.filter
def utc(value):
    """A datetime as 'YYYY-MM-DD HH:MM:SS UTC', or an em dash when unset."""
    if not value:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


@register.filter
def iso_duration(value):
    """'PT15M' (ISO 8601, as django-axes gives a cool-off) -> '15 minutes'."""
    m = _ISO_DURATION.match(str(value or ""))
    if not m or not any(m.groups()):
        return value
    parts = []
    for amount, unit in zip(m.groups(), ("day", "hour", "minute", "second")):
        if amount and float(amount):
            n = int(float(amount))
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return ", ".join(parts) or value


@register.filter
def urlencode_dict(value):
    """A dict of query parameters as a query string (values escaped)."""
    from urllib.parse import urlencode

    return urlencode(value or {})


@register.filter
def get_item(mapping, key):
    """mapping[key], or None: per-row data kept in a dict keyed by queue name."""
    return mapping.get(key) if hasattr(mapping, "get") else None
