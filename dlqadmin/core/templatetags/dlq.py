import re
from datetime import timedelta

from django import template
from django.utils.safestring import mark_safe

from dlqadmin.core import clock, humanize, names
from dlqadmin.core.links import row_path
from dlqadmin.core.markup import text as escape

register = template.Library()


@register.simple_tag
def row_url(viewname, *args):
    """{% url %} for a row's link whose last argument is a task id (or another `name`
    segment): the same URL, with the resolver walked once per page instead of per row
    (see core/links.py). Escaped like {% url %}."""
    return row_path(viewname, *args)


@register.simple_tag
def options(choices, selected):
    """A <select>'s <option>s, each labelled with its value, `selected` marked: what a
    `{% for %}` of options writes, at a fraction of the template engine's cost (the
    queue page draws two such lists)."""
    return mark_safe("".join(
        f'<option value="{escape(c)}"{" selected" if c == selected else ""}>{escape(c)}</option>' for c in choices))


@register.simple_tag
def chart(c, label):
    """A server-drawn line chart (core.charts.time_chart's Chart) as inline SVG."""
    from dlqadmin.core.charts import svg

    return mark_safe(svg(c, label))  # svg() escapes every text it writes


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


def relative(value, now):
    """'3 h ago' / 'in 5 min' / 'just now' for `value` seen from `now` (both aware)."""
    seconds = (value - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "just now"
    size, unit = next((size, unit) for size, unit in ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"),
                                                       (3600, "h"), (60, "min")) if span >= size)
    text = f"{int(span // size)} {unit}"
    return f"{text} ago" if seconds < 0 else f"in {text}"


@register.filter
def ago(value):
    """A datetime as '<time title="… UTC">3 h ago</time>' on the app clock (core.clock),
    the exact UTC time on hover and for screen readers via datetime; an em dash when unset."""
    if not value:
        return "—"
    # Every part is digits, '-', ':', 'T', 'Z', 'UTC' or relative()'s words: nothing to
    # escape (format_html cost a page of 100 rows ~1 ms).
    day = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    clock_time = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return mark_safe(f'<time class="ago" datetime="{day}T{clock_time}Z" title="{day} {clock_time} UTC">'
                     f'{relative(value, clock.now())}</time>')


@register.filter
def row_id(value):
    """An HTML id for a task's row: ids are any bytes, so a digest of them (core/names.py)."""
    return "task-" + names.key(value)[:20]


@register.filter
def thousands(value):
    """1400 -> '1,400' (no locale machinery: the dashboard is in English)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value


@register.filter
def picker_value(value, end=""):
    """A since / until URL value (a date or an ISO time) as a datetime-local field's
    value (YYYY-MM-DDTHH:MM:SS, UTC); '' when it is not one. A date `until` (end="until")
    includes its day, so it becomes the next midnight: the same search."""
    from datetime import date, datetime

    text = str(value or "").strip()
    if not text:
        return ""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        try:
            return (day + timedelta(days=1 if end == "until" else 0)).strftime("%Y-%m-%dT00:00:00")
        except OverflowError:  # until=9999-12-31: no next midnight
            return ""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        from datetime import UTC

        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
            return ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


@register.filter
def task_url(task_id, queue):
    """The task page of (queue, task_id) as the audit log shows them, or '' when the
    shown names cannot be a route (odd bytes are shown escaped)."""
    from django.urls import NoReverseMatch, reverse

    if not task_id or not queue:
        return ""
    try:
        return reverse("triage:task", args=[queue, task_id])
    except NoReverseMatch:
        return ""


@register.filter
def operation_url(detail):
    """The operation page an audit record's detail names (detail["operation"]), or ''."""
    from django.urls import reverse

    op = detail.get("operation") if isinstance(detail, dict) else None
    return reverse("operations:detail", args=[op]) if isinstance(op, int) and op > 0 else ""
