"""API tokens a security team accepts: scopes within the user's roles, expiry, last use
shown and revocation on the account page, a per-token rate limit counted in Postgres,
and every refusal of a known token audited as access.denied."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from dlqadmin.api.models import ApiToken, ApiTokenUse
from dlqadmin.audit.models import AuditEvent
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db
Q = "payments"
ARCHIVED = "15303193-7c55-5fd5-9213-8771deaccdac"


def create(*args):
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def api(raw, method, path, body=None, **extra):
    return Client().generic(method, path, body or "", content_type="application/json",
                            headers={"Authorization": f"Bearer {raw}"}, **extra)


def denials():
    return list(AuditEvent.objects.filter(action="access.denied").order_by("seq"))


@pytest.fixture
def cast(roles):
    return {"viewer": make_user("tv", ("viewer", [Q])), "operator": make_user("top", ("operator", [Q])),
            "admin": make_user("tadmin", ("admin",))}


def test_command_scope_and_expiry_token_last(cast, clock):
    lines = create("top", "--scope", "operate", "--expires-in", "7d", "--name", "ci")
    raw = lines[-1]
    token = ApiToken.objects.get(hint=raw[:12])
    assert (token.scope, token.name) == ("operate", "ci")
    assert token.expires_at == clock.now() + dt.timedelta(days=7)
    token = ApiToken.objects.get(hint=create("tv")[-1][:12])
    assert token.scope == "read" and token.expires_at == clock.now() + dt.timedelta(days=90)
    created = AuditEvent.objects.filter(action="token.create").order_by("seq").last()
    assert created.detail["scope"] == "read" and created.detail["expires_at"]
    for args, message in [(("tv", "--scope", "operate"), "may not hold a operate token"),
                          (("top", "--scope", "admin"), "may not hold a admin token"),
                          (("tv", "--expires-in", "400d"), "at most 365 days"),
                          (("tv", "--expires-in", "soon"), "90d or 12h")]:
        with pytest.raises(CommandError, match=message):
            create(*args)
    assert ApiToken.objects.count() == 2
    assert ApiToken.objects.get(hint=create("tadmin", "--scope", "admin", "--expires-in", "12h")[-1][:12]).scope == "admin"


def test_scopes_narrow_and_never_exceed_the_roles(golden, cast):
    read = ApiToken.issue(cast["operator"], scope="read")[1]
    operate = ApiToken.issue(cast["operator"], scope="operate")[1]
    run = f"/api/v1/queues/{Q}/tasks/{ARCHIVED}/run"
    assert api(read, "GET", f"/api/v1/queues/{Q}/").status_code == 200
    r = api(read, "POST", run, '{"state": "archived"}')
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    assert 'scope="operate"' in r["WWW-Authenticate"]
    (denied,) = denials()
    assert denied.actor_name == "top" and denied.outcome == "denied" and denied.detail["why"] == "scope read < operate"
    assert golden.hget(f"asynq:{{{Q}}}:t:{ARCHIVED}".encode(), b"state") == b"archived"
    assert api(operate, "POST", run, '{"state": "archived"}').status_code == 200
    r = api(operate, "DELETE", f"/api/v1/queues/{Q}/?force=true")
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    # A wide scope on a narrow user: the roles still decide.
    wide = ApiToken.issue(cast["viewer"], scope="admin")[1]
    assert api(wide, "POST", run, '{"state": "pending"}').json()["error"] == "forbidden"
    assert api(wide, "DELETE", f"/api/v1/queues/{Q}/").status_code == 403
    assert api(wide, "GET", "/api/v1/redis").status_code == 403
    # The admin scope on an admin passes the scope check (the queue is not empty: 409).
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=cast["admin"], name="phone", confirmed=True)  # required for admins
    boss = ApiToken.issue(cast["admin"], scope="admin")[1]
    assert api(boss, "DELETE", f"/api/v1/queues/{Q}/").status_code == 409


def test_expired_and_deactivated_and_revoked_are_401_and_audited(golden, cast, clock):
    token, raw = ApiToken.issue(cast["viewer"], lifetime=dt.timedelta(hours=1))
    assert api(raw, "GET", "/api/v1/queues").status_code == 200
    clock.advance(hours=1)
    r = api(raw, "GET", "/api/v1/queues")
    assert r.status_code == 401 and r.json()["error"] == "token_expired" and "invalid_token" in r["WWW-Authenticate"]
    _, raw2 = ApiToken.issue(cast["viewer"])
    cast["viewer"].is_active = False
    cast["viewer"].save()
    assert api(raw2, "GET", "/api/v1/queues").status_code == 401
    cast["viewer"].is_active = True
    cast["viewer"].save()
    ApiToken.objects.get(hint=raw2[:12]).revoke()
    assert api(raw2, "GET", "/api/v1/queues").status_code == 401
    assert [(e.detail["why"], e.actor_name, e.target) for e in denials()] == [
        ("expired", "tv", f"token:{raw[:12]}"), ("user_deactivated", "tv", f"token:{raw2[:12]}"),
        ("revoked", "tv", f"token:{raw2[:12]}")]
    assert raw not in str([e.detail for e in denials()])
    # An unknown token names nobody: 401, nothing to audit against.
    assert api("dlq_nonsense", "GET", "/api/v1/queues").status_code == 401 and len(denials()) == 3


def test_rate_limit_in_postgres_429_with_retry_after(golden, cast, clock, settings):
    settings.DLQADMIN_API_RATE_LIMIT = 3
    settings.DLQADMIN_API_RATE_WINDOW = 60
    clock.set(dt.datetime(2031, 5, 14, 9, 30, 10, tzinfo=dt.UTC))
    token, raw = ApiToken.issue(cast["viewer"])
    _, other = ApiToken.issue(cast["viewer"])
    assert [api(raw, "GET", "/api/v1/queues").status_code for _ in range(3)] == [200, 200, 200]
    r = api(raw, "GET", "/api/v1/queues")
    assert r.status_code == 429 and r.json()["error"] == "rate_limited" and r["Retry-After"] == "50"
    assert api(other, "GET", "/api/v1/queues").status_code == 200  # per token
    assert ApiTokenUse.objects.get(token=token).count == 4
    clock.advance(seconds=50)  # the next window
    assert api(raw, "GET", "/api/v1/queues").status_code == 200
    assert list(ApiTokenUse.objects.filter(token=token).values_list("count", flat=True)) == [1]
    settings.DLQADMIN_API_RATE_LIMIT = 0
    assert all(api(raw, "GET", "/api/v1/queues").status_code == 200 for _ in range(5))


def test_account_page_lists_last_use_and_revokes_own_tokens_only(golden, cast, client, clock):
    token, raw = ApiToken.issue(cast["viewer"], name="ci job", scope="read")
    theirs, _ = ApiToken.issue(cast["operator"])
    assert api(raw, "GET", "/api/v1/queues", REMOTE_ADDR="203.0.113.9").status_code == 200
    sign_in(client, cast["viewer"], verified=False)
    page = client.get("/account/").content.decode()
    assert f'data-token="{raw[:12]}"' in page and "ci job" in page and "203.0.113.9" in page
    assert clock.now().strftime("%Y-%m-%d %H:%M") in page and raw[12:] not in page
    assert theirs.hint not in page
    assert client.post(f"/account/tokens/{theirs.pk}/revoke").status_code == 404
    assert client.get(f"/account/tokens/{token.pk}/revoke").status_code == 405
    assert client.post(f"/account/tokens/{token.pk}/revoke").status_code == 302
    token.refresh_from_db()
    theirs.refresh_from_db()
    assert token.revoked_at is not None and theirs.revoked_at is None
    revoked = AuditEvent.objects.filter(action="token.revoke").order_by("seq").last()
    assert revoked.actor_name == "tv" and revoked.detail["via"] == "account page"
    assert api(raw, "GET", "/api/v1/queues").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_tokens_made_before_scopes_keep_working_as_operate_for_90_days(clock):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])
        return executor.loader.project_state([target]).apps

    latest = [n for n in MigrationExecutor(connection).loader.graph.leaf_nodes() if n[0] == "api"][0]
    old = migrate(("api", "0002_defaults_from_app_clock"))
    try:
        user = old.get_model("auth", "User").objects.create(username="old")
        old.get_model("api", "ApiToken").objects.create(user_id=user.pk, key_hash="a" * 64, hint="dlq_oldtoken")
        new = migrate(latest)
        token = new.get_model("api", "ApiToken").objects.get()
        assert token.scope == "operate" and token.expires_at == clock.now() + dt.timedelta(days=90)
    finally:
        migrate(latest)


def test_a_dead_or_narrow_token_is_limited_before_its_refusals_are_audited(golden, cast, clock, settings):
    # Each refusal of a known token writes an audit row (and takes the chain's lock): the
    # rate limit must bound them too.
    settings.DLQADMIN_API_RATE_LIMIT = 2
    settings.DLQADMIN_API_RATE_WINDOW = 60
    clock.set(dt.datetime(2031, 5, 14, 9, 30, 0, tzinfo=dt.UTC))
    token, raw = ApiToken.issue(cast["viewer"])
    token.revoke()
    _, read = ApiToken.issue(cast["operator"], scope="read")
    run = f"/api/v1/queues/{Q}/tasks/{ARCHIVED}/run"
    assert [api(raw, "GET", "/api/v1/queues").status_code for _ in range(4)] == [401, 401, 429, 429]
    assert [api(read, "POST", run, '{"state": "archived"}').status_code for _ in range(4)] == [403, 403, 429, 429]
    assert [e.detail["why"] for e in denials()] == ["revoked", "revoked", "scope read < operate",
                                                    "scope read < operate"]


def test_purging_the_vault_needs_the_admin_scope_too(golden, cast):
    # The vault's bulk endpoint runs (operate) or purges (admin only) by what the body asks.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=cast["admin"], name="phone", confirmed=True)  # required for admins
    operate = ApiToken.issue(cast["admin"], scope="operate")[1]
    purge = '{"action": "purge", "filter": {"status": "trimmed"}}'
    r = api(operate, "POST", f"/api/v1/queues/{Q}/vault/bulk", purge)
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    assert [e.detail["why"] for e in denials()] == ["scope operate < admin"]
    admin = ApiToken.issue(cast["admin"], scope="admin")[1]
    assert api(admin, "POST", f"/api/v1/queues/{Q}/vault/bulk", purge).status_code == 202
