"""Reads for the access pages (who holds which role where)."""

from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import SSO, GroupRoleRule, Queue, QueueGrant
from .roles import QUEUE_ROLES, ROLES, SSO_GROUP_PREFIX, sso_group_name


@dataclass(frozen=True)
class Holding:
    role: str
    queue: str  # "*": every queue (per-queue roles) or global
    sso: bool  # derived from the identity provider's groups (not revocable by hand)

    @property
    def scope(self):
        if self.queue != "*":
            return self.queue
        return "all queues" if self.role in QUEUE_ROLES else "global"


def queues():
    return list(Queue.objects.all())


def users_with_roles():
    """[(user, [Holding, ...])] for every user, in four queries. Users made by single
    sign-on carry `oidc_identity`; break-glass accounts `break_glass`; `has_mfa` says
    whether an authenticator app is enrolled."""
    names = set(ROLES) | {sso_group_name(r) for r in ROLES}
    role_groups = Prefetch("groups", queryset=Group.objects.filter(name__in=names), to_attr="role_groups")
    users = list(get_user_model().objects.order_by("username").prefetch_related(role_groups)
                 .select_related("oidc_identity", "break_glass"))
    grants = defaultdict(list)
    for user_id, role, queue, source in QueueGrant.objects.order_by("queue__label").values_list(
            "user_id", "role", "queue__label", "source"):
        grants[user_id].append(Holding(role, queue, source == SSO))
    with_mfa = set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
    rows = []
    for user in users:
        user.has_mfa = user.pk in with_mfa
        held = [Holding(g.name.removeprefix(SSO_GROUP_PREFIX), "*", g.name.startswith(SSO_GROUP_PREFIX))
                for g in user.role_groups]
        held += grants[user.pk]
        rows.append((user, sorted(held, key=lambda h: (h.role, h.queue != "*", h.queue, h.sso))))
    return rows


def group_rules():
    """Every group -> role mapping rule, by group."""
    return list(GroupRoleRule.objects.select_related("queue").order_by("group", "role", "queue__label"))
