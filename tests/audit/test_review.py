"""Audit review: page filters, keyset pages, expandable events, streamed audited exports, API."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from dlqadmin.audit import selectors
from tests.audit.conftest import last, seed
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db

START = datetime(2030, 3, 1, tzinfo=UTC)


def seqs(response):
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', response.content.decode())]


@pytest.fixture
def mixed(auditor):
    """40 events, one an hour from 2030-03-01 00:00 UTC, with varied fields."""
    return seed(
        40,
        actor_name=lambda i: ["alice", "bob"][i % 2],
        actor_id=lambda i: [101, 102][i % 2],
        action=lambda i: ["task.retry", "task.discard", "payload.reveal", "policy.change"][i % 4],
        queue=lambda i: "payments" if i < 20 else "emails",
        task_id=lambda i: f"task-{i:03d}",
        outcome=lambda i: "denied" if i % 10 == 9 else "success",
        reason=lambda i: "INC-4242 customer refund" if i == 17 else "",
        detail=lambda i: {"i": i},
    )


def test_the_page_lists_newest_first_with_filters(auditor_client, mixed):
    response = auditor_client.get("/audit/")
    assert response.status_code == 200
    shown = seqs(response)
    assert shown == sorted(shown, reverse=True) and shown[0] == mixed[-1].seq
    assert 'href="/audit/"' in auditor_client.get("/").content.decode()  # the nav link


@pytest.mark.parametrize("query, expected", [
    ("actor=alice", lambda i: i % 2 == 0),
    ("action=payload.reveal", lambda i: i % 4 == 2),
    ("queue=emails", lambda i: i >= 20),
    ("task_id=task-007", lambda i: i == 7),
    ("outcome=denied", lambda i: i % 10 == 9),
    ("since=2030-03-02&until=2030-03-02", lambda i: 24 <= i < 48),  # one UTC day, inclusive
    ("since=2030-03-01T05:00:00Z&until=2030-03-01T08:00:00Z", lambda i: 5 <= i < 8),
    ("q=inc-4242", lambda i: i == 17),  # free text, case-insensitive, over reason
    ("q=task-03", lambda i: 30 <= i < 40),  # over task ids
    ("q=%22i%22:%2033", lambda i: i == 33),  # over detail
    ("actor=bob&queue=payments&outcome=denied", lambda i: i % 2 == 1 and i < 20 and i % 10 == 9),
])
def test_each_filter(auditor_client, mixed, query, expected):
    want = [e.seq for i, e in reversed(list(enumerate(mixed))) if expected(i)]
    assert seqs(auditor_client.get(f"/audit/?{query}")) == want
    api = auditor_client.get(f"/api/v1/audit?{query}").json()
    assert [e["seq"] for e in api["events"]] == want


def test_bad_filters_say_why(auditor_client, mixed):
    for query, message in [("q=ab", "at least 3"), ("outcome=maybe", "outcome"), ("since=yesterday", "since"),
                           ("since=2030-03-02&until=2030-03-01", "before its end"), ("before=x", "before")]:
        response = auditor_client.get(f"/audit/?{query}")
        assert response.status_code == 400 and message in response.content.decode()
        api = auditor_client.get(f"/api/v1/audit?{query}")
        assert api.status_code == 400 and api.json()["error"] == "bad_parameter"
    # An htmx request gets the message in a 200 fragment (htmx swaps only 2xx).
    fragment = auditor_client.get("/audit/?q=ab", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "at least 3" in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_keyset_pagination(auditor_client, auditor):
    from dlqadmin.audit.models import AuditEvent

    seed(120)
    newest = list(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True))
    assert len(newest) > 120  # the seeded rows plus the auditor's grant and sign-in
    page1 = auditor_client.get("/audit/")
    assert seqs(page1) == newest[:50]
    older = re.search(r'rel="next" href="\?before=(\d+)"', page1.content.decode()).group(1)
    page2 = auditor_client.get(f"/audit/?before={older}")
    assert seqs(page2) == newest[50:100]
    page3_cursor = re.search(r'rel="next" href="\?before=(\d+)"', page2.content.decode()).group(1)
    page3 = auditor_client.get(f"/audit/?before={page3_cursor}")
    assert seqs(page3) == newest[100:] and 'rel="next"' not in page3.content.decode()
    newer = re.search(r'rel="prev" href="\?after=(\d+)"', page3.content.decode()).group(1)
    assert seqs(auditor_client.get(f"/audit/?after={newer}")) == newest[50:100]


def test_keyset_pagination_keeps_the_filters(auditor_client, auditor):
    seed(130, queue=lambda i: "payments" if i % 2 else "emails")
    page1 = auditor_client.get("/audit/?queue=payments").content.decode()
    cursor = re.search(r'rel="next" href="\?queue=payments&amp;before=(\d+)"', page1).group(1)
    page2 = auditor_client.get(f"/audit/?queue=payments&before={cursor}")
    assert len(seqs(page2)) == 15


def test_each_event_expands_to_every_field(auditor_client, auditor):
    seed(1, actor_name="alice", actor_id=7, action="payload.reveal", queue="payments", task_id="t-1",
         reason="<script>x</script> INC-1", ip="192.0.2.1", user_agent="UA/1", request_id="rid-9",
         detail={"fields": ["payload"], "note": "<b>"})
    html = auditor_client.get("/audit/?action=payload.reveal").content.decode()
    details = html[html.index('class="event-detail-row"'):html.index("</dl>")]
    for text in ("alice", "user id 7", "payments", "t-1", "INC-1", "192.0.2.1", "UA/1", "rid-9",
                 "&quot;fields&quot;", "Previous hash"):
        assert text in details, text
    assert "<script>x" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in details


def test_only_auditors_and_admins_read_the_log(client, roles, mixed):
    viewer = make_user("vera", ("viewer",))
    sign_in(client, viewer)
    for url in ("/audit/", "/audit/export.csv", "/audit/export.json"):
        assert client.get(url).status_code == 403
    api = client.get("/api/v1/audit")
    assert api.status_code == 403 and api.json()["error"] == "forbidden"
    denied = last("access.denied")
    assert denied.actor_name == "vera" and denied.detail["path"] == "/api/v1/audit"
    client.logout()
    assert client.get("/audit/").status_code == 302
    assert client.get("/api/v1/audit").status_code == 401
    admin = make_user("root2", ("admin",))
    sign_in(client, admin)
    assert client.get("/audit/").status_code == 200 and client.get("/api/v1/audit").status_code == 200


def _body(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def test_csv_export_streams_is_filtered_and_audited(auditor_client, auditor, mixed):
    response = auditor_client.get("/audit/export.csv?queue=emails&outcome=denied",
                                  headers={"X-Request-ID": "req-export"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [int(r["seq"]) for r in rows] == [e.seq for i, e in enumerate(mixed) if i >= 20 and i % 10 == 9]
    assert json.loads(rows[0]["detail"]) == {"i": 29}
    export = last("audit.export")
    assert (export.actor_name, export.request_id) == ("audra", "req-export")
    assert export.detail == {"format": "csv", "filters": {"queue": "emails", "outcome": "denied"}}


def test_csv_cells_cannot_run_as_formulas(auditor_client, auditor):
    seed(1, reason="=HYPERLINK(\"http://evil\")", target="+1", message="@SUM(A1)")
    body = _body(auditor_client.get("/audit/export.csv?action=test.event"))
    row = next(csv.DictReader(io.StringIO(body)))
    assert row["reason"].startswith("'=") and row["target"] == "'+1" and row["message"] == "'@SUM(A1)"


def test_json_export_streams_in_chunks_and_includes_its_own_record(auditor_client, auditor, monkeypatch):
    seed(25)
    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 7)
    with CaptureQueriesContext(connection) as queries:
        response = auditor_client.get("/audit/export.json")
        events = json.loads(_body(response))
    chunk_queries = [q for q in queries.captured_queries if 'FROM "audit_auditevent"' in q["sql"]
                     and "LIMIT 7" in q["sql"]]
    assert len(chunk_queries) == len(events) // 7 + 1  # one query per chunk, never one for everything
    assert response["Content-Type"].startswith("application/json")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["action"] == "audit.export" and events[-1]["actor"]["name"] == "audra"
    assert set(events[0]) >= {"seq", "time", "actor", "action", "queue", "task_id", "target", "reason", "outcome",
                              "message", "request_id", "ip", "user_agent", "detail", "prev_hash", "hash"}


def test_an_unfiltered_json_export_can_be_verified_offline(auditor_client, auditor, tmp_path):
    seed(10, detail=lambda i: {"i": i, "f": i / 3})
    path = tmp_path / "audit.json"
    path.write_text(_body(auditor_client.get("/audit/export.json")), encoding="utf-8")
    out = io.StringIO()
    call_command("verify_audit_log", "--file", str(path), stdout=out)
    assert "rows verified" in out.getvalue()
    data = json.loads(path.read_text())
    data[4]["reason"] = "edited"
    path.write_text(json.dumps(data))
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="row #5"):
        call_command("verify_audit_log", "--file", str(path))


def test_api_pages_with_next_links_and_tokens(client, auditor):
    from dlqadmin.api.models import ApiToken

    seed(30, queue="payments")
    _, raw = ApiToken.issue(auditor)
    headers = {"Authorization": f"Bearer {raw}"}
    first = client.get("/api/v1/audit?queue=payments&limit=20", headers=headers).json()
    assert len(first["events"]) == 20 and first["newer"] is None
    second = client.get(first["next"], headers=headers).json()
    assert len(second["events"]) == 10 and second["next"] is None
    assert {e["queue"] for e in first["events"] + second["events"]} == {"payments"}
    back = client.get(second["newer"], headers=headers).json()
    assert [e["seq"] for e in back["events"]] == [e["seq"] for e in first["events"]]
    assert client.get("/api/v1/audit?limit=500", headers=headers).status_code == 400
    assert client.get("/api/v1/audit?before=5&after=2", headers=headers).status_code == 400


def test_date_range_with_no_rows(auditor_client, mixed):
    assert auditor_client.get("/api/v1/audit?since=2031-01-01").json()["events"] == []
    assert auditor_client.get("/api/v1/audit?until=2000-01-01").json()["events"] == []


def test_date_range_translates_to_seq_bounds(mixed):
    filters = selectors.parse_filters({"since": "2030-03-01T10:00:00Z", "until": "2030-03-01T12:00:00Z"})
    assert selectors.seq_range(filters) == (mixed[10].seq, mixed[11].seq)
    assert (START + timedelta(hours=10)) == mixed[10].created_at


@pytest.mark.parametrize("window", [5, 2000])
def test_free_text_finds_old_matches_beyond_the_recent_window(auditor_client, monkeypatch, window):
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", window)
    rows = seed(40, reason=lambda i: "a needle here" if i in (2, 3, 30, 38) else "hay")
    want = [rows[i].seq for i in (38, 30, 3, 2)]
    assert seqs(auditor_client.get("/audit/?q=needle")) == want
    first = auditor_client.get("/api/v1/audit?q=needle&limit=2").json()
    assert [e["seq"] for e in first["events"]] == want[:2]
    second = auditor_client.get(first["next"]).json()
    assert [e["seq"] for e in second["events"]] == want[2:] and second["next"] is None
    back = auditor_client.get(second["newer"]).json()
    assert [e["seq"] for e in back["events"]] == want[:2]


def test_an_intent_and_its_outcome_are_one_entry(auditor_client):
    intent = seed(1, action="task.retry", queue="payments", task_id="t-9", outcome="intent", reason="INC-7")[0]
    seed(1, action="task.retry", queue="payments", task_id="t-9", outcome="success", detail={"intent": intent.seq})
    seed(1, action="task.delete", queue="payments", outcome="intent")  # no outcome yet: its own row
    html = auditor_client.get("/audit/").content.decode()
    row = r'<tr data-seq="\d+" data-action="(task[\w.]+)" data-outcome="(\w+)"(?: data-intent-seq="(\d+)")?'
    rows = re.findall(row, html)
    assert rows == [("task.delete", "intent", ""), ("task.retry", "success", str(intent.seq))]
    assert "Intent #%d" % intent.seq in html and "INC-7" in html


def test_the_action_filter_offers_the_names_in_the_log(auditor_client):
    seed(1, action="vault.redrive")
    seed(2, action="zz.custom_action")
    html = auditor_client.get("/audit/").content.decode()
    offered = re.findall(r'<option value="([\w.]+)">', html.split('id="known-actions"')[1].split("</datalist>")[0])
    assert {"vault.redrive", "zz.custom_action", "login"} <= set(offered) and offered == sorted(offered)
