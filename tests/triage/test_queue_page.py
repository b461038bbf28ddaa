"""The queue page as triage wants it: the DLQ tab first, newest deaths first (read in
Redis), "Showing 1–20 of 45", first / last / jump-to-page, and a filtered URL shown
as the filtered list."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from tests.asynq.conftest import Seeder

pytestmark = pytest.mark.django_db

Q = "dlq"
BASE = dt.datetime(2031, 5, 14, 6, 30, tzinfo=dt.UTC)  # the clock fixture stands at 09:30


@pytest.fixture
def dead_45(asynq_redis, clock):
    """d00..d44 died one minute apart, d44 last."""
    seed = Seeder(asynq_redis)
    pipe = asynq_redis.pipeline(transaction=False)
    for i in range(45):
        at = int((BASE + dt.timedelta(minutes=i)).timestamp())
        msg = seed.message(Q, f"d{i:02d}", type=f"job:{i % 7}", last_failed_at=at, error_msg=f"boom {i % 7}",
                           retried=25)
        seed.add(Q, "archived", msg, score=at, pipe=pipe)
    seed.add(Q, "pending", seed.message(Q, "p0"), pipe=pipe)
    pipe.execute()
    return [f"d{i:02d}" for i in range(45)]


def rows(html):
    return re.findall(r'<tr data-task="([^"]+)"', html)


def test_dlq_tab_first_and_newest_dead_first(dead_45, staff_client):
    html = staff_client.get(reverse("triage:queue", args=[Q])).content.decode()
    tabs = re.findall(r'data-state="([a-z]+)"', html)
    assert tabs[0] == "archived"
    assert rows(html) == dead_45[::-1][:20]
    assert "Showing 1–20 of 45 archived tasks" in html and 'href="/queues/dlq/tasks/d44/"' in html
    # The first task row comes before the search form and the failure reasons.
    assert html.index('id="tasks"') < html.index('role="search"') < html.index('id="failures"')


def test_oldest_first_is_offered(dead_45, staff_client):
    html = staff_client.get(reverse("triage:queue", args=[Q]), {"order": "oldest", "page": 3}).content.decode()
    assert rows(html) == dead_45[40:]
    assert "Showing 41–45 of 45" in html
    # Task links carry the chosen order, so the task page's previous / next follow it.
    assert 'href="/queues/dlq/tasks/d40/?order=oldest"' in html
    bad = staff_client.get(reverse("triage:queue", args=[Q]), {"order": "sideways"})
    assert bad.status_code == 400 and "order must be newest or oldest" in bad.content.decode()


def test_first_last_and_jump(dead_45, staff_client):
    html = staff_client.get(reverse("triage:queue", args=[Q]), {"page": 2}).content.decode()
    assert rows(html) == dead_45[::-1][20:40]
    assert 'id="page-first"' in html and 'id="page-last"' in html
    last = re.search(r'id="page-last"', html) and re.search(r'href="([^"]*page=3[^"]*)"[^>]*id="page-last"', html)
    assert last, "the Last link goes to page 3"
    assert re.search(r'<input type="number" name="page" id="jump-page" min="1" max="3" value="2"', html)


def test_dates_are_relative_with_utc_on_hover(dead_45, staff_client):
    html = staff_client.get(reverse("triage:queue", args=[Q])).content.decode()
    # d44 died at 07:14, the app clock says 09:30.
    assert '<time class="ago" datetime="2031-05-14T07:14:00Z" title="2031-05-14 07:14:00 UTC">2 h ago</time>' in html


def test_a_filtered_queue_url_shows_the_filtered_list(dead_45, staff_client):
    url = reverse("triage:queue", args=[Q])
    response = staff_client.get(url, {"state": "archived", "error": "boom 3"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("triage:search", args=[Q]) + "?")
    html = staff_client.get(response["Location"]).content.decode()
    assert set(rows(html)) == {f"d{i:02d}" for i in range(45) if i % 7 == 3}


def test_task_page_previous_next_in_the_list_order(dead_45, staff_client):
    url = reverse("triage:task", args=[Q, "d10"])
    html = staff_client.get(url).content.decode()  # the DLQ's default: newest first
    assert 'id="task-prev" href="/queues/dlq/tasks/d11/?order=newest"' in html
    assert 'id="task-next" href="/queues/dlq/tasks/d09/?order=newest"' in html
    html = staff_client.get(url, {"order": "oldest"}).content.decode()
    assert 'id="task-prev" href="/queues/dlq/tasks/d09/?order=oldest"' in html
    html = staff_client.get(reverse("triage:task", args=[Q, "d44"])).content.decode()
    assert 'id="task-prev"' not in html and 'id="task-next" href="/queues/dlq/tasks/d43/' in html


def test_skip_retry_errors_warn(asynq_redis, clock, staff_client):
    seed = Seeder(asynq_redis)
    seed.add(Q, "archived", seed.message(Q, "s1", error_msg="card declined: skip retry for the task"), score=1)
    seed.add(Q, "archived", seed.message(Q, "s2", error_msg="timeout"), score=2)
    assert 'id="skip-retry-warning"' in staff_client.get(reverse("triage:task", args=[Q, "s1"])).content.decode()
    assert 'id="skip-retry-warning"' not in staff_client.get(reverse("triage:task", args=[Q, "s2"])).content.decode()


def test_failure_reasons_top_five_then_all(dead_45, staff_client):
    html = staff_client.get(reverse("triage:failures", args=[Q]), headers={"HX-Request": "true"}).content.decode()
    top, rest = html.split('id="more-failures"')
    assert top.count("<tr>") - 1 == 5 and "All 7 reasons" in rest and rest.count("<tr>") - 1 == 2
    assert "Retry all" not in html  # a viewer: links to select, no actions


def test_failure_rows_offer_bulk_actions_to_operators(dead_45, roles, client):
    from tests.conftest import make_user, sign_in

    sign_in(client, make_user("op1", ("operator", [Q])))
    html = client.get(reverse("triage:failures", args=[Q]), headers={"HX-Request": "true"}).content.decode()
    assert html.count(">Retry all 7…</button>") == 3 and html.count(">Delete all 6…</button>") == 4
    assert 'name="reason" value="boom &lt;n&gt;"' in html and 'name="type" value="job:0"' in html


def test_the_api_pages_newest_first_when_asked(dead_45, staff_client):
    url = f"/api/v1/queues/{Q}/tasks"
    assert [t["id"] for t in staff_client.get(url, {"page_size": 5}).json()["tasks"]] == dead_45[:5]
    newest = staff_client.get(url, {"page_size": 5, "order": "newest"}).json()["tasks"]
    assert [t["id"] for t in newest] == dead_45[::-1][:5]


def test_picker_values_and_relative_times():
    from dlqadmin.core.templatetags.dlq import picker_value, relative

    assert picker_value("2026-01-31") == "2026-01-31T00:00:00"
    assert picker_value("2026-01-31", "until") == "2026-02-01T00:00:00"  # a date until includes its day
    assert picker_value("2026-01-31T10:00:00+02:00") == "2026-01-31T08:00:00"
    assert picker_value("9999-12-31", "until") == picker_value("junk") == ""
    assert picker_value("0001-01-01T00:00:00+01:00") == picker_value("9999-12-31T23:00-05:00") == ""
    at = dt.datetime(2031, 5, 14, 9, 30, tzinfo=dt.UTC)
    assert relative(at - dt.timedelta(seconds=20), at) == "just now"
    for seconds in (45, 50, 59.9):  # every span under a minute, none left without a unit
        assert relative(at - dt.timedelta(seconds=seconds), at) == "just now"
    assert relative(at - dt.timedelta(seconds=60), at) == "1 min ago"
    assert relative(at - dt.timedelta(hours=3, minutes=5), at) == "3 h ago"
    assert relative(at + dt.timedelta(minutes=5), at) == "in 5 min"
    assert relative(at - dt.timedelta(days=40), at) == "1 mo ago"
