"""DELETE <queue url>: asynq's DeleteQueue exactly (the golden delete-queue-* scenarios),
admins only, audited."""

import json

import pytest

from dlqadmin.audit.models import AuditEvent
from tests.asynq.test_ops_golden import OPS_DIR, assert_same_db
from tests.conftest import make_user
from tests.support.redis_snapshot import dump, restore

pytestmark = pytest.mark.django_db


def _load(name, part):
    return json.loads((OPS_DIR / name / f"{part}.json").read_text())


@pytest.fixture
def call(client, roles):
    tokens = {}

    def delete(user, path, **params):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # admin needs a second factor: enrolled, as a token may not do what the session may not.
        TOTPDevice.objects.get_or_create(user=user, defaults={"name": "phone", "confirmed": True})
        if user.username not in tokens:
            from dlqadmin.api.models import ApiToken

            # The admin scope for everyone: the roles decide who may delete.
            tokens[user.username] = ApiToken.issue(user, scope="admin")[1]
        query = "&".join(f"{k}={v}" for k, v in params.items())
        response = client.delete(f"{path}?{query}" if query else path,
                                 headers={"Authorization": f"Bearer {tokens[user.username]}"})
        return response.status_code, response.json()

    return delete


@pytest.mark.parametrize("scenario", ["delete-queue-empty", "delete-queue-force", "delete-queue-not-empty"])
def test_delete_queue_leaves_redis_as_asynq_did(asynq_redis, call, scenario):
    op, result = _load(scenario, "op"), _load(scenario, "result")
    restore(asynq_redis, _load(scenario, "before"))
    admin = make_user("boss", ("admin",))
    params = {"force": "true"} if op["force"] else {}
    status, body = call(admin, f"/api/v1/queues/{op['queue']}/", **params)
    if result["ok"]:
        assert (status, body["ok"], body["outcome"]) == (200, True, "done")
    else:
        assert status == 409 and body["outcome"] == "queue_not_empty"
        assert body["message"].startswith(result["error"])  # asynq's own reason
    assert_same_db(dump(asynq_redis), _load(scenario, "after"))
    outcomes = list(AuditEvent.objects.filter(action="queue.delete").order_by("seq").values_list("outcome", flat=True))
    assert outcomes == ["intent", "success" if result["ok"] else "failed"]


def test_only_admins_delete_queues_and_refusals_change_nothing(asynq_redis, call):
    restore(asynq_redis, _load("delete-queue-empty", "before"), with_ttl=False)
    before = dump(asynq_redis)
    operator = make_user("op", ("operator",))
    status, body = call(operator, "/api/v1/queues/emails/")
    assert status == 403 and body["error"] == "forbidden"
    assert AuditEvent.objects.get(action="queue.delete").outcome == "denied"
    admin = make_user("boss", ("admin",))
    assert call(admin, "/api/v1/queues/emails/", force="maybe")[0] == 400
    assert call(admin, "/api/v1/queues/no-such-queue/")[0] == 404
    assert dump(asynq_redis) == before


def _without_ttl(snapshot):
    return [{k: v for k, v in e.items() if k != "ttl_ms"} for e in snapshot]


def test_force_never_deletes_a_queue_with_active_tasks(golden, call):
    before = _without_ttl(dump(golden))
    status, body = call(make_user("boss", ("admin",)), "/api/v1/queues/payments/", force="true")
    assert status == 409 and body["state"] == "active"
    assert body["message"].startswith('queue has active tasks: queue="payments"')
    assert _without_ttl(dump(golden)) == before
