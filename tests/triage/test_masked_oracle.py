"""No count, match or total a user can observe confirms a value masking hides from them.

Every entry point that evaluates a user's filter goes through one function
(dlqadmin.triage.search.matcher_for). For each of them, and for every secret planted in
the golden data at the payload path where it sits (plus the e-mail address in the
golden errors), an operator without the reveal right gets exactly what a value that
exists nowhere gets; an operator with it finds the tasks.
"""

import base64
import json
import re

import pytest
from django.core.management import call_command

from dlqadmin.asynq import keys, messages
from dlqadmin.operations.models import Operation
from tests.conftest import make_user, sign_in
from tests.support.golden_secrets import SNAPSHOT, planted_secrets
from tests.triage.test_search import stream, url

pytestmark = pytest.mark.django_db

STATES = ("archived", "retry")  # states every bulk action accepts and that hold tasks with secrets
COUNT = re.compile(r'<span class="exact-count">(\d+)</span>')
NOWHERE = "4000000000000002"  # a valid card number no golden task holds


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, str(i)))
    else:
        yield path, value


def _secret_filters():
    """(queue, state, filter params) for each planted secret in a JSON payload of a
    task in STATES, and for the planted secrets in its error message."""
    secrets = set(planted_secrets())
    found = set()
    entries = json.loads(SNAPSHOT.read_text())
    for entry in entries:
        if entry["type"] != "hash" or "msg" not in entry["value"]:
            continue
        state = base64.b64decode(entry["value"]["state"]["b64"]).decode()
        if state not in STATES:
            continue
        msg = messages.decode_task_message(base64.b64decode(entry["value"]["msg"]["b64"]))
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            doc = None
        for path, leaf in _leaves(doc) if isinstance(doc, dict) else ():
            text = leaf if isinstance(leaf, str) else json.dumps(leaf)
            if path and (text in secrets or any(s in text for s in secrets if len(s) >= 10)):
                found.add((msg.queue, state, (("q", f"{'.'.join(path)}={text}"),)))
        for secret in secrets:
            if secret in msg.error_msg:
                found.add((msg.queue, state, (("error", secret),)))
    return sorted(found)


SECRET_FILTERS = _secret_filters()


def _absent(params):
    """The same filter with a value that exists nowhere."""
    name, value = params[0]
    if name == "q":
        field = value.split("=", 1)[0]
        return ((name, f"{field}={NOWHERE}"),)
    return ((name, "zz.nobody@nowhere.invalid"),)


# --- the entry points: each returns what the user observes as a number ---------------------

def ui_search(c, queue, state, params):
    got, _, _ = stream(c, url(queue, state=state, **dict(params)))
    return len(got)


def api_search(c, queue, state, params):
    r = c.get(f"/api/v1/queues/{queue}/tasks", {"state": state, **dict(params)})
    assert r.status_code == 200, r.content
    return r.json()["total"]


def ui_bulk_confirmation(c, queue, state, params):
    r = c.post(f"/queues/{queue}/bulk", {"action": "delete", "state": state, **dict(params)})
    assert r.status_code == 200, r.content
    m = COUNT.search(r.content.decode())
    return int(m.group(1)) if m else 0


def api_bulk_total(c, queue, state, params):
    r = c.post(f"/api/v1/queues/{queue}/bulk", {"action": "delete", "state": state, "filter": dict(params)},
               content_type="application/json")
    assert r.status_code == 202, r.content
    Operation.objects.filter(pk=r.json()["id"]).update(status="cancelled")  # only the total matters here
    return r.json()["total"]


ENTRY_POINTS = [ui_search, api_search, ui_bulk_confirmation, api_bulk_total]


@pytest.fixture
def cast(roles):
    return {
        "operator": make_user("op_masked", ("operator",)),
        "revealer": make_user("op_reveal", ("operator",), ("payload_viewer",)),
    }


