"""The queue page's rows, written in Python (dlqadmin.triage.rows), give the markup of the
template they replaced, for every state and for hostile ids, types and payloads."""

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.template import engines
from hypothesis import given, settings
from hypothesis import strategies as st

from dlqadmin.core.names import showable
from dlqadmin.triage.presenters import Sensitive, TaskView
from dlqadmin.triage.rows import queue_rows, state_tabs, task_rows

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


# The overview's queue rows (templates/triage/overview.html before), verbatim.
QUEUE_REFERENCE = """{% load dlq %}
  {% for qi in infos %}
    {% if qi.damaged %}
    <tr data-queue="{{ qi.queue }}" data-damaged class="broken" data-live="q:{{ qi.queue }}:damaged">
      <td><a href="{% url 'triage:queue' qi.queue %}">{{ qi.queue }}</a></td>
      <td><span class="badge paused">damaged</span></td>
      <td colspan="12" class="warn">Unreadable: {{ qi.problem }}</td>
    </tr>
    {% else %}
    <tr data-queue="{{ qi.queue }}">
      <td><a href="{% url 'triage:queue' qi.queue %}">{{ qi.queue }}</a></td>
      <td data-live="q:{{ qi.queue }}:state">{% if qi.paused %}<span class="badge paused">paused</span>{% else %}<span class="badge run">running</span>{% endif %}</td>
      <td class="num dlq{% if qi.archived %} hot{% endif %}" data-live="q:{{ qi.queue }}:dlq"><a href="{% url 'triage:queue' qi.queue %}?state=archived" data-live="q:{{ qi.queue }}:archived">{{ qi.archived }}</a></td>
      <td class="spark">{% with spark=sparklines|get_item:qi.queue %}{% if spark %}<svg class="spark" viewBox="0 0 120 28" preserveAspectRatio="none" role="img" aria-label="Dead tasks in {{ qi.queue }} over 24 hours: latest {{ spark.1 }}, peak {{ spark.2 }}"><polyline points="{{ spark.0 }}"/></svg>{% else %}<span class="muted small">no samples</span>{% endif %}{% endwith %}</td>
      <td class="num" data-live="q:{{ qi.queue }}:size">{{ qi.size }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:pending">{{ qi.pending }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:active">{{ qi.active }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:scheduled">{{ qi.scheduled }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:retry">{{ qi.retry }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:completed">{{ qi.completed }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:aggregating">{{ qi.aggregating }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:processed">{{ qi.processed }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:failed">{{ qi.failed }}</td>
      <td class="num" data-live="q:{{ qi.queue }}:latency">{{ qi.latency|duration }}</td>
    </tr>
    {% endif %}
  {% endfor %}
"""


def info(name, damaged=False, paused=False, archived=3):
    return SimpleNamespace(queue=name, damaged=damaged, problem="wrong <type>" if damaged else "", paused=paused,
                           archived=archived, size=12345, pending=1, active=0, scheduled=2, retry=4, completed=5,
                           aggregating=0, processed=1000, failed=7, latency=3725.5)


def queue_reference(infos, sparklines):
    return engines.all()[0].from_string(QUEUE_REFERENCE).render({"infos": infos, "sparklines": sparklines})


def test_queue_rows_same_markup_as_the_template():
    infos = [info("payments"), info("a<b>&\"c\"", paused=True, archived=0), info("bad", damaged=True),
             info("x/y~z")]
    sparks = {"payments": ("0,28 60,10 120,1", 5, 9), "x/y~z": ("0,1", 0, 0)}
    assert normalised(queue_rows(infos, sparks)) == normalised(queue_reference(infos, sparks))
    assert normalised(queue_rows([], {})) == normalised(queue_reference([], {})) == ""


@settings(deadline=None, max_examples=40)
@given(hostile, st.booleans(), st.booleans())
def test_queue_rows_hostile_names_escaped_alike(name, damaged, paused):
    infos = [info(name, damaged=damaged, paused=paused)]
    sparks = {name: ("0,1 2,3", 1, 2)}
    assert normalised(queue_rows(infos, sparks)) == normalised(queue_reference(infos, sparks))


# The tabs' loop the Python replaced (templates/triage/queue.html before), verbatim.
REFERENCE_TABS = """{% for state, count in states %}
  <a href="?state={{ state }}&amp;page_size={{ listing.page_size }}" hx-get="?state={{ state }}&amp;page_size={{ listing.page_size }}"
     hx-target="#task-list" hx-push-url="true" data-state="{{ state }}"{% if state == listing.state %} aria-current="page"{% endif %}
     class="tab{% if state == listing.state %} current{% endif %}{% if state == 'archived' and count %} hot{% endif %}">{% if state == "archived" %}DLQ (archived){% else %}{{ state }}{% endif %} <span class="count" data-live="tab:{{ state }}">{{ count }}</span></a>
{% endfor %}
"""


@settings(deadline=None, max_examples=200)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=len(STATES), max_size=len(STATES)),
       st.sampled_from(STATES), st.sampled_from([10, 20, 50, 100]))
def test_state_tabs_are_the_template_they_replaced(counts, current, page_size):
    states = list(zip(("archived", *(s for s in STATES if s != "archived")), counts))
    template = engines.all()[0].from_string(REFERENCE_TABS)
    want = template.render({"states": states, "listing": {"state": current, "page_size": page_size}})
    assert normalised(state_tabs(states, current, page_size)) == normalised(want)
