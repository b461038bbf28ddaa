"""GET <queue url>tasks with filters (a search) and GET <queue url>failures."""

import json
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from tests.conftest import make_user
from tests.support.golden_secrets import planted_secrets
from tests.triage.test_search import CARD, PAYMENTS_CHARGES_WITH_CARD, seed_archived

pytestmark = pytest.mark.django_db


def token_for(user):
    out = StringIO()
    call_command("create_api_token", user.username, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.fixture
def as_user(client):
    def make(user):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # Enrolled: roles that may reveal need a second factor, for tokens too.
        TOTPDevice.objects.get_or_create(user=user, defaults={"name": "phone", "confirmed": True})
        token = token_for(user)

        def get(path, **params):
            response = client.get(path, params, headers={"Authorization": f"Bearer {token}"})
            return response, response.json()
        return get
    return make


@pytest.fixture
def viewer(as_user, golden, roles):
    return as_user(make_user("v", ("viewer",)))


@pytest.fixture
def revealer(as_user, golden, roles):
    return as_user(make_user("pv", ("payload_viewer",)))


def ids(body):
    return [t["id"] for t in body["tasks"]]


TASKS = "/api/v1/queues/payments/tasks"


@pytest.mark.parametrize("params, want", [
    ({"type": "payment:refund"}, ["985c92ca-9929-582a-b82c-ca027af7d1be", "f2ca0995-8350-5b3d-8f7a-60c8531117ee"]),
    ({"type": "payment:", "type_prefix": "true"}, 5),
    ({"error": "CONNECTION refused"}, ["f2ca0995-8350-5b3d-8f7a-60c8531117ee"]),
    ({"since": "2026-11-22T17:11:23Z"}, ["b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]),
    ({"until": "2026-11-22T17:11:23Z"}, 4),
    ({"since": "2026-11-22", "until": "2026-11-22"}, 5),
    ({"retried_min": "1"}, ["b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]),
    ({"retried_max": "0"}, 4),
    ({"q": "card.holder=Alice Nguyen"}, PAYMENTS_CHARGES_WITH_CARD[:2]),
    ({"q": "card.holder=Alice Nguyen", "error": "duplicate"}, ["79c74fa0-387e-5d04-83e0-aef15939c31e"]),
    ({"type": ""}, 5),  # an empty filter still searches: same as the listing
    ({"id": "985c92ca-9929-582a-b82c-ca027af7d1be"}, ["985c92ca-9929-582a-b82c-ca027af7d1be"]),
    ({"q": "985c92ca-9929-582a-b82c-ca027af7d1be"}, ["985c92ca-9929-582a-b82c-ca027af7d1be"]),
    ({"id": "985c92ca-9929-582a-b82c-ca027af7d1be", "type": "payment:refund"}, ["985c92ca-9929-582a-b82c-ca027af7d1be"]),
    ({"id": "985c92ca-9929-582a-b82c-ca027af7d1be", "type": "payment:charge"}, []),
    ({"id": "985c92ca-9929-582a-b82c-ca027af7d1bE"}, []),  # exact
    ({"id": "nope"}, []),
])
def test_each_filter(viewer, params, want):
    response, body = viewer(TASKS, state="archived", **params)
    assert response.status_code == 200, body
    # An id is looked up, not scanned for.
    assert body["scanned"] == (1 if "id" in params or "=" not in params.get("q", "=") else 5)
    assert body["complete"] is True
    if isinstance(want, int):
        assert body["total"] == len(body["tasks"]) == want
    else:
        assert ids(body) == want and body["total"] == len(want)


def test_id_filter_any_bytes_and_the_state_it_is_in(as_user, asynq_redis, roles):
    from dlqadmin.asynq import keys, messages
    from dlqadmin.core import names

    odd = "id \x00é=1 "  # NUL, "=", spaces at the ends
    msg = messages.TaskMessage(id=odd, queue="q", type="t", payload=b"{}", retry=1)
    asynq_redis.sadd(keys.ALL_QUEUES, b"q")
    asynq_redis.hset(keys.task("q", odd), mapping={b"msg": messages.encode(msg), b"state": b"retry"})
    asynq_redis.zadd(keys.retry("q"), {keys.encode_name(odd): 1_795_000_000})
    bad = keys.decode_name(b"bad\xff")  # not UTF-8: no valid msg can name it
    asynq_redis.hset(keys.task("q", bad), mapping={b"msg": b"\xff\xff", b"state": b"retry"})
    asynq_redis.zadd(keys.retry("q"), {b"bad\xff": 1_795_000_001})
    get = as_user(make_user("v", ("viewer",)))
    url = "/api/v1/queues/q/tasks"
    response, body = get(url, state="retry", id=names.form_value(odd))
    assert response.status_code == 200 and body["total"] == 1 and body["scanned"] == 1
    assert body["tasks"][0]["url"].endswith("/tasks/id%20~00%C3%A9=1%20/")
    for params in ({"state": "archived"}, {"state": "retry", "type": "other"}, {"state": "retry", "id": "id"}):
        _, body = get(url, **{"id": names.form_value(odd), **params})
        assert body["total"] == 0, params
    # The same id given as q (a search box given an id) and in a bulk filter selects the same.
    _, body = get(url, state="retry", q=names.form_value(odd))
    assert body["total"] == 1 and body["tasks"][0]["url"].endswith("/tasks/id%20~00%C3%A9=1%20/")
    from dlqadmin.operations.services import parse_filter

    assert parse_filter({"q": names.form_value(odd)}).id == parse_filter({"id": names.form_value(odd)}).id == odd
    # A task we cannot decode is found by its id alone (marked unreadable), by nothing else.
    _, body = get(url, state="retry", id=names.form_value(bad))
    assert body["total"] == 1 and body["tasks"][0]["id"] == "bad\\xff"
    _, body = get(url, state="retry", id=names.form_value(bad), type="t")
    assert body["total"] == 0


def test_group_filter_and_aggregating(viewer):
    _, body = viewer("/api/v1/queues/default/tasks", group="batch-legacy")
    assert ids(body) == ["1efde6d2-4ebc-5fd2-8529-cf24f2d55d58"] and "scanned" in body
    # state=aggregating&group=G stays the plain listing of that group.
    _, body = viewer("/api/v1/queues/emails/tasks", state="aggregating", group="digest:user-42")
    assert body["total"] >= 1 and "scanned" not in body
    _, body = viewer("/api/v1/queues/emails/tasks", state="aggregating", group="digest:user-42", error="zzz")
    assert body["total"] == 0 and body["scanned"] >= 1


@pytest.mark.parametrize("params, message", [
    ({"since": "soon"}, "since must be"),
    ({"until": "0001-01-01T00:00:00+01:00"}, "until is out of range"),
    ({"since": "9999-12-31T23:00-05:00"}, "since is out of range"),
    ({"q": "=nothing"}, "field=value"),
    ({"q": "one", "id": "other"}, "another task id"),
    ({"retried_min": "5", "retried_max": "1"}, "retried_min must not be greater"),
    ({"type_prefix": "perhaps", "type": "x"}, "type_prefix"),
    ({"state": "dead", "type": "x"}, "state must be"),
    ({"page_size": "1000", "type": "x"}, "page_size"),
])
def test_bad_filters_are_400(viewer, params, message):
    response, body = viewer(TASKS, **params)
    assert response.status_code == 400 and body["error"] == "bad_parameter" and message in body["detail"]


@pytest.mark.parametrize("queue, params, revealed", [
    ("payments", {"q": f"card.card_number={CARD}"}, PAYMENTS_CHARGES_WITH_CARD),
    ("payments", {"q": "customer.email=alice.nguyen@example.com"}, PAYMENTS_CHARGES_WITH_CARD[:2]),
    ("reports", {"error": "d.volkov@example.com"}, ["3b38a283-4989-5305-86ff-ad2dc69c8870"]),
])
def test_masking_rule(as_user, golden, roles, queue, params, revealed):
    value = list(params.values())[0].split("=", 1)[-1]
    viewer = as_user(make_user("v", ("viewer",)))
    response, body = viewer(f"/api/v1/queues/{queue}/tasks", **params)
    assert body["total"] == 0 and body["tasks"] == [] and value not in response.content.decode()
    revealer = as_user(make_user("pv", ("payload_viewer", [queue])))
    response, body = revealer(f"/api/v1/queues/{queue}/tasks", **params)
    assert ids(body) == revealed and body["total"] == len(revealed)
    # The matches come back masked all the same.
    assert value not in response.content.decode() and CARD not in response.content.decode()


def test_paging_over_thousands(as_user, asynq_redis, roles):
    order = seed_archived(asynq_redis, "bulk", 2000)
    get = as_user(make_user("v", ("viewer",)))
    want = [tid for tid, m in order if "card declined" in m.error_msg and m.retried >= 3]
    seen = []
    for page in range(1, 20):
        _, body = get("/api/v1/queues/bulk/tasks", error="Card Declined", retried_min=3, page=page, page_size=100)
        assert body["total"] == len(want) and body["scanned"] == 2000 and body["complete"]
        if not body["tasks"]:
            break
        seen += ids(body)
    assert seen == want
    _, body = get("/api/v1/queues/bulk/tasks", q=f"card.card_number={CARD}")
    assert body["total"] == 0
    _, body = get("/api/v1/queues/bulk/tasks", q="customer.tier=t1", page_size=100)
    assert body["total"] == 500


def test_failures(viewer):
    response, body = viewer("/api/v1/queues/payments/failures")
    assert response.status_code == 200 and body["state"] == "archived"
    groups = body["groups"]
    assert sum(g["count"] for g in groups) == 5
    assert {"type", "reason", "example_error", "count", "first_seen", "last_seen", "url"} <= set(groups[0])
    refused = next(g for g in groups if g["reason"] == "dial tcp <ip>: connect: connection refused")
    assert refused["example_error"]["masked"] is True and refused["first_seen"] == "2026-11-22T17:11:21Z"
    for g in groups:
        link = urlsplit(g["url"])
        assert link.path == "/api/v1/queues/payments/tasks"
        assert parse_qs(link.query, keep_blank_values=True)["type"] == [g["type"]]
        _, tasks = viewer(link.path + "?" + link.query)
        assert tasks["total"] == g["count"]
    text = response.content.decode()
    assert not [s for s in planted_secrets() if s in json.loads(json.dumps(text))]
    response, body = viewer("/api/v1/queues/payments/failures", state="retry")
    assert [g["count"] for g in body["groups"]] == [1]
    response, body = viewer("/api/v1/queues/payments/failures", state="aggregating")
    assert response.status_code == 400


def test_failures_masked_for_a_payload_viewer_too(revealer):
    _, body = revealer("/api/v1/queues/emails/failures")
    text = json.dumps(body)
    assert not [s for s in planted_secrets() if s in text]


def test_invisible_queue_is_404(as_user, golden, roles):
    get = as_user(make_user("v", ("viewer", ["payments"])))
    for path in ("/api/v1/queues/emails/tasks", "/api/v1/queues/emails/failures", "/api/v1/queues/nope/failures"):
        response, body = get(path, error="x")
        assert response.status_code == 404 and body["error"] == "not_found", path


def test_openapi_documents_search_and_failures(client):
    doc = client.get("/api/v1/openapi.json").json()
    params = {p["name"] for p in doc["paths"]["/queues/{queue}/tasks"]["get"]["parameters"]}
    assert {"type", "type_prefix", "error", "since", "until", "group", "retried_min", "retried_max", "q",
            "reason"} <= params
    assert "/queues/{queue}/failures" in doc["paths"]
    assert "masked" in doc["paths"]["/queues/{queue}/tasks"]["get"]["description"]
