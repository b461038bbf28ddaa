"""Server-drawn SVG charts: the geometry (axes, ticks, lines) computed and drawn here
(`svg`, the `{% chart %}` tag). No chart library and no script: a strict CSP holds, the
numbers are in the page for screen readers and tests, and every theme colours them
through CSS.

Pure functions over (datetime, number) points; no I/O, no clock."""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .markup import text

# Time-axis steps, shortest first: the first one giving at most MAX_X_TICKS ticks is used.
_TIME_STEPS = [timedelta(minutes=m) for m in (5, 10, 15, 30)] + [timedelta(hours=h) for h in (1, 2, 3, 6, 12)] + [
    timedelta(days=d) for d in (1, 2, 7, 14, 30)]
MAX_X_TICKS = 7


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class Line:
    """A horizontal marker (a policy threshold) at `value`."""
    pos: float
    value: float
    label: str
    kind: str  # css class: warning / critical


@dataclass
class Series:
    name: str
    kind: str  # css class
    points: str  # "x,y x,y ..." for <polyline>
    dots: list = field(default_factory=list)  # [(x, y, value, when)] when few enough to mark
    last: float = 0
    peak: float = 0


@dataclass
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    x_ticks: list
    y_ticks: list
    series: list
    lines: list
    empty: bool

    @property
    def x_end(self):  # right edge of the plot
        return self.width - self.right

    @property
    def y_end(self):  # the time axis
        return self.height - self.bottom

    @property
    def label_x(self):  # right edge of value labels
        return self.left - 6

    @property
    def label_y(self):  # baseline of time labels
        return self.height - 8


def nice_step(top, ticks=4):
    """A 1/2/5 × 10^k step so that `ticks` steps cover `top`."""
    if top <= 0:
        return 1
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return max(1, m * power)  # counts: whole steps
    return 10 * power


def _fmt(value):
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _time_ticks(start, end):
    span = end - start
    step = next((s for s in _TIME_STEPS if span / s <= MAX_X_TICKS), _TIME_STEPS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + math.ceil((start - epoch) / step) * step
    fmt = "%H:%M" if step < timedelta(days=1) else "%b %d"
    out, t = [], first
    while t <= end:
        label = t.strftime(fmt)
        if fmt == "%H:%M" and t.hour == 0 and t.minute == 0:
            label = t.strftime("%b %d")  # midnight names the day
        out.append((t, label))
        t += step
    return out


def time_chart(series, *, start, end, thresholds=(), width=720, height=220, dots_up_to=40):
    """A line chart of `series` [(name, kind, [(datetime, value), ...]), ...] over the UTC time
    window start..end, with value and time axes and horizontal `thresholds`
    [(label, kind, value), ...]. The value axis includes the thresholds, so they always show."""
    left, right, top, bottom = 52, 12, 12, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, _, pts in series for _, v in pts]
    peak = max([*values, *(v for _, _, v in thresholds), 0])
    step = nice_step(peak)
    y_max = max(step, math.ceil(peak / step) * step) if peak else 1
    span = max((end - start).total_seconds(), 1)

    def x(at):
        return left + (at - start).total_seconds() / span * plot_w

    def y(v):
        return top + plot_h - v / y_max * plot_h

    out_series = []
    for name, kind, pts in series:
        pts = [(at, v) for at, v in pts if start <= at <= end]
        coords = [(round(x(at), 1), round(y(v), 1), v, at) for at, v in pts]
        out_series.append(Series(
            name=name, kind=kind, points=" ".join(f"{cx},{cy}" for cx, cy, _, _ in coords),
            dots=coords if len(coords) <= dots_up_to else [],
            last=pts[-1][1] if pts else 0, peak=max((v for _, v in pts), default=0)))
    y_ticks = [Tick(round(y(v), 1), _fmt(v)) for v in _frange(0, y_max, step)]
    x_ticks = [Tick(round(x(t), 1), label) for t, label in _time_ticks(start, end)]
    lines = [Line(round(y(v), 1), v, label, kind) for label, kind, v in thresholds if v]
    return Chart(width, height, left, right, top, bottom, x_ticks, y_ticks, out_series, lines,
                 empty=not values)


def svg(c, label):
    """The <svg> of Chart `c`, `label` saying what it shows to screen readers. Drawn here
    rather than by a template: a 30-day pair of charts took a template ~2 ms a page (a
    variable lookup and number formatting for each of hundreds of attributes)."""
    e = text
    out = [f'<svg class="chart" role="img" aria-label="{e(label)}" viewBox="0 0 {c.width} {c.height}" '
           'preserveAspectRatio="xMidYMid meet">\n  ']
    for t in c.y_ticks:
        out.append(f'<line x1="{c.left}" x2="{c.x_end}" y1="{t.pos}" y2="{t.pos}" class="gridline"/>\n'
                   f'  <text x="{c.label_x}" y="{t.pos}" class="axis-label" text-anchor="end" '
                   f'dominant-baseline="middle">{e(t.label)}</text>\n  ')
    for t in c.x_ticks:
        out.append(f'<line x1="{t.pos}" x2="{t.pos}" y1="{c.y_end}" y2="{int(c.y_end) + 4}" class="tick"/>\n'
                   f'  <text x="{t.pos}" y="{c.label_y}" class="axis-label" text-anchor="middle">{e(t.label)}</text>\n  ')
    out.append(f'<line x1="{c.left}" x2="{c.x_end}" y1="{c.y_end}" y2="{c.y_end}" class="axis"/>\n'
               f'  <line x1="{c.left}" x2="{c.left}" y1="{c.top}" y2="{c.y_end}" class="axis"/>\n  ')
    for line in c.lines:
        out.append(f'<g class="threshold {e(line.kind)}"><line x1="{c.left}" x2="{c.x_end}" y1="{line.pos}" '
                   f'y2="{line.pos}"/>\n    <text x="{c.x_end}" y="{line.pos}" dy="-4" text-anchor="end">'
                   f'{e(line.label)}</text></g>\n  ')
    for s in c.series:
        out.append(f'<g class="series {e(s.kind)}"><polyline points="{e(s.points)}"/>\n    ')
        for x, y, v, at in s.dots:
            when = at.astimezone(UTC)
            out.append(f'<circle cx="{x}" cy="{y}" r="3"><title>{when.year:04d}-{when.month:02d}-{when.day:02d} '
                       f'{when.hour:02d}:{when.minute:02d} UTC: {e(v)}</title></circle>')
        out.append("</g>\n  ")
    out.append("\n</svg>")
    return "".join(out)


def _frange(start, stop, step):
    n = int(round((stop - start) / step))
    return [start + i * step for i in range(n + 1)]


def sparkline(values, width=120, height=28):
    """Points for a small polyline of `values` (oldest first), scaled to its own peak."""
    if not values:
        return ""
    peak = max(values) or 1
    if len(values) == 1:
        values = values * 2
    dx = width / (len(values) - 1)
    return " ".join(f"{i * dx:.1f},{height - 2 - v / peak * (height - 4):.1f}" for i, v in enumerate(values))
