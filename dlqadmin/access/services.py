"""Writes to access state: roles, grants, sessions. Every change goes through here.

Each change is audited inside its own transaction: if the audit row cannot be written
(AuditWriteError), the change is rolled back. `actor` is who made the change (None for
management commands and set-up code: recorded as "system"); `request` adds the
request id, address and user agent.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import F, Q
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from dlqadmin import audit
from dlqadmin.audit import actions as audit_actions
from dlqadmin.core import names as qnames

from . import registry
from .models import Queue, QueueGrant, SessionEpoch
from .roles import (GLOBAL_PERMISSION_CODENAMES, QUEUE_PERMISSION_CODENAMES, QUEUE_ROLES, ROLES, perm_name)


class AccessError(ValueError):
    """A grant or revocation that cannot be done as asked; the message says why."""


def _permissions(codenames):
    wanted = set(codenames)
    found = list(Permission.objects.filter(content_type__app_label="access", codename__in=wanted))
    missing = wanted - {p.codename for p in found}
    if missing:
        raise AccessError(f"Permissions missing (run migrations first): {', '.join(sorted(missing))}")
    return found


@transaction.atomic
def bootstrap_roles():
    """Create or repair the role groups; idempotent. Returns the names it created."""
    created = []
    for role, codenames in ROLES.items():
        group, was_created = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(codenames))
        if was_created:
            created.append(role)
    if created:
        audit.record(audit_actions.ROLES_BOOTSTRAP, actor=None, target="roles", detail={"created": created})
    return created


def _role_group(role):
    if role not in ROLES:
        raise AccessError(f"Unknown role {role!r}; roles are: {', '.join(ROLES)}")
    try:
        return Group.objects.get(name=role)
    except Group.DoesNotExist:
        raise AccessError("Roles are not set up; run `python manage.py bootstrap_roles`.") from None


def _sync_object_perms(user, queue):
    """Make the user's guardian permissions on `queue` exactly those its grants imply."""
    roles = QueueGrant.objects.filter(user=user, queue=queue).values_list("role", flat=True)
    wanted = {c for r in roles for c in QUEUE_ROLES[r]}
    held = set(get_perms(user, queue)) & set(QUEUE_PERMISSION_CODENAMES)
    for codename in wanted - held:
        assign_perm(perm_name(codename), user, queue)
    for codename in held - wanted:
        remove_perm(perm_name(codename), user, queue)


def _user_target(user):
    return f"user:{user.get_username()}"


def _audit(action, user, actor, request, **detail):
    audit.record(action, request=request, actor=actor, target=_user_target(user),
                 detail={"user": user.get_username(), "user_id": user.pk, **detail})


@transaction.atomic
def grant(user, role, *, queues=(), all_queues=False, actor=None, request=None):
    """Give `user` `role`: on the named queues, or on every queue / globally."""
    group = _role_group(role)
    if role in QUEUE_ROLES and not all_queues and not queues:
        raise AccessError(f"{role} is a per-queue role: name queues or choose all queues.")
    if role not in QUEUE_ROLES and queues:
        raise AccessError(f"{role} is a global role; it cannot be limited to queues.")
    if all_queues or role not in QUEUE_ROLES:
        user.groups.add(group)
        _audit(audit_actions.GRANT, user, actor, request, role=role,
               scope="all queues" if role in QUEUE_ROLES else "global")
        return
    for name in queues:
        queue = registry.ensure(name)
        QueueGrant.objects.get_or_create(user=user, role=role, queue=queue, defaults={"granted_by": actor})
        _sync_object_perms(user, queue)
    _audit(audit_actions.GRANT, user, actor, request, role=role, scope="queues",
           queues=sorted({qnames.display(q) for q in queues}))


@transaction.atomic
def revoke(user, role, *, queues=(), actor=None, request=None):
    """Take `role` from `user` on the named queues, or everywhere when none are named."""
    group = _role_group(role)
    if queues:
        if role not in QUEUE_ROLES:
            raise AccessError(f"{role} is a global role; it cannot be limited to queues.")
        # By name, or by the label a page showed (the users page posts labels back).
        targets = list(Queue.objects.filter(Q(key__in=[qnames.key(n) for n in queues]) | Q(label__in=queues)))
    else:
        user.groups.remove(group)
        targets = list(Queue.objects.filter(grants__user=user, grants__role=role).distinct())
    QueueGrant.objects.filter(user=user, role=role, queue__in=targets).delete()
    for queue in targets:
        _sync_object_perms(user, queue)
    _audit(audit_actions.REVOKE, user, actor, request, role=role,
           scope="queues" if queues else "everywhere", queues=sorted(q.label for q in targets))


def _bump_epoch(user):
    epoch, _ = SessionEpoch.objects.get_or_create(user=user)
    SessionEpoch.objects.filter(pk=epoch.pk).update(epoch=F("epoch") + 1)


@transaction.atomic
def end_sessions(user, actor=None, request=None):
    """End every session of `user` (they must sign in again)."""
    _bump_epoch(user)
    _audit(audit_actions.END_SESSIONS, user, actor, request)


def current_epoch(user):
    return SessionEpoch.objects.filter(user=user).values_list("epoch", flat=True).first() or 0


@transaction.atomic
def set_active(user, active, actor=None, request=None):
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        _bump_epoch(user)  # part of the deactivation, audited with it
    _audit(audit_actions.ACTIVATE if active else audit_actions.DEACTIVATE, user, actor, request,
           sessions_ended=not active)


def roles_of(user):
    """{role: ["*"] or [queue names]} for display."""
    result = {g: ["*"] for g in user.groups.filter(name__in=ROLES).values_list("name", flat=True)}
    for role, queue in QueueGrant.objects.filter(user=user).values_list("role", "queue__label"):
        if result.get(role) != ["*"]:
            result.setdefault(role, []).append(queue)
    return result


__all__ = ["AccessError", "bootstrap_roles", "grant", "revoke", "end_sessions", "current_epoch", "set_active",
           "roles_of", "GLOBAL_PERMISSION_CODENAMES"]
