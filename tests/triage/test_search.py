"""Search page (streamed over htmx), its masking rule, and the "Top failure reasons" fragment."""

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from dlqadmin.asynq import keys, messages
from dlqadmin.asynq.search import normalise_error
from dlqadmin.triage import search as svc
from tests.conftest import make_user, sign_in
from tests.support.golden_secrets import planted_secrets

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr(?: class="broken")? data-task="([^"]+)"')
MORE = re.compile(r'<tr id="search-more" class="search-more" hx-get="([^"]+)"')
STOP = re.compile(r'class="stop" hx-get="([^"]+)"')
STATUS = re.compile(r"<strong>(\d+)</strong> match(?:es)? in (\d+) of (\d+) scanned")
CARD = "4111111111111111"
PAYMENTS_CHARGES_WITH_CARD = ["15303193-7c55-5fd5-9213-8771deaccdac", "79c74fa0-387e-5d04-83e0-aef15939c31e",
                              "b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]


def url(queue, **params):
    return f"/queues/{queue}/search" + ("?" + urlencode(params) if params else "")


def rows(html):
    return [unescape(i) for i in ROW.findall(html)]


def without_echo(html):
    """The page minus the user's own input echoed back (form values, links carrying the query)."""
    return re.sub(r'(?:value|href|hx-get)="[^"]*"', "", unescape(html))


def stream(client, first_url):
    """Load the page, then follow the sentinel like htmx does until the scan is done."""
    response = client.get(first_url)
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    got, requests = rows(html), 1
    while True:
        more = MORE.search(html)
        if not more:
            return got, html, requests
        response = client.get(urlsplit(first_url).path + unescape(more.group(1)), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html  # a fragment
        got += rows(html)
        requests += 1


@pytest.fixture
def viewer_client(client, golden, roles):
    return sign_in(client, make_user("v", ("viewer",)), verified=False)


@pytest.fixture
def revealer_client(client, golden, roles):
    return sign_in(client, make_user("pv", ("payload_viewer",)))


# --- every filter on the golden data ---------------------------------------------------------

@pytest.mark.parametrize("params, want", [
    ({"type": "payment:refund"}, ["985c92ca-9929-582a-b82c-ca027af7d1be", "f2ca0995-8350-5b3d-8f7a-60c8531117ee"]),
    ({"type": "payment:", "type_prefix": "1"}, "all"),
    ({"type": "payment:"}, []),
    ({"error": "CONNECTION refused"}, ["f2ca0995-8350-5b3d-8f7a-60c8531117ee"]),
    ({"since": "2026-11-22T17:11:23Z"}, ["b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]),
    ({"until": "2026-11-22T17:11:22"}, ["15303193-7c55-5fd5-9213-8771deaccdac", "79c74fa0-387e-5d04-83e0-aef15939c31e",
                                         "985c92ca-9929-582a-b82c-ca027af7d1be", "f2ca0995-8350-5b3d-8f7a-60c8531117ee"]),
    ({"since": "2026-11-22", "until": "2026-11-22"}, "all"),
    ({"since": "2026-11-23"}, []),
    ({"retried_min": "1"}, ["b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]),
    ({"retried_max": "0", "type": "payment:charge"}, PAYMENTS_CHARGES_WITH_CARD[:2]),
    ({"q": "card.holder=Alice Nguyen"}, PAYMENTS_CHARGES_WITH_CARD[:2]),
    ({"q": "amount_cents=1549"}, ["b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]),
    ({"q": "card.holder=Alice Nguyen", "error": "duplicate key"}, ["79c74fa0-387e-5d04-83e0-aef15939c31e"]),
])
def test_each_filter_on_golden(viewer_client, params, want):
    html = viewer_client.get(url("payments", **params)).content.decode()
    everything = rows(viewer_client.get(url("payments")).content.decode())
    assert len(everything) == 5
    assert rows(html) == (everything if want == "all" else want)
    assert "search-more" not in html  # a tiny DLQ: done in one request
    found, scanned, total = STATUS.search(html).groups()
    assert (int(found), int(scanned), int(total)) == (len(rows(html)), 5, 5)


def test_group_and_other_states(viewer_client):
    html = viewer_client.get(url("default", group="batch-legacy")).content.decode()
    assert rows(html) == ["1efde6d2-4ebc-5fd2-8529-cf24f2d55d58"]
    html = viewer_client.get(url("default", state="retry", error="bad gateway")).content.decode()
    assert len(rows(html)) == 1
    html = viewer_client.get(url("critical", state="scheduled", since="2030-01-01")).content.decode()
    assert len(rows(html)) == 1 and "Next run" in html
    html = viewer_client.get(url("emails", state="aggregating", group="digest:user-42")).content.decode()
    assert len(rows(html)) >= 1


def test_the_url_reflects_the_filters(viewer_client):
    params = {"state": "archived", "type": "payment:", "type_prefix": "1", "error": "items[0]", "q": "card.holder=Bob Okafor",
              "since": "2026-11-01", "until": "2026-12-01", "retried_min": "0", "retried_max": "9"}
    html = viewer_client.get(url("payments", **params)).content.decode()
    # The form comes back filled in: submitting it again (GET) gives the same URL.
    for name, value in params.items():
        if name == "type_prefix":
            assert 'name="type_prefix" value="1" checked' in html
        elif name == "state":
            assert '<option value="archived" selected>' in html
        elif name in ("since", "until"):
            # Date-time pickers (UTC); a date "until" includes its day: the next midnight.
            picked = {"since": "2026-11-01T00:00:00", "until": "2026-12-02T00:00:00"}[name]
            assert f'type="datetime-local" name="{name}" value="{picked}"' in html, name
        else:
            assert f'name="{name}" value="{value}"' in unescape(html), name
    assert 'method="get" action="/queues/payments/search"' in html
    # The streaming links carry the same filter, so every request searches the same thing.
    assert rows(html) == ["b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"]


@pytest.mark.parametrize("params, message", [
    ({"since": "yesterday"}, "since must be"),
    ({"q": " =no-field"}, "field=value"),
    ({"retried_min": "-1"}, "retried_min must be"),
    ({"state": "dead"}, "state must be one of"),
    ({"cursor": "garbage"}, "cursor is malformed"),
])
def test_bad_filter_shows_the_error_in_the_form(viewer_client, params, message):
    response = viewer_client.get(url("payments", **params))
    assert response.status_code == 400
    html = response.content.decode()
    assert message in unescape(html) and 'role="alert"' in html and 'role="search"' in html


def test_queue_page_has_the_search_form_and_lazy_failures(viewer_client):
    html = viewer_client.get("/queues/payments/").content.decode()
    assert 'action="/queues/payments/search"' in html
    assert 'hx-get="/queues/payments/failures" hx-trigger="load"' in html


# --- the masking rule -------------------------------------------------------------------

@pytest.mark.parametrize("queue, params, revealed", [
    ("payments", {"q": f"card.card_number={CARD}"}, PAYMENTS_CHARGES_WITH_CARD),
    ("payments", {"q": "customer.email=alice.nguyen@example.com"}, PAYMENTS_CHARGES_WITH_CARD[:2]),
    ("payments", {"q": "card.cvv=123"}, PAYMENTS_CHARGES_WITH_CARD),
    ("payments", {"q": "operator.password=s3cr3t-operator-pw"}, ["985c92ca-9929-582a-b82c-ca027af7d1be",
                                                                  "f2ca0995-8350-5b3d-8f7a-60c8531117ee"]),
    ("reports", {"error": "d.volkov@example.com"}, ["3b38a283-4989-5305-86ff-ad2dc69c8870"]),
    ("critical", {"error": "D.VOLKOV@example"}, ["59dac9f4-2416-5a30-961d-03915bdb3b35"]),
])
def test_a_viewer_cannot_confirm_a_masked_value(client, golden, roles, queue, params, revealed):
    value = list(params.values())[0].split("=", 1)[-1]
    sign_in(client, make_user("v", ("viewer",)), verified=False)
    html = client.get(url(queue, **params)).content.decode()
    assert rows(html) == []
    assert STATUS.search(html).group(1) == "0"
    assert value not in without_echo(html)
    client.logout()
    sign_in(client, make_user("pv", ("payload_viewer", [queue])))
    html = client.get(url(queue, **params)).content.decode()
    assert rows(html) == revealed
    # Results are masked all the same: revealing a task is a separate, audited step.
    assert value not in without_echo(html)
    assert CARD not in without_echo(html)


def test_a_viewer_finds_what_masking_shows(viewer_client):
    # The masked form of a card number is visible, so it can be searched for.
    html = viewer_client.get(url("payments", q="card.card_number=[card ••••1111]")).content.decode()
    assert rows(html) == PAYMENTS_CHARGES_WITH_CARD
    html = viewer_client.get(url("reports", error="recipient address rejected")).content.decode()
    assert rows(html) == ["3b38a283-4989-5305-86ff-ad2dc69c8870"]
    html = viewer_client.get(url("reports", error="@example.com")).content.decode()
    assert "3b38a283-4989-5305-86ff-ad2dc69c8870" in rows(html)  # the visible "•••@example.com"


def test_payload_viewer_of_another_queue_is_a_viewer_here(client, golden, roles):
    sign_in(client, make_user("pv", ("payload_viewer", ["emails"]), ("viewer", ["payments"])))
    html = client.get(url("payments", q=f"card.card_number={CARD}")).content.decode()
    assert rows(html) == []


# --- streaming over thousands of tasks ----------------------------------------------------

N = 2500


def seed_archived(r, queue, n=N, *, error=None, type_=None):
    """n archived tasks in asynq's layout, oldest first, with varied errors and payloads."""
    pipe = r.pipeline(transaction=False)
    pipe.sadd(keys.ALL_QUEUES, keys.encode_name(queue))
    order = []
    for i in range(n):
        tid = f"t-{i:05d}"
        failed = 1_795_000_000 + i
        err = error(i) if error else [f"timeout after {i % 9 + 1}s talking to 10.0.{i % 200}.1",
                                      f"card declined for cus_{i:08x}", "context deadline exceeded"][i % 3]
        msg = messages.TaskMessage(
            id=tid, queue=queue, type=type_(i) if type_ else ["pay:charge", "pay:refund"][i % 2],
            payload=json.dumps({"customer": {"email": f"user{i % 40}@example.com", "tier": f"t{i % 4}"},
                                "card": {"card_number": CARD if i % 10 == 0 else "5555555555554444"}}).encode(),
            retry=5, retried=i % 6, timeout=60, error_msg=err, last_failed_at=failed,
            group_key="g1" if i % 25 == 0 else "")
        pipe.hset(keys.task(queue, tid), mapping={b"msg": messages.encode(msg), b"state": b"archived"})
        pipe.zadd(keys.archived(queue), {tid: failed})
        order.append((tid, msg))
    pipe.execute()
    return order


@pytest.fixture
def many(asynq_redis, roles):
    return seed_archived(asynq_redis, "bulk")


def test_streaming_covers_the_whole_list_exactly_once(client, many, monkeypatch):
    monkeypatch.setattr(svc, "BATCH_CHUNK", 100)
    monkeypatch.setattr(svc, "BATCH_ROWS", 150)
    sign_in(client, make_user("v", ("viewer",)), verified=False)
    got, last, requests = stream(client, url("bulk"))
    assert got == [tid for tid, _ in many]
    assert requests >= N // 250
    assert STATUS.search(last).groups() == (str(N), str(N), str(N))
    assert 'badge done' in last and 'hx-swap-oob="true"' in last
    # A filtered stream: the running count only counts matches.
    got, last, _ = stream(client, url("bulk", error="CARD DECLINED", retried_min="2"))
    want = [tid for tid, m in many if "card declined" in m.error_msg and m.retried >= 2]
    assert got == want and STATUS.search(last).groups() == (str(len(want)), str(N), str(N))


def test_streamed_requests_are_bounded(client, many, monkeypatch):
    monkeypatch.setattr(svc, "BATCH_SECONDS", 0.0)  # one Redis call per request
    monkeypatch.setattr(svc, "BATCH_CHUNK", 500)
    sign_in(client, make_user("v", ("viewer",)), verified=False)
    html = client.get(url("bulk", type="pay:refund")).content.decode()
    found, scanned, total = map(int, STATUS.search(html).groups())
    assert scanned == 500 and total == N and found == 250
    assert MORE.search(html) and STOP.search(html)


def test_masking_rule_over_thousands(client, many, roles):
    sign_in(client, make_user("v", ("viewer",)), verified=False)
    got, last, _ = stream(client, url("bulk", q=f"card.card_number={CARD}"))
    assert got == [] and STATUS.search(last).groups() == ("0", str(N), str(N))
    got, _, _ = stream(client, url("bulk", q="customer.tier=t3"))  # not masked: found
    assert got == [tid for tid, m in many if json.loads(m.payload)["customer"]["tier"] == "t3"]
    client.logout()
    sign_in(client, make_user("pv", ("payload_viewer",)))
    got, _, _ = stream(client, url("bulk", q=f"card.card_number={CARD}"))
    assert got == [tid for i, (tid, _) in enumerate(many) if i % 10 == 0]


def test_stop_and_continue(client, many, monkeypatch):
    monkeypatch.setattr(svc, "BATCH_CHUNK", 100)
    monkeypatch.setattr(svc, "BATCH_ROWS", 100)
    sign_in(client, make_user("v", ("viewer",)), verified=False)
    html = client.get(url("bulk")).content.decode()
    first = rows(html)
    stop = unescape(STOP.search(html).group(1))
    assert "stop=1" in stop
    response = client.get("/queues/bulk/search" + stop, HTTP_HX_REQUEST="true")
    stopped = response.content.decode()
    assert response.status_code == 200 and "Search stopped" in stopped and rows(stopped) == []
    assert 'id="search-more" class="search-stopped"' in stopped and not MORE.search(stopped)
    assert STATUS.search(stopped).groups() == (str(len(first)), str(len(first)), str(N))
    assert "badge\">stopped" in stopped
    cont = unescape(re.search(r'hx-get="([^"]+)"[^>]*>Continue', stopped).group(1))
    got, last, _ = stream(client, "/queues/bulk/search" + cont)
    assert first + got == [tid for tid, _ in many]


# --- failure reasons -----------------------------------------------------------------------

def test_failures_fragment_on_golden(viewer_client):
    html = viewer_client.get("/queues/payments/failures").content.decode()
    assert "Top failure reasons" in html and "<html" not in html
    assert "dial tcp &lt;ip&gt;: connect: connection refused" in html
    links = sorted(set(re.findall(r'href="(/queues/payments/search\?[^"]+)"', html)))
    assert len(links) == 5
    total = 0
    for link in links:
        found = rows(viewer_client.get(unescape(link)).content.decode())
        assert len(found) == 1
        total += 1
    assert total == 5
    for secret in planted_secrets():
        assert secret not in unescape(html)


def test_failure_groups_are_masked_and_their_links_work(client, asynq_redis, roles):
    def error(i):
        if i % 2:
            return f"login failed for {['ann', 'bob', 'cyd'][i % 3]}@corp.example password=hunter{'ABC'[i % 3] * 3}: denied"
        return f"order {i} timed out after {i % 7 + 1}s"
    order = seed_archived(asynq_redis, "fg", 1200, error=error, type_=lambda i: "auth:login" if i % 2 else "order:ship")
    sign_in(client, make_user("v", ("viewer",)), verified=False)
    html = client.get("/queues/fg/failures").content.decode()
    text = unescape(html)
    for raw in ("hunterAAA", "hunterBBB", "hunterCCC", "ann@corp.example", "bob@corp.example"):
        assert raw not in text
    # The raw reasons differ only by a masked value: the masked groups merge.
    raw_reasons = {normalise_error(m.error_msg) for _, m in order if m.type == "auth:login"}
    assert len(raw_reasons) == 3
    counts = [int(c) for c in re.findall(r'<td class="num"><a href="[^"]+">(\d+)</a>', html)]
    assert sorted(counts) == [600, 600]
    links = re.findall(r'<td class="num"><a href="(/queues/fg/search\?[^"]+)">(\d+)</a>', html)
    for link, count in links:
        query = parse_qs(urlsplit(unescape(link)).query, keep_blank_values=True)
        assert "hunter" not in query["reason"][0]
        got, last, _ = stream(client, unescape(link))
        assert len(got) == int(count) and STATUS.search(last).group(1) == count
    # The same for a payload viewer: reasons are masked for everyone.
    client.logout()
    sign_in(client, make_user("pv", ("payload_viewer",)))
    assert "hunterBBB" not in unescape(client.get("/queues/fg/failures").content.decode())


def test_failures_are_cached_briefly(viewer_client, golden):
    first = viewer_client.get("/queues/default/failures").content.decode()
    golden.delete(keys.archived("default"))
    assert viewer_client.get("/queues/default/failures").content.decode() == first
    from django.core.cache import cache
    cache.clear()
    assert "No dead tasks" in viewer_client.get("/queues/default/failures").content.decode()


# --- access --------------------------------------------------------------------------------

def test_invisible_queue_is_404(client, golden, roles):
    sign_in(client, make_user("v", ("viewer", ["payments"])), verified=False)
    assert client.get(url("payments")).status_code == 200
    for path in (url("emails"), url("emails", error="x"), "/queues/emails/failures", url("nope"),
                 "/queues/nope/failures"):
        assert client.get(path).status_code == 404, path


def test_anonymous_is_sent_to_sign_in(client, golden):
    for path in (url("payments"), "/queues/payments/failures"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_submitted_form_redirects_to_a_clean_url(viewer_client):
    response = viewer_client.get("/queues/payments/search?state=archived&type=payment%3Arefund&error=&q=&since=")
    assert response.status_code == 302
    assert response["Location"] == "/queues/payments/search?state=archived&type=payment%3Arefund"
    html = viewer_client.get(response["Location"]).content.decode()
    assert len(rows(html)) == 2


def test_an_exact_task_id_jumps_to_the_task(viewer_client):
    task = "b97a0aa1-c08b-51e8-bb3f-d5a52a12d558"
    response = viewer_client.get(url("payments", id=task))
    assert response.status_code == 302 and response["Location"] == f"/queues/payments/tasks/{task}/"
    missing = viewer_client.get(url("payments", id="no-such-task"))
    assert missing.status_code == 404 and "No task with id" in missing.content.decode()


def test_a_datetime_picker_value_searches(viewer_client):
    html = viewer_client.get(url("payments", state="archived", since="2026-11-01T00:00")).content.decode()
    assert 'value="2026-11-01T00:00:00"' in html and rows(html)
