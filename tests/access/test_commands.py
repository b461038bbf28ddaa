"""bootstrap_roles, grant and revoke from the command line."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from dlqadmin.access.models import QueueGrant
from dlqadmin.access.roles import ROLES
from dlqadmin.access.services import roles_of

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_bootstrap_roles_is_idempotent():
    first = run("bootstrap_roles")
    assert all(f"{role}" in first for role in ROLES) and "created" in first
    second = run("bootstrap_roles")
    assert "created" not in second
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    admin = Group.objects.get(name="admin")
    assert {"view_queue", "operate_queue", "reveal_queue", "manage_access", "view_audit",
            "manage_policies"} <= set(admin.permissions.values_list("codename", flat=True))


def test_grant_with_create_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DLQADMIN_PASSWORD", "a-long-enough-password")
    out = run("grant", "carol", "operator", "--queue", "payments", "--queue", "a:b/c", "--create")
    assert "Created user carol" in out
    carol = get_user_model().objects.get(username="carol")
    assert carol.check_password("a-long-enough-password")
    assert roles_of(carol) == {"operator": ["a:b/c", "payments"]}


def test_queue_takes_several_names_or_repeats(django_user_model):
    user = django_user_model.objects.create_user("gina")
    run("grant", "gina", "viewer", "--queue", "a", "b", "--queue", "c")
    assert roles_of(user) == {"viewer": ["a", "b", "c"]}
    run("revoke", "gina", "viewer", "--queue", "a", "c")
    assert roles_of(user) == {"viewer": ["b"]}


def test_grant_create_without_password_fails_clearly(monkeypatch):
    monkeypatch.delenv("DLQADMIN_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="DLQADMIN_PASSWORD"):
        run("grant", "dave", "viewer", "--all-queues", "--create")
    assert not get_user_model().objects.filter(username="dave").exists()


def test_grant_all_queues_and_global_roles(django_user_model):
    user = django_user_model.objects.create_user("erin")
    run("grant", "erin", "viewer", "--all-queues")
    run("grant", "erin", "auditor")
    assert roles_of(user) == {"viewer": ["*"], "auditor": ["*"]}
    with pytest.raises(CommandError, match="per-queue role"):
        run("grant", "erin", "operator")
    with pytest.raises(CommandError, match="global role"):
        run("grant", "erin", "auditor", "--queue", "payments")
    with pytest.raises(CommandError, match="No user named"):
        run("grant", "nobody", "viewer", "--all-queues")


def test_revoke(django_user_model):
    user = django_user_model.objects.create_user("frank")
    run("grant", "frank", "payload_viewer", "--queue", "payments", "--queue", "emails")
    run("revoke", "frank", "payload_viewer", "--queue", "emails")
    assert roles_of(user) == {"payload_viewer": ["payments"]}
    run("revoke", "frank", "payload_viewer")
    assert roles_of(user) == {} and not QueueGrant.objects.filter(user=user).exists()
    assert not user.has_perm("access.reveal_queue")