def test_the_golden_data_has_secrets_to_probe():
    assert len(SECRET_FILTERS) >= 10
    assert {p[0][0] for _, _, p in SECRET_FILTERS} == {"q", "error"}


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_a_secret_matches_as_often_as_a_value_that_does_not_exist(client, golden, cast, entry):
    sign_in(client, cast["operator"])
    leaks = [(queue, state, params, n) for queue, state, params in SECRET_FILTERS
             if (n := entry(client, queue, state, params)) != entry(client, queue, state, _absent(params))]
    assert leaks == []


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_with_the_reveal_right_the_secrets_are_found(client, golden, cast, entry):
    # The probe above is meaningful: the same filters do match raw data.
    sign_in(client, cast["revealer"])
    assert all(entry(client, queue, state, params) > 0 for queue, state, params in SECRET_FILTERS)


def test_a_masked_token_cannot_be_rebuilt_character_by_character(client, asynq_redis, cast):
    token = "tok_live_Zq8xW2pL9mN4vB7c"
    pipe = asynq_redis.pipeline()
    pipe.sadd(keys.ALL_QUEUES, b"billing")
    for i in range(3):
        tid = f"t{i}"
        msg = messages.TaskMessage(id=tid, queue="billing", type="charge", payload=b"{}", retry=1, retried=1,
                                   error_msg=f"upstream said 401 for Authorization: Bearer {token}",
                                   last_failed_at=1_790_000_000 + i)
        pipe.hset(keys.task("billing", tid), mapping={b"msg": messages.encode(msg), b"state": b"archived"})
        pipe.zadd(keys.archived("billing"), {tid: 1_790_000_000 + i})
    pipe.execute()
    sign_in(client, cast["operator"])
    for entry in ENTRY_POINTS:
        assert entry(client, "billing", "archived", (("error", "Bearer"),)) == 3, entry  # visible text matches
        for n in (4, 10, len(token)):
            assert entry(client, "billing", "archived", (("error", f"Bearer {token[:n]}"),)) == 0, (entry, n)


def test_the_worker_runs_a_bulk_over_what_its_starter_may_see(client, golden, cast):
    """Started by an operator without the reveal right, "delete all matching the card
    number" touches nothing; by one with it, exactly the tasks holding it."""
    card = (("q", "card.card_number=4111111111111111"),)
    before = golden.zcard(keys.archived("payments"))
    sign_in(client, cast["operator"])
    r = client.post("/api/v1/queues/payments/bulk", {"action": "delete", "state": "archived", "filter": dict(card)},
                    content_type="application/json")
    assert r.status_code == 202 and r.json()["total"] == 0
    call_command("run_operations", "--once")
    op = Operation.objects.get(pk=r.json()["id"])
    assert (op.status, op.total, op.done) == ("done", 0, 0)
    assert golden.zcard(keys.archived("payments")) == before
    client.logout()
    sign_in(client, cast["revealer"])
    r = client.post("/api/v1/queues/payments/bulk", {"action": "delete", "state": "archived", "filter": dict(card)},
                    content_type="application/json")
    assert r.json()["total"] == 3
    call_command("run_operations", "--once")
    assert Operation.objects.get(pk=r.json()["id"]).done == 3
    assert golden.zcard(keys.archived("payments")) == before - 3


def test_a_reveal_right_lost_before_the_worker_runs_no_longer_counts(client, golden, cast):
    from dlqadmin.access.services import revoke

    sign_in(client, cast["revealer"])
    r = client.post("/api/v1/queues/payments/bulk",
                    {"action": "delete", "state": "archived", "filter": {"q": "card.card_number=4111111111111111"}},
                    content_type="application/json")
    assert r.json()["total"] == 3
    revoke(cast["revealer"], "payload_viewer")
    call_command("run_operations", "--once")
    assert Operation.objects.get(pk=r.json()["id"]).done == 0
    assert golden.zcard(keys.archived("payments")) == 5


