"""An API token may do no more than its user's browser session (DLQADMIN_REQUIRE_MFA)."""

import json

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from dlqadmin.api.models import ApiToken
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

CARD_TASK = ("payments", "15303193-7c55-5fd5-9213-8771deaccdac")


def _reveal(client, raw):
    queue, task_id = CARD_TASK
    return client.post(f"/api/v1/queues/{queue}/tasks/{task_id}/reveal",
                       json.dumps({"reason": "Chargeback investigation"}), content_type="application/json",
                       headers={"Authorization": f"Bearer {raw}"})


def test_token_of_a_user_who_must_enrol_is_refused(client, golden, roles, settings):
    settings.DLQADMIN_REQUIRE_MFA = True
    pv = make_user("pv", ("payload_viewer", ["payments"]))
    _, raw = ApiToken.issue(pv, scope="operate")
    response = _reveal(client, raw)
    assert response.status_code == 403 and response.json()["error"] == "mfa_required"
    assert "4111111111111111" not in response.content.decode()
    listing = client.get("/api/v1/queues", headers={"Authorization": f"Bearer {raw}"})
    assert listing.status_code == 403 and listing.json()["error"] == "mfa_required"
    # An unconfirmed device (enrolment started, not finished) does not count.
    TOTPDevice.objects.create(user=pv, name="half", confirmed=False)
    assert _reveal(client, raw).status_code == 403
    # Once enrolled, the token carries the user's roles again.
    TOTPDevice.objects.create(user=pv, name="phone", confirmed=True)
    assert _reveal(client, raw).status_code == 200


def test_tokens_of_roles_without_the_requirement_still_work(client, golden, staff, settings):
    settings.DLQADMIN_REQUIRE_MFA = True
    _, raw = ApiToken.issue(staff)
    assert client.get("/api/v1/queues", headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_requirement_switched_off_lets_tokens_work(client, golden, roles, settings):
    settings.DLQADMIN_REQUIRE_MFA = False
    pv = make_user("pv", ("payload_viewer", ["payments"]))
    _, raw = ApiToken.issue(pv, scope="operate")
    assert _reveal(client, raw).status_code == 200
