"""GET /api/v1/operations: only operations on queues the caller may view; filters; pages."""

import pytest

from dlqadmin.operations.models import Operation
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(db):
    rows = []
    for i, (queue, status, who) in enumerate([("payments", "done", "ann"), ("emails", "queued", "bob"),
                                             ("payments", "failed", "bob"), ("payments", "running", "ann")]):
        rows.append(Operation.objects.create(action="run", queue=queue, state="archived", status=status,
                                             started_by_name=who, total=i))
    return rows


def ids(response):
    return [o["id"] for o in response.json()["operations"]]


def test_lists_only_visible_queues_newest_first(client, roles, golden, ops):
    sign_in(client, make_user("pay", ("viewer", ["payments"])))
    response = client.get("/api/v1/operations")
    assert response.status_code == 200
    assert ids(response) == [ops[3].pk, ops[2].pk, ops[0].pk]
    assert "failures" not in response.json()["operations"][0]
    assert client.get("/api/v1/operations", {"queue": "emails"}).json()["operations"] == []


def test_filters_and_pages(client, roles, golden, ops):
    sign_in(client, make_user("all", ("viewer",)))
    assert ids(client.get("/api/v1/operations", {"status": "queued"})) == [ops[1].pk]
    assert ids(client.get("/api/v1/operations", {"started_by": "bob"})) == [ops[2].pk, ops[1].pk]
    first = client.get("/api/v1/operations", {"limit": 3}).json()
    assert [o["id"] for o in first["operations"]] == [ops[3].pk, ops[2].pk, ops[1].pk] and first["next"]
    rest = client.get(first["next"].replace("http://testserver", "")).json()
    assert [o["id"] for o in rest["operations"]] == [ops[0].pk] and rest["next"] is None
    for bad in ({"status": "nope"}, {"limit": "0"}, {"limit": "201"}, {"before": "x"},
                {"before": "99999999999999999999"}):
        response = client.get("/api/v1/operations", bad)
        assert response.status_code == 400 and response.json()["error"] == "bad_parameter", bad
