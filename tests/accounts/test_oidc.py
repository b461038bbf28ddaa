"""Single sign-on against a real OpenID provider (oidc-provider, started by the fixtures)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from dlqadmin.access.checks import may
from dlqadmin.access.models import Queue
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
    assert roles_of(user) == {"viewer": ["billing:eu", "payments"]} or roles_of(user) == {
        "viewer": ["payments", "billing:eu"]}
    assert signed_in_as(client) == "bob"
    login = events("login")[-1]
    assert login.detail["method"] == "oidc" and login.detail["subject"] == "7d3b9a40-bob"
    assert events("account.sso_create")[-1].detail["subject"] == "7d3b9a40-bob"
    sync = events("access.sso_sync")[-1]
    assert sync.detail["added"] == ["viewer on billing:eu", "viewer on payments"] and sync.detail["removed"] == []
