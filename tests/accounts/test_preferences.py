"""Per-user display settings: theme and live refresh, stored on the user and audited."""

import pytest
from django.test import Client

from dlqadmin.accounts.models import Preferences
from dlqadmin.audit.models import AuditEvent
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(roles):
    return make_user("alice", ("viewer", ["payments"]))


def test_defaults_until_chosen(alice, settings):
    client = sign_in(Client(), alice)
    settings.DLQADMIN_POLL_SECONDS = 15
    body = client.get("/account/").content.decode()
    assert 'data-refresh="15"' in body and "data-theme=" not in body.split("<head>")[0]


def test_choices_are_stored_audited_and_rendered(alice):
    client = sign_in(Client(), alice)
    response = client.post("/account/preferences", {"theme": "dark", "next": "/servers/"})
    assert response.status_code == 302 and response["Location"] == "/servers/"
    client.post("/account/preferences", {"refresh_seconds": "0"})
    prefs = Preferences.objects.get(user=alice)
    assert (prefs.theme, prefs.refresh_seconds) == ("dark", 0)
    body = client.get("/account/").content.decode()
    assert '<html lang="en" data-theme="dark">' in body and 'data-refresh="0"' in body
    events = AuditEvent.objects.filter(action="account.preferences").order_by("seq")
    assert [e.detail["after"] for e in events] == [{"theme": "dark"}, {"refresh_seconds": 0}]


@pytest.mark.parametrize("data", [{"theme": "neon"}, {"refresh_seconds": "7"}, {"refresh_seconds": "x"}, {}])
def test_bad_values_are_a_clear_400(alice, data):
    client = sign_in(Client(), alice)
    response = client.post("/account/preferences", {**data, "next": "https://evil.example/"})
    assert response.status_code == 400
    assert b"Display settings not saved" in response.content and b"evil.example" not in response.content
    assert not Preferences.objects.filter(user=alice).exists()


def test_an_outside_next_is_not_followed(alice):
    client = sign_in(Client(), alice)
    response = client.post("/account/preferences", {"theme": "light", "next": "https://evil.example/"})
    assert response["Location"] == "/account/"
