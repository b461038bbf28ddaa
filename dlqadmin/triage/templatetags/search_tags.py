from django import template

from dlqadmin.asynq import TASK_STATES

register = template.Library()


@register.simple_tag
def task_states():
    """asynq's task states in display order (the search form's choices)."""
    return TASK_STATES
