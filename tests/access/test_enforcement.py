"""One enforcement point: every URL declares its access rule, and the rule holds for
every role on a granted queue, another queue, and for anonymous visitors."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db

GRANTED, OTHER = "payments", "emails"
TASK = {GRANTED: "15303193-7c55-5fd5-9213-8771deaccdac", OTHER: "a729f0e0-085b-55e0-8a1a-2969aa9f3a58"}


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


# Third-party views that are not ours to decorate (Django's admin guards itself:
# staff-only, superusers in practice).
EXEMPT_PREFIXES = ("admin/",)


def test_every_view_declares_its_access_rule():
    missing, unchecked_queue_views = [], []
    for route, pattern in walk(get_resolver().url_patterns):
        if route.startswith(EXEMPT_PREFIXES):
            continue
        rule = getattr(pattern.callback, "access_rule", None)
        if rule is None:
            missing.append(route)
        elif "queue" in pattern.pattern.converters and rule[0] != "queue":
            unchecked_queue_views.append(route)
    assert not missing, f"views without an access rule: {missing}"
    assert not unchecked_queue_views, f"views taking a queue without the queue check: {unchecked_queue_views}"


# --- The authorisation matrix ---------------------------------------------------

ROLES = ["viewer", "operator", "payload_viewer", "policy_admin", "auditor", "admin"]


@pytest.fixture
def cast(roles):
    users = {}
    for role in ROLES:
        if role in ("viewer", "operator", "payload_viewer"):
            users[role] = make_user(f"u_{role}", (role, [GRANTED]))
        else:
            users[role] = make_user(f"u_{role}", (role,))
    return users


def ui_urls():
    return {
        "overview": "/",
        "servers": "/servers/",
        "scheduler": "/scheduler/",
        "account": "/account/",
        "users": "/access/",
        "audit": "/audit/",
        "audit:export": "/audit/export.csv",
        "queue:granted": f"/queues/{GRANTED}/",
        "queue:other": f"/queues/{OTHER}/",
        "task:granted": f"/queues/{GRANTED}/tasks/{TASK[GRANTED]}/",
        "task:other": f"/queues/{OTHER}/tasks/{TASK[OTHER]}/",
    }


def api_urls():
    return {
        "queues": "/api/v1/queues",
        "queue:granted": f"/api/v1/queues/{GRANTED}/",
        "queue:other": f"/api/v1/queues/{OTHER}/",
        "tasks:granted": f"/api/v1/queues/{GRANTED}/tasks",
        "tasks:other": f"/api/v1/queues/{OTHER}/tasks",
        "task:granted": f"/api/v1/queues/{GRANTED}/tasks/{TASK[GRANTED]}/",
        "task:other": f"/api/v1/queues/{OTHER}/tasks/{TASK[OTHER]}/",
        "schema": "/api/v1/openapi.json",
        "audit": "/api/v1/audit",
    }


def expected_ui(role, key):
    if role is None:
        return 302  # to the login page
    if key in ("overview", "servers", "scheduler", "account"):
        return 200
    if key == "users":
        return 200 if role == "admin" else 403
    if key.startswith("audit"):
        return 200 if role in ("auditor", "admin") else 403
    queue_role = role in ("viewer", "operator", "payload_viewer")
    if key.endswith(":granted"):
        return 200 if queue_role or role == "admin" else 404
    return 200 if role == "admin" else 404


def expected_api(role, key):
    if key == "schema":
        return 200
    if role is None:
        return 401
    if key == "queues":
        return 200
    if key == "audit":
        return 200 if role in ("auditor", "admin") else 403
    queue_role = role in ("viewer", "operator", "payload_viewer")
    if key.endswith(":granted"):
        return 200 if queue_role or role == "admin" else 404
    return 200 if role == "admin" else 404


@pytest.mark.parametrize("role", [None, *ROLES])
def test_ui_matrix(client, golden, cast, role):
    if role:
        sign_in(client, cast[role])
    got = {key: client.get(url).status_code for key, url in ui_urls().items()}
    want = {key: expected_ui(role, key) for key in ui_urls()}
    assert got == want


@pytest.mark.parametrize("role", [None, *ROLES])
def test_api_matrix(client, golden, cast, role):
    if role:
        sign_in(client, cast[role])
    got = {key: client.get(url).status_code for key, url in api_urls().items()}
    want = {key: expected_api(role, key) for key in api_urls()}
    assert got == want


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix_with_tokens(client, golden, cast, role):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from dlqadmin.api.models import ApiToken

    # Enrolled, like the signed-in matrix above (tokens of roles that require a second
    # factor are refused until their user has one: tests/api/test_token_mfa.py).
    TOTPDevice.objects.create(user=cast[role], name="phone", confirmed=True)
    _, raw = ApiToken.issue(cast[role])
    headers = {"Authorization": f"Bearer {raw}"}
    got = {key: client.get(url, headers=headers).status_code for key, url in api_urls().items()}
    assert got == {key: expected_api(role, key) for key in api_urls()}


def test_lists_and_counts_cover_only_visible_queues(client, golden, cast):
    sign_in(client, cast["viewer"])
    html = client.get("/").content.decode()
    assert f'data-queue="{GRANTED}"' in html and f'data-queue="{OTHER}"' not in html
    assert "5 dead tasks" in html and "across 1 queue" in html  # payments only
    body = client.get("/api/v1/queues").json()
    assert [q["queue"] for q in body["queues"]] == [GRANTED]


def test_new_queues_appear_granted_to_nobody(client, golden, cast):
    golden.sadd(b"asynq:queues", b"brand:new")
    sign_in(client, cast["viewer"])
    assert 'data-queue="brand:new"' not in client.get("/").content.decode()
    assert client.get("/queues/brand:new/").status_code == 404
    client.logout()
    sign_in(client, cast["admin"])
    assert 'data-queue="brand:new"' in client.get("/").content.decode()
    from dlqadmin.access.models import Queue

    assert not Queue.objects.get(label="brand:new").grants.exists()


def test_grant_and_revoke_take_effect_on_the_next_request(client, golden, cast):
    from dlqadmin.access.services import grant, revoke

    viewer = cast["viewer"]
    sign_in(client, viewer)
    assert client.get(f"/queues/{OTHER}/").status_code == 404
    grant(viewer, "viewer", queues=[OTHER])
    assert client.get(f"/queues/{OTHER}/").status_code == 200
    revoke(viewer, "viewer", queues=[OTHER])
    assert client.get(f"/queues/{OTHER}/").status_code == 404
    # Another role still holding view on the granted queue keeps it visible.
    grant(viewer, "operator", queues=[GRANTED])
    revoke(viewer, "viewer", queues=[GRANTED])
    assert client.get(f"/queues/{GRANTED}/").status_code == 200
    revoke(viewer, "operator")
    assert client.get(f"/queues/{GRANTED}/").status_code == 404


def test_users_page_reads_roles_in_constant_queries(client, roles, django_assert_max_num_queries):
    admin = make_user("boss", ("admin",))
    for i in range(15):
        make_user(f"user{i}", ("viewer", [GRANTED, OTHER]), ("auditor",))
    sign_in(client, admin)
    with django_assert_max_num_queries(25):  # the same for 16 users as for 1
        response = client.get("/access/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "viewer · emails" in html and "auditor · global" in html
