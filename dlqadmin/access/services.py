"""Writes to access state: roles, grants, sessions. Every change goes through here.

Each change is audited inside its own transaction: if the audit row cannot be written
(AuditWriteError), the change is rolled back. `actor` is who made the change (None for
management commands and set-up code: recorded as "system"); `request` adds the
request id, address and user agent.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import F, Q
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from dlqadmin import audit
from dlqadmin.audit import actions as audit_actions
from dlqadmin.core import names as qnames
from dlqadmin.core.prepared import Prepared

from . import registry
from .backends import forget, loaded
from .models import MANUAL, SSO, GroupRoleRule, Queue, QueueGrant, SessionEpoch
from .roles import (GLOBAL_PERMISSION_CODENAMES, QUEUE_PERMISSION_CODENAMES, QUEUE_ROLES, ROLES, SSO_GROUP_PREFIX,
                    perm_name, sso_group_name)

# Audit action names of single sign-on's role mapping (the audit log takes any name).
SSO_MAPPING = "access.sso_mapping"
SSO_SYNC = "access.sso_sync"


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
        for name in (role, sso_group_name(role)):
            group, was_created = Group.objects.get_or_create(name=name)
            group.permissions.set(_permissions(codenames))
            if was_created:
                created.append(name)
    if created:
        audit.record(audit_actions.ROLES_BOOTSTRAP, actor=None, target="roles", detail={"created": created})
    return created


def _role_group(role, *, sso=False):
    if role not in ROLES:
        raise AccessError(f"Unknown role {role!r}; roles are: {', '.join(ROLES)}")
    try:
        return Group.objects.get(name=sso_group_name(role) if sso else role)
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
        QueueGrant.objects.get_or_create(user=user, role=role, queue=queue, source=MANUAL,
                                         defaults={"granted_by": actor})
        _sync_object_perms(user, queue)
    _audit(audit_actions.GRANT, user, actor, request, role=role, scope="queues",
           queues=sorted({qnames.display(q) for q in queues}))


@transaction.atomic
def revoke(user, role, *, queues=(), actor=None, request=None):
    """Take `role` from `user` on the named queues, or everywhere when none are named.
    Only grants given by hand: SSO-derived ones follow the user's groups at sign-in."""
    group = _role_group(role)
    if queues:
        if role not in QUEUE_ROLES:
            raise AccessError(f"{role} is a global role; it cannot be limited to queues.")
        # By name, or by the label a page showed (the users page posts labels back).
        targets = list(Queue.objects.filter(Q(key__in=[qnames.key(n) for n in queues]) | Q(label__in=queues)))
    else:
        user.groups.remove(group)
        targets = list(Queue.objects.filter(grants__user=user, grants__role=role, grants__source=MANUAL).distinct())
    QueueGrant.objects.filter(user=user, role=role, queue__in=targets, source=MANUAL).delete()
    for queue in targets:
        _sync_object_perms(user, queue)
    _audit(audit_actions.REVOKE, user, actor, request, role=role,
           scope="queues" if queues else "everywhere", queues=sorted(q.label for q in targets))


def _bump_epoch(user):
    epoch, _ = SessionEpoch.objects.get_or_create(user=user)
    SessionEpoch.objects.filter(pk=epoch.pk).update(epoch=F("epoch") + 1)
    forget(user, "dlq_epoch")  # as loaded with the session's user


@transaction.atomic
def end_sessions(user, actor=None, request=None):
    """End every session of `user` (they must sign in again)."""
    _bump_epoch(user)
    _audit(audit_actions.END_SESSIONS, user, actor, request)


_UNLOADED = object()

# Asked on every signed-in request (sessions an admin ended): compiled once per process.
_EPOCH = Prepared(lambda user_id: SessionEpoch.objects.filter(user_id=user_id).order_by("id")
                  .values_list("epoch", flat=True)[:1], -1_897_345_216)


def current_epoch(user):
    epoch = loaded(user, "dlq_epoch", _UNLOADED)  # loaded with the session's user (backends.py)
    if epoch is not _UNLOADED:
        return epoch or 0
    return _EPOCH.first(user.pk) or 0


@transaction.atomic
def set_active(user, active, actor=None, request=None):
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        _bump_epoch(user)  # part of the deactivation, audited with it
    _audit(audit_actions.ACTIVATE if active else audit_actions.DEACTIVATE, user, actor, request,
           sessions_ended=not active)


def roles_of(user):
    """{role: ["*"] or [queue names]}, given by hand or by SSO, for display and MFA rules."""
    names = set(ROLES) | {sso_group_name(r) for r in ROLES}
    result = {g.removeprefix(SSO_GROUP_PREFIX): ["*"]
              for g in user.groups.filter(name__in=names).values_list("name", flat=True)}
    for role, queue in QueueGrant.objects.filter(user=user).values_list("role", "queue__label").distinct():
        if result.get(role) != ["*"] and queue not in result.get(role, []):
            result.setdefault(role, []).append(queue)
    return result


