"""Sign-in through the real login form, lockout, second factor and session limits."""

import base64

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from dlqadmin.accounts import sessions
from tests.conftest import PASSWORD, make_user, sign_in

pytestmark = pytest.mark.django_db


def post_login(client, username, password=PASSWORD):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR="10.0.0.7")


def wait_out_throttle(device):
    # django-otp makes the next try wait after a wrong code; pretend that time passed.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    device.refresh_from_db()


def code_for(device, offset=0):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def test_login_and_logout(client, staff):
    assert post_login(client, "staff").status_code == 302
    assert client.get("/account/").status_code == 200
    assert client.get("/logout/").status_code == 405  # no state change on GET
    client.post("/logout/")
    assert client.get("/account/").status_code == 302


def test_wrong_password_says_so(client, staff):
    response = post_login(client, "staff", "nope")
    assert response.status_code == 200 and "correct username and password" in response.content.decode()


def test_lockout_after_repeated_failures(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert post_login(client, "staff", "wrong").status_code == 200
    locked = post_login(client, "staff", "wrong")
    assert locked.status_code == 429
    assert "Sign-in temporarily locked" in locked.content.decode()
    assert "Try again in 15 minutes." in locked.content.decode() and "PT15M" not in locked.content.decode()
    # Even the right password is refused while locked, with the same clear page.
    again = post_login(client, "staff")
    assert again.status_code == 429 and "Too many failed sign-in attempts" in again.content.decode()
    assert "Access-Control-Allow-Origin" not in locked


def test_mfa_enrolment_is_forced_for_payload_viewers(client, roles):
    user = make_user("pv", ("payload_viewer", ["payments"]))
    post_login(client, "pv")
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/account/mfa/setup/")
    assert client.get("/api/v1/queues").status_code == 403
    page = client.get("/account/mfa/setup/")
    assert "Your role can reveal payloads" in page.content.decode()
    # No GET writes: the key being enrolled is kept in the session, not in a device row.
    assert not TOTPDevice.objects.filter(user=user).exists()
    again = client.get("/account/mfa/setup/").content.decode()
    secret = page.content.decode().split('id="totp-secret">')[1].split("<")[0]
    assert secret in again and not TOTPDevice.objects.exists()
    bad = client.post("/account/mfa/setup/", {"token": "000000"})
    assert "not valid" in bad.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert base64.b32encode(device.bin_key).decode() == secret.replace(" ", "")
    throttled = client.post("/account/mfa/setup/", {"token": code_for(device)})
    assert "Too many wrong codes" in throttled.content.decode()
    wait_out_throttle(device)
    ok = client.post("/account/mfa/setup/", {"token": code_for(device)})
    assert ok.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/").status_code == 200


def test_enrolled_users_must_enter_a_code_at_sign_in(client, roles):
    user = make_user("adm", ("admin",))
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    post_login(client, "adm")
    response = client.get("/access/")
    assert response.status_code == 302 and response["Location"].startswith("/account/mfa/verify/")
    assert "not valid" in client.post("/account/mfa/verify/", {"token": "123456"}).content.decode()
    wait_out_throttle(device)
    ok = client.post("/account/mfa/verify/", {"token": code_for(device), "next": "/access/"})
    assert ok.status_code == 302 and ok["Location"] == "/access/"
    assert client.get("/access/").status_code == 200


def test_viewers_need_no_second_factor(client, staff):
    post_login(client, "staff")
    assert client.get("/").status_code == 200


def test_mfa_requirement_can_be_switched_off(client, roles, settings):
    settings.DLQADMIN_REQUIRE_MFA = False
    make_user("pv", ("payload_viewer", ["payments"]))
    post_login(client, "pv")
    assert client.get("/account/").status_code == 200


def _age_session(client, **changes):
    session = client.session
    for key, delta in changes.items():
        session[key] = session[key] - delta
    session.save()


def test_idle_timeout(client, staff, settings):
    post_login(client, "staff")
    _age_session(client, **{sessions.SEEN_AT: settings.DLQADMIN_SESSION_IDLE_SECONDS + 5})
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/account/").status_code == 302


def test_polling_does_not_keep_a_session_alive(client, staff, golden, settings):
    post_login(client, "staff")
    _age_session(client, **{sessions.SEEN_AT: settings.DLQADMIN_SESSION_IDLE_SECONDS - 120})
    before = client.session[sessions.SEEN_AT]
    client.get("/", headers={"HX-Request": "true", "X-DLQ-Poll": "1"})
    assert client.session[sessions.SEEN_AT] == before
    client.get("/")
    assert client.session[sessions.SEEN_AT] > before


def test_absolute_lifetime(client, staff, settings):
    post_login(client, "staff")
    _age_session(client, **{sessions.AUTH_AT: settings.DLQADMIN_SESSION_MAX_AGE_SECONDS + 5})
    assert client.get("/account/").status_code == 302


def test_admin_can_end_a_users_sessions(client, roles):
    from django.test import Client

    target = make_user("target", ("viewer",))
    admin = make_user("boss", ("admin",))
    victim = Client()
    sign_in(victim, target)
    assert victim.get("/account/").status_code == 200
    boss = sign_in(client, admin)
    assert boss.post("/access/target/end-sessions/").status_code == 302
    assert victim.get("/account/").status_code == 302
    # They can sign in again.
    assert post_login(victim, "target").status_code == 302


def test_deactivation_takes_effect_on_the_next_request(client, roles):
    from django.test import Client

    target = make_user("target", ("viewer",))
    other = Client()
    sign_in(other, target)
    assert other.get("/account/").status_code == 200
    sign_in(client, make_user("boss", ("admin",))).post("/access/target/toggle-active/")
    assert other.get("/account/").status_code == 302
    from dlqadmin.api.models import ApiToken

    _, raw = ApiToken.issue(target)
    assert Client().get("/api/v1/queues", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_session_clock_is_started_at_login(client, staff, clock):
    post_login(client, "staff")
    assert client.session[sessions.AUTH_AT] == int(clock.timestamp())
