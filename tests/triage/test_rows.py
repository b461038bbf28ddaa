"""The queue page's rows, written in Python (dlqadmin.triage.rows), give the markup of the
template they replaced, for every state and for hostile ids, types and payloads."""

import re
from datetime import UTC, datetime

import pytest
from django.template import engines
from hypothesis import given, settings
from hypothesis import strategies as st

from dlqadmin.core.names import showable
from dlqadmin.triage.presenters import Sensitive, TaskView
from dlqadmin.triage.rows import task_rows

# The template the rows replaced (templates/triage/queue.html before), verbatim.
REFERENCE = """{% load dlq %}
  {% for t in tasks %}
    {% if t.broken %}
    <tr class="broken">{% if may_operate %}<td class="select"></td>{% endif %}<td><code>{{ t.id }}</code></td><td colspan="6" class="warn">Unreadable: {{ t.problem }}</td></tr>
    {% else %}
    <tr data-task="{{ t.id }}" id="{{ t.id|row_id }}">
      {% if may_operate %}<td class="select"><input type="checkbox" name="ids" value="{{ t.id|form_value }}" form="batch-form" aria-label="Select task {{ t.id }}"></td>{% endif %}
      <td class="id"><a href="{% row_url 'triage:task' queue.queue t.id %}{{ task_query }}"><code>{{ t.id }}</code></a> <button type="button" class="copy" data-copy="{{ t.id }}" aria-label="Copy task id {{ t.id }}">Copy</button></td>
      <td>{{ t.type }}</td>
      <td class="preview">{% if t.payload %}<code>{{ t.payload.preview }}</code>{% else %}<span class="muted">—</span>{% endif %}</td>
      {% if listing.state == "archived" or listing.state == "retry" %}
        <td class="preview">{% if t.last_err %}<code>{{ t.last_err.preview }}</code>{% else %}<span class="muted">—</span>{% endif %}</td><td class="when">{{ t.last_failed_at|ago }}</td><td class="num">{{ t.retried }}/{{ t.max_retry }}</td>
      {% endif %}
      {% if listing.state == "retry" or listing.state == "scheduled" %}<td class="when">{{ t.next_process_at|ago }}</td>{% endif %}
      {% if listing.state == "active" %}<td>{% if t.is_orphaned %}<span class="warn">orphaned</span>{% else %}no{% endif %}</td><td class="when">{{ t.deadline|ago }}</td>{% endif %}
      {% if listing.state == "completed" %}<td class="when">{{ t.completed_at|ago }}</td><td>{{ t.retention_seconds|duration }}</td>{% endif %}
      {% if listing.state == "aggregating" %}<td>{{ t.group }}</td>{% endif %}
    </tr>
    {% endif %}
  {% endfor %}
"""

STATES = ("pending", "active", "scheduled", "retry", "archived", "completed", "aggregating")
hostile = st.one_of(
    st.binary(min_size=1, max_size=30).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(min_size=1, max_size=30),
    st.sampled_from(['<script>"x"</script>', "a&b", "x' onmouseover='y", "~/..", "\x00", "é"]),
)


def view(tid, type_="t", text="{}", broken=False, when=datetime(2026, 12, 1, 10, 0, tzinfo=UTC)):
    sensitive = Sensitive(kind="json", text=text, size=len(text), masked=True)
    return TaskView(id=tid, queue="q", type=type_, state="archived", max_retry=25, retried=3,
                    last_err=Sensitive(kind="text", text=text, size=1, masked=True) if text else None,
                    last_failed_at=when, next_process_at=when, timeout_seconds=30, deadline=when,
                    group="g<1>", is_orphaned=tid.startswith("a"), retention_seconds=3600, completed_at=when,
                    headers=None, payload=sensitive if text else None, result=None, broken=broken,
                    problem="bad <msg>" if broken else "")


def normalised(html):
    # Pages pass through names.showable (NUL and undecodable bytes written as \\x00, \\xff),
    # the rows inside a page included.
    html = showable(html)
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def reference(tasks, queue, state, may_operate, task_query):
    template = engines.all()[0].from_string(REFERENCE)
    context = {"tasks": tasks, "queue": {"queue": queue}, "listing": {"state": state},
               "may_operate": may_operate, "task_query": task_query}
    return template.render(context)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("may_operate", [True, False])
def test_same_markup_as_the_template(state, may_operate):
    tasks = [view("a1b2"), view("x/y~z", type_="<b>", text='{"card": "<masked>"}'), view("bad", broken=True),
             view("no-payload", text="")]
    for query in ("", "?order=asc"):
        assert normalised(task_rows(tasks, "pay:ments", state, may_operate, query)) == \
               normalised(reference(tasks, "pay:ments", state, may_operate, query))


@settings(deadline=None, max_examples=60)
@given(hostile, hostile, hostile, hostile, st.sampled_from(STATES))
def test_hostile_values_escaped_alike(queue, tid, type_, text, state):
    tasks = [view(tid, type_=type_, text=text), view(tid + "2", broken=True)]
    assert normalised(task_rows(tasks, queue, state, True)) == normalised(reference(tasks, queue, state, True, ""))
