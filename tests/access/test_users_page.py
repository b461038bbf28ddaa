"""The Users page: create a user, see who has a second factor and when they last signed in,
pick queues with check boxes."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from dlqadmin.audit.models import AuditEvent
from tests.conftest import PASSWORD, make_user, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(roles, golden):
    return sign_in(Client(), make_user("boss", ("admin",)))


def test_create_a_user_then_grant_them_a_role(admin_client):
    response = admin_client.post("/access/new/", {"new-username": "carol", "new-email": "carol@example.org",
                                                  "new-password": "a long enough pass phrase 7"})
    assert response.status_code == 302 and response["Location"] == "/access/?user=carol#grant"
    carol = get_user_model().objects.get(username="carol")
    assert carol.check_password("a long enough pass phrase 7") and not carol.groups.exists()
    event = AuditEvent.objects.get(action="access.create_user")
    assert event.actor_name == "boss" and event.target.endswith("carol") and "pass phrase" not in str(event.detail)
    page = admin_client.get(response["Location"]).content.decode()
    assert '<option value="carol" selected>' in page  # the grant form is ready for them
    admin_client.get("/")  # the queue registry learns asynq's queues as pages read them
    granted = admin_client.post("/access/", {"user": "carol", "role": "viewer", "queues": ["payments"]})
    assert granted.status_code == 302
    signed = Client().post("/login/", {"username": "carol", "password": "a long enough pass phrase 7"})
    assert signed.status_code == 302


@pytest.mark.parametrize("data,error", [
    ({"new-username": "boss", "new-password": "a long enough pass phrase 7"}, "A user with that name exists."),
    ({"new-username": "bad name!", "new-password": "a long enough pass phrase 7"}, "letters, digits"),
    ({"new-username": "dave", "new-password": "dave"}, "too short"),
])
def test_refused_users_are_a_400_saying_why(admin_client, data, error):
    response = admin_client.post("/access/new/", data)
    assert response.status_code == 400 and error in response.content.decode()
    assert not AuditEvent.objects.filter(action="access.create_user").exists()


def test_second_factor_and_last_sign_in_columns_and_the_queue_check_boxes(admin_client):
    erin = make_user("erin", ("viewer", ["payments"]))
    TOTPDevice.objects.create(user=erin, name="phone", confirmed=True)
    assert Client().post("/login/", {"username": "erin", "password": PASSWORD}).status_code == 302
    make_user("frank")
    admin_client.get("/")  # the queue registry learns asynq's queues as pages read them
    html = admin_client.get("/access/").content.decode()
    row = html[html.index('data-user="erin"'):].split("</tr>")[0]
    assert "authenticator app" in row and "never" not in row
    row = html[html.index('data-user="frank"'):].split("</tr>")[0]
    assert ">none<" in row and ">never<" in row
    assert 'type="checkbox" name="queues" value="payments"' in html and '<select name="queues"' not in html
