"""The <tr> rows of a queue page's task table, written in Python.

A page of 100 tasks made the template engine resolve ~2,600 variables and escape ~1,300
values: 60% of the page's CPU (bench/README.md, `bench_http.py`). Here each row is one
f-string; every value that comes from asynq (ids, types, masked previews, errors) goes
through Django's `escape`, as `{{ }}` would. `tests/triage/test_rows.py` holds the
template these rows replaced and checks both give the same markup.
"""

from django.utils.html import escape
from django.utils.safestring import mark_safe

from dlqadmin.core.templatetags.dlq import ago, duration, form_value, row_id
from dlqadmin.core.links import row_path

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
