"""Reads for the access pages (who holds which role where)."""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch

from .models import Queue, QueueGrant
from .roles import ROLES


def queues():
    return list(Queue.objects.all())


def users_with_roles():
    """[(user, [(role, ["*"] or [queue, ...]), ...])] for every user, in three queries."""
    role_groups = Prefetch("groups", queryset=Group.objects.filter(name__in=ROLES), to_attr="role_groups")
    users = list(get_user_model().objects.order_by("username").prefetch_related(role_groups))
    grants = defaultdict(lambda: defaultdict(list))
    for user_id, role, queue in QueueGrant.objects.order_by("queue__label").values_list(
            "user_id", "role", "queue__label"):
        grants[user_id][role].append(queue)
    rows = []
    for user in users:
        roles = {g.name: ["*"] for g in user.role_groups}
        for role, queues in grants[user.pk].items():
            roles.setdefault(role, queues)
        rows.append((user, sorted(roles.items())))
    return rows
