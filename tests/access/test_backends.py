"""RoleBackend answers as Django's ModelBackend does, in one query, fresh on each request."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dlqadmin.access.backends import RoleBackend
from dlqadmin.access.services import grant, revoke
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # a new request's user object


def test_same_permissions_as_model_backend(roles):
    User = get_user_model()
    admin = make_user("adm", ("admin",))
    viewer = make_user("vw", ("viewer",))
    auditor = make_user("aud", ("auditor",))
    direct = make_user("direct")
    direct.user_permissions.add(Permission.objects.get(codename="view_audit"))
    nobody = make_user("nobody")
    root = User.objects.create_superuser("root", "root@example.org", "x")
    gone = make_user("gone", ("admin",))
    gone.is_active = False
    gone.save()
    for user in (admin, viewer, auditor, direct, nobody, root, gone):
        expected = ModelBackend().get_all_permissions(fresh(user))
        assert RoleBackend().get_all_permissions(fresh(user)) == expected, user.username
        for perm in ("access.view_queue", "access.view_audit", "access.manage_access"):
            assert RoleBackend().has_perm(fresh(user), perm) == ModelBackend().has_perm(fresh(user), perm)
    assert "access.view_audit" in RoleBackend().get_all_permissions(fresh(direct))
    assert RoleBackend().get_all_permissions(fresh(admin), obj=object()) == set()


def test_one_query_per_request_and_a_revocation_applies_on_the_next(roles):
    user = make_user("op", ("operator",))
    request_user = fresh(user)
    with CaptureQueriesContext(connection) as queries:
        assert request_user.has_perm("access.operate_queue")
        assert request_user.has_perm("access.view_queue")
        assert not request_user.has_perm("access.view_audit")
    assert len([q for q in queries if "auth_permission" in q["sql"]]) == 1
    revoke(user, "operator")
    assert not fresh(user).has_perm("access.operate_queue")
    grant(user, "auditor")
    assert fresh(user).has_perm("access.view_audit")


def test_signed_in_pages_use_it(client, roles, asynq_redis):
    user = make_user("reader", ("viewer",))
    sign_in(client, user, verified=False)
    assert client.get("/").status_code == 200
    assert client.session["_auth_user_backend"] in ("dlqadmin.access.backends.RoleBackend",
                                                    "axes.backends.AxesStandaloneBackend")


def test_users_loaded_with_their_permissions_need_no_query_of_their_own(roles):
    from dlqadmin.api.models import ApiToken
    from dlqadmin.api.auth import _token_user
    from django.test import RequestFactory

    root = get_user_model().objects.create_superuser("root", "root@example.org", "x")
    for user in (make_user("op", ("operator",)), make_user("aud", ("auditor",)), make_user("none"), root):
        expected = ModelBackend().get_all_permissions(fresh(user))
        loaded = RoleBackend().get_user(user.pk)
        with CaptureQueriesContext(connection) as queries:
            assert RoleBackend().get_all_permissions(loaded) == expected
        assert len(queries) == (1 if user.is_superuser else 0)
        raw = ApiToken.issue(user, name="t")[1]
        token_user, _ = _token_user(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {raw}"), ())
        assert token_user.pk == user.pk and token_user.get_all_permissions() == expected
    gone = make_user("gone", ("viewer",))
    gone.is_active = False
    gone.save()
    assert RoleBackend().get_user(gone.pk) is None and RoleBackend().get_user(10**9) is None


def test_object_permissions_as_guardian(roles):
    """may() reads queue grants in one query; the answers are guardian's, fresh per request."""
    from guardian.core import ObjectPermissionChecker

    from dlqadmin.access import registry
    from dlqadmin.access.backends import object_permissions
    from dlqadmin.access.checks import may

    payments, emails = registry.ensure("payments"), registry.ensure("emails")
    users = [make_user("op", ("operator", ["payments"])), make_user("pv", ("payload_viewer", ["emails"])),
             make_user("vw", ("viewer", ["payments", "emails"])), make_user("none"),
             make_user("all", ("operator",))]
    for user in users:
        for queue in (payments, emails):
            want = set(ObjectPermissionChecker(fresh(user)).get_perms(queue))
            assert object_permissions(fresh(user), queue) == want, (user.username, queue.name)
    op = fresh(users[0])
    assert may(op, "operate_queue", payments) and not may(op, "operate_queue", emails)
    with CaptureQueriesContext(connection) as queries:
        may(op, "reveal_queue", payments), may(op, "view_queue", payments)
    assert len(queries) == 0  # the first check read them for this request
    revoke(users[0], "operator", queues=["payments"])
    assert not may(fresh(users[0]), "operate_queue", payments)  # the next request sees it


def test_session_user_comes_with_what_every_page_asks(roles, client):
    """The session's user is loaded with its epoch, preferences and whether it has a
    confirmed device: each answer is the same as the query it replaces, and a change
    shows on the next request."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from dlqadmin.access.services import current_epoch, end_sessions
    from dlqadmin.accounts import mfa
    from dlqadmin.accounts.models import Preferences
    from dlqadmin.accounts.selectors import default_ui, preferences

    user = make_user("vw", ("viewer",))
    loaded = RoleBackend().get_user(user.pk)
    assert loaded.dlq_epoch is None and current_epoch(loaded) == current_epoch(fresh(user)) == 0
    assert preferences(loaded) == default_ui() and loaded.dlq_has_device is False
    with CaptureQueriesContext(connection) as queries:
        current_epoch(loaded), preferences(loaded), mfa.confirmed_device(loaded)
    assert len(queries) == 0

    end_sessions(user)
    Preferences.objects.create(user=user, theme="dark", refresh_seconds=15)
    device = TOTPDevice.objects.create(user=user, name="x", confirmed=True)
    loaded = RoleBackend().get_user(user.pk)
    assert current_epoch(loaded) == current_epoch(fresh(user)) == 1
    assert preferences(loaded) == preferences(fresh(user)) and preferences(loaded).theme == "dark"
    assert mfa.confirmed_device(loaded) == device