# --- failure groups ---------------------------------------------------------------------

def _seed_failures(r, queue, secrets, cards):
    pipe = r.pipeline()
    pipe.sadd(keys.ALL_QUEUES, keys.encode_name(queue))
    for i in range(12):
        tid = f"f{i}"
        secret = secrets[i % len(secrets)]
        err = [f"auth failed: Authorization: Bearer {secret} rejected",
               f"smtp: 550 <{secret[:6].lower()}@example.com>: Recipient address rejected",
               f"charge failed for card {cards[i % len(cards)]}",
               f"connect postgres://app:{secret}@db.internal:5432/app: refused"][i % 4]
        msg = messages.TaskMessage(id=tid, queue=queue, type="sync", payload=b"{}", retry=1, retried=1, error_msg=err,
                                   last_failed_at=1_790_000_000 + i)
        pipe.hset(keys.task(queue, tid), mapping={b"msg": messages.encode(msg), b"state": b"archived"})
        pipe.zadd(keys.archived(queue), {tid: 1_790_000_000 + i})
    pipe.execute()


def test_failure_groups_do_not_depend_on_hidden_values(client, asynq_redis, cast):
    """Two DLQs that differ only in the secrets their errors hold give the same groups,
    counts, order and examples: the grouping sees only the masked text. (The secrets
    have the same lengths: a masked value still says how long the raw text is.)"""
    _seed_failures(asynq_redis, "alpha", ["AbcSecretToken0xyzQQ", "AbcSecretToken1xyzQQ", "AbcSecretTokenXxyzQQ"],
                   ["4111111111111111", "5555555555554444"])
    _seed_failures(asynq_redis, "beta", ["ZyxOtherValu0kLmNoPP", "ZyxOtherValuQkLmNoPP"],
                   ["4000000000061111", "5555555035554444"])
    sign_in(client, cast["operator"])

    def groups(queue):
        body = client.get(f"/api/v1/queues/{queue}/failures").json()
        return [{k: v for k, v in g.items() if k != "url"} for g in body["groups"]]

    alpha, beta = groups("alpha"), groups("beta")
    assert alpha == beta and sum(g["count"] for g in alpha) == 12
    text = json.dumps(alpha)
    assert "AbcSecretToken" not in text and "4111111111111111" not in text


# --- audit ------------------------------------------------------------------------------

def test_search_and_bulk_confirmation_are_audited_with_the_filter_masked(client, golden, cast):
    from dlqadmin.audit.models import AuditEvent

    sign_in(client, cast["operator"])
    card = (("q", "card.card_number=4111111111111111"),)
    ui_search(client, "payments", "archived", card)
    api_search(client, "payments", "archived", (("error", "d.volkov@example.com"),))
    ui_bulk_confirmation(client, "payments", "archived", card)
    api_bulk_total(client, "payments", "archived", card)
    events = list(AuditEvent.objects.filter(action__in=["task.search", "task.bulk_preview", "task.bulk"])
                  .order_by("seq"))
    assert [e.action for e in events] == ["task.search", "task.search", "task.bulk_preview", "task.bulk"]
    assert all(e.actor_name == "op_masked" and e.queue == "payments" for e in events)
    assert events[0].detail["filter"]["q"].startswith("card.card_number=") and events[0].detail["via"] == "ui"
    assert events[1].detail["via"] == "api" and events[1].detail["found"] == 0
    assert events[2].detail["count"] == 0
    stored = json.dumps([e.detail for e in events], ensure_ascii=False)
    assert "4111111111111111" not in stored and "d.volkov" not in stored
    assert "••••1111" in stored
    # The operation's page and API show the filter masked too.
    op = Operation.objects.get()
    assert "4111111111111111" not in client.get(f"/operations/{op.pk}/").content.decode()
    assert "4111111111111111" not in json.dumps(client.get(f"/api/v1/operations/{op.pk}/").json())

