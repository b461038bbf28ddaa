"""Every event that exists today lands in the log, with actor, address, agent and request id."""

import json

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from dlqadmin.accounts import sessions
from dlqadmin.accounts.mfa import SETUP_KEY
from dlqadmin.audit.models import AuditEvent
from tests.audit.conftest import events, last
from tests.conftest import PASSWORD, make_user, sign_in

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64) AuditTest/1.0"
IP = "198.51.100.23"


def login(client, username, password=PASSWORD, rid="req-login-1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=IP,
                       HTTP_USER_AGENT=UA, headers={"X-Request-ID": rid})


def assert_context(event, *, rid, actor):
    assert event is not None
    assert (event.actor_name, event.ip, event.user_agent, event.request_id) == (actor, IP, UA, rid)


def all_rows_text():
    return json.dumps([list(r) for r in AuditEvent.objects.values_list()], default=str)


def test_login_and_logout(client, staff):
    assert login(client, "staff").status_code == 302
    event = last("login")
    assert_context(event, rid="req-login-1", actor="staff")
    assert event.actor_id == staff.pk and event.outcome == "success" and event.target == "user:staff"
    client.post("/logout/", REMOTE_ADDR=IP, HTTP_USER_AGENT=UA, headers={"X-Request-ID": "req-out"})
    out = last("logout")
    assert_context(out, rid="req-out", actor="staff")
    assert out.detail == {"cause": "signed out"}


def test_session_expiry_is_audited_as_a_logout_with_its_cause(client, staff, settings):
    login(client, "staff")
    session = client.session
    session[sessions.SEEN_AT] -= settings.DLQADMIN_SESSION_IDLE_SECONDS + 5
    session.save()
    client.get("/account/")
    assert "inactivity" in last("logout").detail["cause"]


def test_failed_login_for_a_known_user(client, staff):
    login(client, "staff", "wrong-password", rid="req-bad")
    event = last("login.failed")
    assert_context(event, rid="req-bad", actor="anonymous")
    assert event.outcome == "failed" and event.target == "user:staff"
    assert event.detail == {"user_id": staff.pk, "locked_out": False}
    assert "wrong-password" not in all_rows_text()


def test_failed_login_for_an_unknown_name_keeps_only_a_keyed_hash(client, db):
    # People type passwords into the user name box: an unknown name is not stored.
    login(client, "Tr0ub4dor&3-oops", "x")
    event = last("login.failed")
    assert event.target == "unknown user" and event.detail["username"]["omitted"] is True
    assert "Tr0ub4dor" not in all_rows_text()


def test_lockout(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = login(client, "staff", "wrong")
    assert response.status_code == 429
    lock = last("login.lockout")
    assert_context(lock, rid="req-login-1", actor="anonymous")
    assert lock.outcome == "denied" and lock.target == "user:staff"
    assert lock.detail["failures"] == settings.AXES_FAILURE_LIMIT
    assert len(events(action="login.failed")) == settings.AXES_FAILURE_LIMIT
    assert last("login.failed").detail["locked_out"] is True


def _code(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_mfa_enrolment_and_verification(client, roles):
    user = make_user("pv", ("payload_viewer", ["payments"]))
    login(client, "pv")
    client.get("/account/mfa/setup/")
    shown = TOTPDevice(user=user, key=client.session[SETUP_KEY])  # the key the page shows (not saved yet)
    client.post("/account/mfa/setup/", {"token": _code(shown)}, REMOTE_ADDR=IP, HTTP_USER_AGENT=UA,
                headers={"X-Request-ID": "req-enrol"})
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    enrol = last("mfa.enrol")
    assert_context(enrol, rid="req-enrol", actor="pv")
    assert enrol.detail == {"device_id": device.pk, "kind": "totp"}
    # Next sign-in: a wrong code, then the right one.
    client.post("/logout/")
    login(client, "pv")
    assert last("login").detail == {"second_factor": "pending"}
    client.post("/account/mfa/verify/", {"token": "000000"})
    assert last("login.mfa").outcome == "failed"
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, last_t=-1)
    device.refresh_from_db()
    assert client.post("/account/mfa/verify/", {"token": _code(device)}).status_code == 302
    assert last("login.mfa").outcome == "success"


def test_token_creation_and_revocation_never_store_the_token(db, capsys):
    make_user("svc")
    call_command("create_api_token", "svc", "--name", "ci")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    created = last("token.create")
    assert created.actor_name == "system" and created.target == f"token:{raw[:12]}"
    assert created.detail["hint"] == raw[:12] and created.detail["user"] == "svc"
    assert created.detail["via"] == "manage.py create_api_token"
    call_command("revoke_api_token", raw[:12])
    revoked = last("token.revoke")
    assert revoked.target == f"token:{raw[:12]}"
    assert raw not in all_rows_text() and raw[12:] not in all_rows_text()


def test_token_revocation_in_the_admin(client, roles):
    from dlqadmin.api.models import ApiToken

    boss = make_user("boss", ("admin",))
    boss.is_staff = boss.is_superuser = True
    boss.save()
    token, raw = ApiToken.issue(make_user("svc"))
    sign_in(client, boss)
    response = client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]},
                           REMOTE_ADDR=IP, HTTP_USER_AGENT=UA, headers={"X-Request-ID": "req-admin"})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    revoked = last("token.revoke")
    assert_context(revoked, rid="req-admin", actor="boss")
    assert revoked.detail["via"] == "admin" and raw not in all_rows_text()


