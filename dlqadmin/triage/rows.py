"""The <tr> rows of the big tables (a queue page's tasks, the overview's queues), and the
queue page's state tabs, written in Python.

A page of 100 tasks made the template engine resolve ~2,600 variables and escape ~1,300
values: 60% of the page's CPU (bench/README.md, `bench_http.py`). Here each row is one
f-string; every value that comes from asynq (ids, types, masked previews, errors) is
escaped as `{{ }}` would (core/markup.py). `tests/triage/test_rows.py` holds the
template these rows replaced and checks both give the same markup.
"""

from django.utils.safestring import mark_safe

from django.urls import reverse

from dlqadmin.core.templatetags.dlq import ago, duration, form_value, row_id
from dlqadmin.core.links import row_path
from dlqadmin.core.markup import text as escape

_DASH = '<span class="muted">—</span>'


def _preview(value):
    return f"<code>{escape(value.preview)}</code>" if value else _DASH


def _row(t, queue, state, may_operate, task_query):
    tid = escape(t.id)
    if t.broken:
        select = '<td class="select"></td>' if may_operate else ""
        return (f'<tr class="broken">{select}<td><code>{tid}</code></td>'
                f'<td colspan="6" class="warn">Unreadable: {escape(t.problem)}</td></tr>')
    cells = [f'<tr data-task="{tid}" id="{escape(row_id(t.id))}">']
    if may_operate:
        cells.append(f'<td class="select"><input type="checkbox" name="ids" value="{escape(form_value(t.id))}" '
                     f'form="batch-form" aria-label="Select task {tid}"></td>')
    cells.append(f'<td class="id"><a href="{escape(row_path("triage:task", queue, t.id))}{escape(task_query)}">'
                 f'<code>{tid}</code></a> <button type="button" class="copy" data-copy="{tid}" '
                 f'aria-label="Copy task id {tid}">Copy</button></td>'
                 f'<td>{escape(t.type)}</td><td class="preview">{_preview(t.payload)}</td>')
    if state in ("archived", "retry"):
        cells.append(f'<td class="preview">{_preview(t.last_err)}</td><td class="when">{ago(t.last_failed_at)}</td>'
                     f'<td class="num">{t.retried}/{t.max_retry}</td>')
    if state in ("retry", "scheduled"):
        cells.append(f'<td class="when">{ago(t.next_process_at)}</td>')
    if state == "active":
        orphaned = '<span class="warn">orphaned</span>' if t.is_orphaned else "no"
        cells.append(f'<td>{orphaned}</td><td class="when">{ago(t.deadline)}</td>')
    if state == "completed":
        cells.append(f'<td class="when">{ago(t.completed_at)}</td><td>{escape(duration(t.retention_seconds))}</td>')
    if state == "aggregating":
        cells.append(f"<td>{escape(t.group)}</td>")
    cells.append("</tr>")
    return "".join(cells)


def task_rows(tasks, queue, state, may_operate, task_query=""):
    """The table rows for `tasks` (TaskViews) of `queue` listed in `state`."""
    return mark_safe("\n".join(_row(t, queue, state, may_operate, task_query) for t in tasks))


# The overview's count columns, in order: (QueueInfo attribute, data-live name).
_COUNTS = ("size", "pending", "active", "scheduled", "retry", "completed", "aggregating", "processed", "failed")


def _queue_row(qi, spark):
    name = escape(qi.queue)
    url = escape(reverse("triage:queue", args=[qi.queue]))
    link = f'<td><a href="{url}">{name}</a></td>'
    if qi.damaged:
        return (f'<tr data-queue="{name}" data-damaged class="broken" data-live="q:{name}:damaged">{link}'
                f'<td><span class="badge paused">damaged</span></td>'
                f'<td colspan="12" class="warn">Unreadable: {escape(qi.problem)}</td></tr>')
    state = '<span class="badge paused">paused</span>' if qi.paused else '<span class="badge run">running</span>'
    if spark:
        points, latest, peak = spark[0], spark[1], spark[2]
        chart = (f'<svg class="spark" viewBox="0 0 120 28" preserveAspectRatio="none" role="img" '
                 f'aria-label="Dead tasks in {name} over 24 hours: latest {escape(latest)}, peak {escape(peak)}">'
                 f'<polyline points="{escape(points)}"/></svg>')
    else:
        chart = '<span class="muted small">no samples</span>'
    counts = "".join(f'<td class="num" data-live="q:{name}:{attr}">{escape(getattr(qi, attr))}</td>'
                     for attr in _COUNTS)
    return (f'<tr data-queue="{name}">{link}<td data-live="q:{name}:state">{state}</td>'
            f'<td class="num dlq{" hot" if qi.archived else ""}" data-live="q:{name}:dlq"><a href="{url}?state=archived" '
            f'data-live="q:{name}:archived">{escape(qi.archived)}</a></td><td class="spark">{chart}</td>{counts}'
            f'<td class="num" data-live="q:{name}:latency">{escape(duration(qi.latency))}</td></tr>')


def queue_rows(infos, sparklines):
    """The overview's rows for `infos` (QueueInfos), with each queue's 24-hour sparkline
    from `sparklines` ({name: (points, latest, peak)})."""
    sparklines = sparklines or {}
    return mark_safe("\n".join(_queue_row(qi, sparklines.get(qi.queue)) for qi in infos))


def state_tabs(states, current, page_size):
    """The queue page's tab links: `states` as (state, count) pairs, `current` the one listed."""
    size = escape(page_size)
    tabs = []
    for state, count in states:
        name = escape(state)
        query = f"?state={name}&amp;page_size={size}"
        here = state == current
        classes = "tab" + (" current" if here else "") + (" hot" if state == "archived" and count else "")
        aria = ' aria-current="page"' if here else ""
        tabs.append(f'<a href="{query}" hx-get="{query}" hx-target="#task-list" hx-push-url="true" '
                    f'data-state="{name}"{aria} class="{classes}">'
                    f'{"DLQ (archived)" if state == "archived" else name} '
                    f'<span class="count" data-live="tab:{name}">{escape(count)}</span></a>')
    return mark_safe("\n".join(tabs))
