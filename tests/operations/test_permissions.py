"""The authorisation matrix of every triage action URL (UI and API), every role."""

import pytest

from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db

GRANTED, OTHER = "payments", "emails"
TASK = {GRANTED: "15303193-7c55-5fd5-9213-8771deaccdac", OTHER: "a729f0e0-085b-55e0-8a1a-2969aa9f3a58"}
ROLES = ["viewer", "operator", "payload_viewer", "policy_admin", "auditor", "admin"]


@pytest.fixture
def cast(roles):
    return {role: make_user(f"p_{role}", (role, [GRANTED]) if role in ("viewer", "operator", "payload_viewer")
                            else (role,)) for role in ROLES}


def urls(queue, api):
    t = f"queues/{queue}/tasks/{TASK[queue]}/"
    base = "/api/v1/" if api else "/"
    body = {"run": {"state": "archived"}, "batch": {"action": "run", "state": "archived", "ids": [TASK[queue]]},
            "bulk": {"action": "run", "state": "archived"}, "edit": {"payload": "{}", "reason": "a long reason"}}
    return {
        "run": (base + t + "run", body["run"]),
        "retry-fresh": (base + t + "retry-fresh", body["run"]),
        "archive": (base + t + "archive", {}),
        "delete": (base + t + "delete", body["run"]),
        "edit": (base + t + "edit", body["edit"]),
        "cancel": (base + t + "cancel", {}),
        "batch": (base + f"queues/{queue}/batch", body["batch"]),
        "bulk": (base + f"queues/{queue}/bulk", body["bulk"]),
        "pause": (base + f"queues/{queue}/pause", {}),
        "resume": (base + f"queues/{queue}/resume", {}),
    }


def expected(role, queue, key):
    sees = role == "admin" or (queue == GRANTED and role in ("viewer", "operator", "payload_viewer"))
    if not sees:
        return 404
    if role in ("viewer", "payload_viewer"):
        return 403
    if key == "edit" and role == "operator":
        return 403  # needs reveal too
    return "ok"


def status_class(response):
    code = response.status_code
    if code == 404 and response.get("Content-Type") == "application/json" and "outcome" in response.json():
        return "ok"  # the action ran and reports the task gone (deleted earlier in this walk)
    return "ok" if code < 400 or code in (409, 400) else code


@pytest.mark.parametrize("api", [False, True], ids=["ui", "api"])
@pytest.mark.parametrize("role", [None, *ROLES])
def test_action_matrix(client, golden, cast, role, api):
    if role:
        sign_in(client, cast[role])
    got, want = {}, {}
    for queue in (GRANTED, OTHER):
        for key, (url, body) in urls(queue, api).items():
            if api:
                response = client.post(url, body, content_type="application/json")
            else:
                response = client.post(url, body)
            got[(queue, key)] = status_class(response)
            if role is None:
                want[(queue, key)] = 401 if api else "ok"  # ui: 302 to the login page
            else:
                want[(queue, key)] = expected(role, queue, key)
            if role is None and not api:
                assert response["Location"].startswith("/login/")
    assert got == want
    from dlqadmin.audit.models import AuditEvent

    if role in ("viewer", "payload_viewer"):  # visible, no right: audited as denied
        assert AuditEvent.objects.filter(outcome="denied", queue=GRANTED, actor_name=f"p_{role}").count() >= 10