# --- Single sign-on: roles from the identity provider's groups ---------------------

def _rule_rows(group):
    return sorted(f"{role} on {queue or ('all queues' if role in QUEUE_ROLES else 'global')}"
                  for role, queue in GroupRoleRule.objects.filter(group=group).values_list("role", "queue__label"))


@transaction.atomic
def add_group_rule(group, role, *, queues=(), all_queues=False, actor=None, request=None):
    """Members of IdP group `group` get `role` (on `queues`, every queue, or globally)
    from their next sign-in on. Audited with the group's rules before and after."""
    group = (group or "").strip()
    if not group or len(group) > 256:
        raise AccessError("Name the identity provider's group (at most 256 characters).")
    _role_group(role, sso=True)
    if role in QUEUE_ROLES and not all_queues and not queues:
        raise AccessError(f"{role} is a per-queue role: name queues or choose all queues.")
    if role not in QUEUE_ROLES and queues:
        raise AccessError(f"{role} is a global role; it cannot be limited to queues.")
    before = _rule_rows(group)
    targets = [None] if all_queues or role not in QUEUE_ROLES else [registry.ensure(n) for n in queues]
    for queue in targets:
        GroupRoleRule.objects.get_or_create(group=group, role=role, queue=queue, defaults={"created_by": actor})
    audit.record(SSO_MAPPING, request=request, actor=actor, target=f"group:{group}",
                 detail={"group": group, "before": before, "after": _rule_rows(group)})


@transaction.atomic
def remove_group_rule(rule_id, *, actor=None, request=None):
    rule = GroupRoleRule.objects.select_for_update(of=("self",)).filter(pk=rule_id).first()
    if rule is None:
        raise AccessError("That mapping rule no longer exists.")
    before = _rule_rows(rule.group)
    rule.delete()
    audit.record(SSO_MAPPING, request=request, actor=actor, target=f"group:{rule.group}",
                 detail={"group": rule.group, "before": before, "after": _rule_rows(rule.group)})


def roles_for_groups(groups):
    """{(role, queue name or None)} the mapping rules give members of `groups`."""
    return {(role, None if raw is None else qnames.from_raw(raw)) for role, raw in
            GroupRoleRule.objects.filter(group__in=list(groups)).values_list("role", "queue__raw")}


def groups_granting_access():
    """The IdP groups some rule maps to a role (shown to users who have none)."""
    return sorted(set(GroupRoleRule.objects.values_list("group", flat=True)))


def _sso_held(user):
    held = {(name.removeprefix(SSO_GROUP_PREFIX), None) for name in
            user.groups.filter(name__startswith=SSO_GROUP_PREFIX).values_list("name", flat=True)}
    held |= {(role, qnames.from_raw(raw)) for role, raw in
             QueueGrant.objects.filter(user=user, source=SSO).values_list("role", "queue__raw")}
    return held


def _label(entry):
    role, queue = entry
    return f"{role} on {queue or ('all queues' if role in QUEUE_ROLES else 'global')}"


@transaction.atomic
def apply_sso_roles(user, groups, *, request=None):
    """Make `user`'s SSO-derived roles exactly what the rules give `groups` (at sign-in).
    Grants given by hand are left alone. Returns the derived {(role, queue or None)}."""
    wanted = roles_for_groups(groups)
    held = _sso_held(user)
    added, removed = wanted - held, held - wanted
    touched = set()
    for role, queue in added:
        if queue is None:
            user.groups.add(_role_group(role, sso=True))
        else:
            q = registry.ensure(queue)
            QueueGrant.objects.get_or_create(user=user, role=role, queue=q, source=SSO)
            touched.add(q)
    for role, queue in removed:
        if queue is None:
            user.groups.remove(_role_group(role, sso=True))
        else:
            q = registry.find(queue)
            QueueGrant.objects.filter(user=user, role=role, queue=q, source=SSO).delete()
            touched.add(q)
    for q in touched:
        _sync_object_perms(user, q)
    if added or removed:
        audit.record(SSO_SYNC, request=request, actor=user, target=_user_target(user),
                     detail={"user": user.get_username(), "user_id": user.pk, "groups": sorted(groups)[:100],
                             "added": sorted(map(_label, added)), "removed": sorted(map(_label, removed))})
    return wanted


__all__ = ["AccessError", "bootstrap_roles", "grant", "revoke", "end_sessions", "current_epoch", "set_active",
           "roles_of", "GLOBAL_PERMISSION_CODENAMES", "add_group_rule", "remove_group_rule", "apply_sso_roles",
           "roles_for_groups", "groups_granting_access", "SSO_MAPPING", "SSO_SYNC"]


CREATE_USER = "access.create_user"


@transaction.atomic
def create_user(username, password, *, email="", actor=None, request=None):
    """A local user with a password (already validated by the form) and no role yet; the
    creation is audited, never the password."""
    user = get_user_model().objects.create_user(username, email, password)
    _audit(CREATE_USER, user, actor, request, email=email)
    return user
