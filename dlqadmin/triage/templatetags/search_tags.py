from django import template

from dlqadmin.asynq import TASK_STATES

register = template.Library()


@register.simple_tag
def task_rows(tasks, queue, state, may_operate, task_query=""):
    """The queue page's task table rows (dlqadmin.triage.rows: written in Python for speed)."""
    from dlqadmin.triage.rows import task_rows as rows

    return rows(tasks, queue, state, may_operate, task_query)


@register.simple_tag
def state_tabs(states, current, page_size):
    """The queue page's state tabs (dlqadmin.triage.rows)."""
    from dlqadmin.triage.rows import state_tabs as tabs

    return tabs(states, current, page_size)


@register.simple_tag
def queue_rows(infos, sparklines):
    """The overview's queue table rows (dlqadmin.triage.rows)."""
    from dlqadmin.triage.rows import queue_rows as rows

    return rows(infos, sparklines)


@register.simple_tag
def task_states():
    """asynq's task states in display order (the search form's choices)."""
    return TASK_STATES


# The search parameters a bulk form carries along (exact names: a template's `k in "..."`
# is a substring test, and `request.GET.items` is the parameter "items" when one is sent).
SEARCH_PARAMS = ("type", "type_prefix", "error", "since", "until", "retried_min", "retried_max", "q", "reason")


@register.simple_tag
def search_params(query):
    """(name, value) of the non-empty search parameters in ``query`` (a QueryDict)."""
    return [(name, query.get(name)) for name in SEARCH_PARAMS if query.get(name)]
