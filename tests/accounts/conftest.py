"""Single sign-on fixtures: a real OpenID provider (oidc-provider on Node.js) for the
session, the app configured for it, and its group -> role rules."""

import datetime as dt
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import browser_type_launch_args  # noqa: F401
from tests.support.idp import Idp, IdpUser

APP_BASE_URL = "http://localhost:8000"  # what the app tells the IdP; the test client ignores the host


@pytest.fixture(scope="session")
def idp():
    provider = Idp.start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc(idp, settings, clock):
    """The app configured for the test provider, its clock pinned to the provider's."""
    settings.DLQADMIN_OIDC_ISSUER = idp.issuer
    settings.DLQADMIN_OIDC_CLIENT_ID = idp.client_id
    settings.DLQADMIN_OIDC_CLIENT_SECRET = idp.client_secret
    settings.DLQADMIN_OIDC_SCOPES = "openid email profile groups"
    settings.DLQADMIN_OIDC_GROUPS_CLAIM = "groups"
    settings.DLQADMIN_OIDC_MFA_AMR = ["mfa"]
    settings.DLQADMIN_OIDC_MFA_ACR = []
    settings.DLQADMIN_BASE_URL = APP_BASE_URL
    idp.reset()
    clock.set(dt.datetime.fromtimestamp(idp.now(), dt.UTC))
    yield idp
    idp.reset()


@pytest.fixture
def sso_rules(roles):
    """The rules of the issue: sre-oncall -> operator everywhere, payments-dev -> viewer on
    payments and billing:eu, security -> auditor, payments-readers -> payload_viewer on payments."""
    from dlqadmin.access.services import add_group_rule

    add_group_rule("sre-oncall", "operator", all_queues=True)
    add_group_rule("payments-dev", "viewer", queues=["payments", "billing:eu"])
    add_group_rule("security", "auditor")
    add_group_rule("payments-readers", "payload_viewer", queues=["payments"])


def start_sign_in(client, next_url="/"):
    response = client.get("/login/oidc/", {"next": next_url})
    assert response.status_code == 302, response.content
    return response["Location"]


def callback_path(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def idp_user(idp, base_url=APP_BASE_URL):
    return IdpUser(idp, base_url + "/login/oidc/callback/")


def sso_sign_in(client, idp, login, *, user=None):
    """Sign in through the provider's pages; returns the app's answer to the callback."""
    user = user or idp_user(idp)
    callback = user.authorize(start_sign_in(client), login)
    return client.get(callback_path(callback))


@pytest.fixture
def admin_client_factory(roles):
    """A second browser-like client signed in as an admin (with a second factor)."""
    from django.test import Client

    from tests.conftest import make_user, sign_in

    def make():
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username="root").first() or make_user("root", ("admin",))
        return sign_in(Client(), user)

    return make