def test_users_page_changes_are_audited(client, roles):
    from dlqadmin.access import registry

    registry.ensure("payments"), registry.ensure("emails")
    admin = make_user("adm", ("admin",))
    carol = make_user("carol")
    sign_in(client, admin)
    kw = {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": UA}
    response = client.post("/access/", {"user": "carol", "role": "viewer", "queues": ["payments", "emails"]},
                           headers={"X-Request-ID": "r1"}, **kw)
    assert response.status_code == 302
    granted = last("access.grant")
    assert_context(granted, rid="r1", actor="adm")
    assert granted.target == "user:carol"
    assert granted.detail == {"user": "carol", "user_id": carol.pk, "role": "viewer", "scope": "queues",
                              "queues": ["emails", "payments"]}
    client.post("/access/carol/revoke/", {"role": "viewer", "queue": "emails"}, headers={"X-Request-ID": "r2"}, **kw)
    revoked = last("access.revoke")
    assert_context(revoked, rid="r2", actor="adm")
    assert revoked.detail["queues"] == ["emails"] and revoked.detail["role"] == "viewer"
    client.post("/access/carol/end-sessions/", headers={"X-Request-ID": "r3"}, **kw)
    assert_context(last("access.end_sessions"), rid="r3", actor="adm")
    client.post("/access/carol/toggle-active/", headers={"X-Request-ID": "r4"}, **kw)
    off = last("access.deactivate")
    assert_context(off, rid="r4", actor="adm")
    assert off.detail["sessions_ended"] is True
    client.post("/access/carol/toggle-active/", headers={"X-Request-ID": "r5"}, **kw)
    assert_context(last("access.activate"), rid="r5", actor="adm")


def test_grants_from_the_command_line_are_audited_as_system(db):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("dave")
    call_command("grant", "dave", "auditor")
    event = last("access.grant")
    assert event.actor_name == "system" and event.detail["role"] == "auditor"
    assert last("access.bootstrap_roles").detail["created"]


def test_denied_global_page(client, staff):
    sign_in(client, staff)
    assert client.get("/access/", REMOTE_ADDR=IP, HTTP_USER_AGENT=UA,
                      headers={"X-Request-ID": "req-deny"}).status_code == 403
    denied = last("access.denied")
    assert_context(denied, rid="req-deny", actor="staff")
    assert denied.outcome == "denied" and denied.detail == {"permission": "manage_access", "method": "GET",
                                                            "path": "/access/"}


def test_denied_queue_is_recorded_but_still_answers_404(client, golden, roles):
    viewer = make_user("vic", ("viewer", ["payments"]))
    sign_in(client, viewer)
    assert client.get("/queues/emails/", REMOTE_ADDR=IP, HTTP_USER_AGENT=UA,
                      headers={"X-Request-ID": "req-q"}).status_code == 404
    denied = last("access.denied")
    assert_context(denied, rid="req-q", actor="vic")
    assert denied.queue == "emails" and denied.detail["permission"] == "view_queue"
    # A queue that does not exist is plain not-found: nothing recorded.
    before = AuditEvent.objects.count()
    assert client.get("/queues/no-such-queue/").status_code == 404
    assert client.get("/api/v1/queues/no-such-queue/").status_code == 404
    assert AuditEvent.objects.count() == before
    # The API answers the same 404 and records the same denial.
    assert client.get("/api/v1/queues/emails/").status_code == 404
    assert last("access.denied").seq == before + 1
