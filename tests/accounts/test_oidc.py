"""Single sign-on against a real OpenID provider (oidc-provider, started by the fixtures)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from dlqadmin.access.checks import may
from dlqadmin.access import registry
from dlqadmin.access.services import grant, revoke, roles_of
from dlqadmin.accounts.models import OidcIdentity
from dlqadmin.audit.models import AuditEvent
from tests.accounts.conftest import callback_path, idp_user, sso_sign_in, start_sign_in

pytestmark = pytest.mark.django_db


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def signed_in_as(client):
    response = client.get("/account/")
    return response.status_code == 200 and response.context["user"].get_username()


def test_first_sign_in_creates_the_user_with_the_mapped_roles(client, oidc, sso_rules):
    response = sso_sign_in(client, oidc, "bob")
    assert response.status_code == 302 and response["Location"] == "/"
    identity = OidcIdentity.objects.get()
    assert (identity.issuer, identity.subject) == (oidc.issuer, "7d3b9a40-bob")
    user = identity.user
    assert user.username == "bob" and user.email == "bob@corp.example" and not user.has_usable_password()
    assert {role: sorted(queues) for role, queues in roles_of(user).items()} == {"viewer": ["billing:eu", "payments"]}
    assert signed_in_as(client) == "bob"
    login = events("login")[-1]
    assert login.detail["method"] == "oidc" and login.detail["subject"] == "7d3b9a40-bob"
    assert events("account.sso_create")[-1].detail["subject"] == "7d3b9a40-bob"
    sync = events("access.sso_sync")[-1]
    assert sync.detail["added"] == ["viewer on billing:eu", "viewer on payments"] and sync.detail["removed"] == []


def test_the_request_uses_pkce_state_and_nonce(client, oidc):
    url = urlsplit(start_sign_in(client))
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{oidc.issuer}/auth"
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43 and query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == ["http://localhost:8000/login/oidc/callback/"]
    assert "code_verifier" not in url.query


def test_an_idp_error_answer_is_shown_and_audited(client, oidc):
    state = parse_qs(urlsplit(start_sign_in(client)).query)["state"][0]
    response = client.get("/login/oidc/callback/", {"error": "access_denied", "error_description": "<b>no</b>",
                                                    "state": state})
    html = response.content.decode()
    assert response.status_code == 400 and "The identity provider refused the sign-in." in html
    assert "<b>no</b>" not in html and "&lt;b&gt;no" not in html  # its words are not our page's
    assert events("login.failed")[-1].detail == {"method": "oidc", "error": "idp_error", "idp_said": "<b>no</b>"}


def test_a_callback_this_browser_did_not_start_is_refused_before_any_work(client, oidc, monkeypatch):
    from dlqadmin.accounts import oidc as oidc_module

    monkeypatch.setattr(oidc_module, "_client", lambda: pytest.fail("no IdP call for a foreign callback"))
    for query in ({"error": "access_denied", "error_description": "call +1-555", "state": "forged"},
                  {"code": "x", "state": "forged"}, {"code": "x"}, {"state": "s" * 600}):
        response = client.get("/login/oidc/callback/", query)
        assert response.status_code == 400 and "This sign-in link is not valid" in response.content.decode()
    assert client.get("/login/oidc/callback/", {"state": "s\x00"}).status_code == 400  # NUL: refused earlier


def test_identity_is_issuer_and_subject_not_the_e_mail(client, oidc, sso_rules):
    get_user_model().objects.create_user("bob", "someone-else@example.org", "x" * 16)  # a local "bob" exists
    sso_sign_in(client, oidc, "bob")
    first = OidcIdentity.objects.get(subject="7d3b9a40-bob").user
    assert first.username == "bob-2"
    client.post("/logout/")
    oidc.set_account("bob", email="robert@corp.example")
    sso_sign_in(client, oidc, "bob")
    again = OidcIdentity.objects.get(subject="7d3b9a40-bob").user
    assert again.pk == first.pk and again.email == "robert@corp.example"
    assert OidcIdentity.objects.count() == 1


def test_wrong_state_is_refused_and_audited(client, oidc, sso_rules):
    callback = idp_user(oidc).authorize(start_sign_in(client), "bob")
    forged = callback_path(callback).replace("state=", "state=forged")
    response = client.get(forged)
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert signed_in_as(client) is False
    failed = events("login.failed")[-1]
    assert failed.outcome == "failed" and failed.detail == {"method": "oidc", "error": "state"}
    assert not OidcIdentity.objects.exists()


def test_replayed_code_is_refused(client, oidc, sso_rules):
    callback = idp_user(oidc).authorize(start_sign_in(client), "bob")
    assert client.get(callback_path(callback)).status_code == 302
    client.post("/logout/")
    # The same answer again: its state was used up.
    assert client.get(callback_path(callback)).status_code == 400
    assert events("login.failed")[-1].detail["error"] == "state"
    # The used code with a fresh state of ours: the provider refuses the code.
    fresh = parse_qs(urlsplit(start_sign_in(client)).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = client.get("/login/oidc/callback/", {"code": code, "state": fresh, "iss": oidc.issuer})
    assert response.status_code == 400 and "invalid_grant" in response.content.decode()
    assert events("login.failed")[-1].detail["error"] == "token"
    assert signed_in_as(client) is False


@pytest.mark.parametrize("defect, code", [("expired", "expired"), ("signature", "signature"),
                                          ("audience", "audience"), ("issuer", "issuer"), ("nonce", "nonce")])
def test_defective_id_tokens_are_refused(client, oidc, sso_rules, defect, code):
    oidc.defect_next_id_token(defect)
    response = sso_sign_in(client, oidc, "alice")
    assert response.status_code == 400, response.content
    assert signed_in_as(client) is False
    assert not OidcIdentity.objects.exists()
    failed = events("login.failed")[-1]
    assert failed.detail == {"method": "oidc", "error": code}
    # The provider's next, sound token is accepted.
    assert sso_sign_in(client, oidc, "alice").status_code == 302


def test_a_token_expired_by_our_clock_is_refused(client, oidc, sso_rules, clock):
    clock.advance(hours=2)  # the provider's tokens live an hour
    assert sso_sign_in(client, oidc, "alice").status_code == 400
    assert events("login.failed")[-1].detail["error"] == "expired"


def test_unknown_issuer_is_refused(client, oidc, settings, sso_rules):
    # The discovery document there names another issuer (127.0.0.1, not localhost).
    settings.DLQADMIN_OIDC_ISSUER = f"http://localhost:{oidc.port}"
    response = client.get("/login/oidc/")
    assert response.status_code == 400 and "unknown issuer" in response.content.decode()
    assert events("login.failed")[-1].detail == {"method": "oidc", "error": "issuer"}


def test_a_removed_group_downgrades_then_refuses_at_the_next_sign_in(client, oidc, sso_rules):
    oidc.set_account("alice", groups=["sre-oncall", "payments-dev"])
    assert sso_sign_in(client, oidc, "alice").status_code == 302
    user = OidcIdentity.objects.get(subject="0f6c1e2a-alice").user
    registry.ensure("emails")
    emails, payments = registry.find("emails"), registry.find("payments")
    assert may(user, "operate_queue", emails) and may(user, "operate_queue", payments)
    client.post("/logout/")

    oidc.set_account("alice", groups=["payments-dev"])
    assert sso_sign_in(client, oidc, "alice").status_code == 302
    user = get_user_model().objects.get(pk=user.pk)  # fresh permission caches
    assert {role: sorted(queues) for role, queues in roles_of(user).items()} == {"viewer": ["billing:eu", "payments"]}
    assert not may(user, "operate_queue", payments) and not may(user, "view_queue", emails)
    assert may(user, "view_queue", payments)
    sync = events("access.sso_sync")[-1]
    assert sync.detail["removed"] == ["operator on all queues"] and sync.detail["added"] == []
    client.post("/logout/")

    oidc.set_account("alice", groups=[])
    response = sso_sign_in(client, oidc, "alice")
    assert response.status_code == 403
    page = response.content.decode()
    assert "You have no access" in page and "sre-oncall" in page and "payments-dev" in page
    assert signed_in_as(client) is False
    assert roles_of(get_user_model().objects.get(pk=user.pk)) == {}
    refused = events("login.failed")[-1]
    assert refused.outcome == "denied" and refused.detail["error"] == "no_role"


def test_grants_given_by_hand_are_kept_apart(client, oidc, sso_rules, admin_client_factory):
    sso_sign_in(client, oidc, "bob")
    user = OidcIdentity.objects.get(subject="7d3b9a40-bob").user
    grant(user, "viewer", queues=["emails"])
    grant(user, "viewer", queues=["payments"])  # also by hand where SSO gives it
    client.post("/logout/")
    oidc.set_account("bob", groups=[])
    assert sso_sign_in(client, oidc, "bob").status_code == 302  # hand-given roles still let bob in
    assert sorted(roles_of(user)["viewer"]) == ["emails", "payments"]
    client.post("/logout/")
    oidc.set_account("bob", groups=["payments-dev"])
    sso_sign_in(client, oidc, "bob")
    revoke(user, "viewer", queues=["payments"])  # by hand: the SSO grant stays
    assert may(get_user_model().objects.get(pk=user.pk), "view_queue", registry.find("payments"))

    page = admin_client_factory().get("/access/").content.decode()
    row = page[page.index('data-user="bob"'):]
    row = row[:row.index("</tr>")]
    assert "SSO</span>" in row and "viewer · billing:eu <span class=\"badge\">SSO</span>" in row
    assert 'name="queue" value="emails"' in row  # the hand-given one can be revoked there
    assert 'name="queue" value="billing:eu"' not in row  # the SSO one cannot


def test_mapping_rules_are_edited_on_the_users_page_and_audited(roles, admin_client_factory):
    registry.ensure("payments")
    admin = admin_client_factory()
    response = admin.post("/access/sso-rules/", {"rule-group": "payments-dev", "rule-role": "viewer",
                                                 "rule-queues": ["payments"]})
    assert response.status_code == 302
    admin.post("/access/sso-rules/", {"rule-group": "payments-dev", "rule-role": "operator",
                                      "rule-all_queues": "on"})
    bad = admin.post("/access/sso-rules/", {"rule-group": "security", "rule-role": "auditor",
                                            "rule-queues": ["payments"]})
    assert bad.status_code == 400 and "global role" in bad.content.decode()
    change = events("access.sso_mapping")[-1]
    assert change.detail == {"group": "payments-dev", "before": ["viewer on payments"],
                             "after": ["operator on all queues", "viewer on payments"]}
    page = admin.get("/access/").content.decode()
    assert 'data-group="payments-dev"' in page
    from dlqadmin.access.models import GroupRoleRule

    rule = GroupRoleRule.objects.get(role="operator")
    assert admin.post(f"/access/sso-rules/{rule.pk}/remove/").status_code == 302
    assert events("access.sso_mapping")[-1].detail["after"] == ["viewer on payments"]


def test_users_whose_groups_map_to_no_role_see_whom_to_ask(client, oidc, sso_rules):
    response = sso_sign_in(client, oidc, "dave")
    assert response.status_code == 403
    page = response.content.decode()
    assert "ask your identity team" in page.lower() and "security" in page and "marketing" in page
    assert OidcIdentity.objects.get(subject="d9e0f1a2-dave")  # known, but not signed in
    assert signed_in_as(client) is False
    assert events("login.failed")[-1].detail["groups"] == ["marketing"]


def test_deactivated_sso_users_are_refused(client, oidc, sso_rules):
    sso_sign_in(client, oidc, "bob")
    client.post("/logout/")
    user = OidcIdentity.objects.get(subject="7d3b9a40-bob").user
    user.is_active = False
    user.save()
    assert sso_sign_in(client, oidc, "bob").status_code == 403
    assert events("login.failed")[-1].detail["error"] == "inactive"


def test_second_factor_from_the_idp_when_its_amr_or_acr_says_so(client, oidc, sso_rules, settings):
    settings.DLQADMIN_REQUIRE_MFA = True
    # carol holds payload_viewer (needs a second factor); her IdP sign-in used one.
    assert sso_sign_in(client, oidc, "carol").status_code == 302
    assert client.get("/account/").status_code == 200
    assert client.get("/audit/").status_code == 200
    assert events("login")[-1].detail["second_factor"] == "idp"
    client.post("/logout/")

    settings.DLQADMIN_OIDC_MFA_AMR = []  # amr no longer trusted ...
    sso_sign_in(client, oidc, "carol")
    response = client.get("/audit/")
    assert response.status_code == 302 and response["Location"].startswith("/account/mfa/setup/")
    client.post("/logout/")

    settings.DLQADMIN_OIDC_MFA_ACR = ["urn:dlqadmin:test:mfa"]  # ... but this acr is
    sso_sign_in(client, oidc, "carol")
    assert client.get("/audit/").status_code == 200
    client.post("/logout/")

    oidc.set_account("carol", mfa=False)  # the IdP did not use a second factor: our TOTP
    sso_sign_in(client, oidc, "carol")
    assert client.get("/audit/")["Location"].startswith("/account/mfa/setup/")


def test_sso_sessions_have_the_same_idle_and_absolute_limits(client, oidc, sso_rules, clock, settings):
    sso_sign_in(client, oidc, "bob")
    clock.advance(seconds=settings.DLQADMIN_SESSION_IDLE_SECONDS + 61)
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert events("logout")[-1].detail["cause"].startswith("You were signed out after")
    sso_sign_in(client, oidc, "bob")
    for _ in range(settings.DLQADMIN_SESSION_MAX_AGE_SECONDS // settings.DLQADMIN_SESSION_IDLE_SECONDS + 1):
        clock.advance(seconds=settings.DLQADMIN_SESSION_IDLE_SECONDS - 60)
        client.get("/account/")
    assert "maximum lifetime" in events("logout")[-1].detail["cause"]


def test_sign_out_ends_the_idp_session_too(client, oidc, sso_rules):
    sso_sign_in(client, oidc, "bob")
    id_token = client.session["dlq_oidc_id_token"]
    response = client.post("/logout/")
    assert response.status_code == 200
    url = response.context["url"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{oidc.issuer}/session/end"
    query = parse_qs(parts.query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == ["http://localhost:8000/login/"]
    assert signed_in_as(client) is False
    assert events("logout")[-1].detail == {"cause": "signed out"}


def test_password_sign_in_off_except_for_break_glass_users(client, oidc, roles, settings):
    from django.core.management import call_command

    from tests.accounts.test_signin import post_login
    from tests.conftest import make_user

    settings.DLQADMIN_PASSWORD_LOGIN = False
    make_user("staff", ("viewer",))
    make_user("glass", ("admin",))
    page = client.get("/login/").content.decode()
    assert 'id="sso-login"' in page and 'id="id_password"' not in page and "?local=1" in page
    assert 'id="id_password"' in client.get("/login/?local=1").content.decode()

    refused = post_login(client, "staff")
    # The answer of a wrong password: it must not tell that this one was right.
    assert refused.status_code == 200 and "Please enter a correct" in refused.content.decode()
    assert events("login.failed")[-1].outcome == "denied"
    assert signed_in_as(client) is False

    call_command("break_glass", "glass", reason="IdP outage runbook")
    assert events("account.break_glass")[-1].reason == "IdP outage runbook"
    assert post_login(client, "glass").status_code == 302
    assert events("login.break_glass")[-1].actor_name == "glass"
    assert events("login")[-1].detail["break_glass"] is True


def test_the_admin_sign_in_form_also_refuses_passwords_when_off(client, roles, settings):
    from tests.conftest import PASSWORD, make_user

    settings.DLQADMIN_PASSWORD_LOGIN = False
    user = make_user("boss", ("admin",))
    user.is_staff = True
    user.save()
    response = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD})
    assert response.status_code == 200 and "Please enter the correct" in response.content.decode()
    assert events("login.failed")[-1].outcome == "denied"


def test_hostile_names_from_the_idp_become_valid_unique_user_names(db):
    from dlqadmin.accounts.services import _free_username

    get_user_model().objects.create_user("admin", "a@example.org", "x" * 16)
    assert _free_username({"preferred_username": "ａｄｍｉｎ"}) == "admin-2"  # NFKC: the same name
    long_name = _free_username({"preferred_username": "\ufdfa" * 100})
    assert 0 < len(long_name) <= 150
    assert _free_username({"email": "\x00@x"}) == "sso-user"


def test_none_is_never_an_accepted_algorithm(oidc, settings):
    from dlqadmin.accounts import oidc as oidc_module

    settings.DLQADMIN_OIDC_ALGORITHMS = ["RS256"]
    metadata = oidc_module._metadata(oidc_module._client())
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]


def test_allowed_domains_keep_outsiders_out(settings):
    from dlqadmin.accounts.oidc import allowed_domain

    settings.DLQADMIN_OIDC_ALLOWED_DOMAINS = ["example.com"]
    assert allowed_domain({"hd": "example.com"})
    assert allowed_domain({"email": "jo@Example.com", "email_verified": True})
    assert not allowed_domain({"email": "jo@example.com", "email_verified": False})
    assert not allowed_domain({"email": "jsmith@gmail.com", "email_verified": True})
    assert not allowed_domain({"email": "x@example.com.evil.org", "email_verified": True})
