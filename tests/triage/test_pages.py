"""The read-only dashboard against the golden asynq state, through Django's test client."""

import json
from html import unescape

import pytest
from django.urls import reverse

from tests.conftest import GOLDEN
from tests.support.golden_secrets import planted_secrets

pytestmark = pytest.mark.django_db

INSPECTOR = json.loads((GOLDEN / "mixed" / "inspector.json").read_text())

# Every secret planted in the golden payloads, headers, errors and results, plus raw
# HTML from task fields: none may ever reach a page unmasked / unescaped.
WITHHELD = [*planted_secrets(), "<script>alert(1)</script>", "onerror=alert"]


def assert_nothing_withheld_leaks(html):
    text = unescape(html)
    for secret in planted_secrets():
        assert secret not in text, f"{secret!r} leaked into the page"
    assert "<script>alert(1)</script>" not in html and "<img src=x onerror" not in html
    assert '"cvv": 123' not in text and "'cvv': 123" not in text


def test_login_required(client, golden):
    response = client.get(reverse("triage:overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_overview_lists_every_queue_with_counts(staff_client, golden):
    response = staff_client.get(reverse("triage:overview"))
    assert response.status_code == 200
    html = response.content.decode()
    for name, qi in INSPECTOR["queue_info"].items():
        assert f'data-queue="{name}"' in html
        assert reverse("triage:queue", args=[name]) in html
    total_dead = sum(qi["archived"] for qi in INSPECTOR["queue_info"].values())
    assert f"{total_dead} dead tasks" in html
    assert "paused" in html  # reports is paused
    assert_nothing_withheld_leaks(html)


def test_overview_htmx_poll_returns_only_the_table(staff_client, golden):
    response = staff_client.get(reverse("triage:overview"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="queues"' in html


@pytest.mark.parametrize("state", ["pending", "active", "scheduled", "retry", "archived", "completed"])
def test_queue_page_every_state(staff_client, golden, state):
    for name in INSPECTOR["queues"]:
        response = staff_client.get(reverse("triage:queue", args=[name]), {"state": state, "page_size": 100})
        assert response.status_code == 200
        html = response.content.decode()
        for task in INSPECTOR["tasks"][name][state]:
            assert f'data-task="{task["id"]}"' in html
        assert_nothing_withheld_leaks(html)


def test_queue_page_defaults_to_the_dlq(staff_client, golden):
    html = staff_client.get(reverse("triage:queue", args=["payments"])).content.decode()
    for task in INSPECTOR["tasks"]["payments"]["archived"]:
        assert task["id"] in html


def test_aggregating_tab_lists_groups_and_their_tasks(staff_client, golden):
    url = reverse("triage:queue", args=["emails"])
    html = staff_client.get(url, {"state": "aggregating"}).content.decode()
    assert "digest:user-42 (3)" in html and "digest:user-77 (1)" in html
    html = staff_client.get(url, {"state": "aggregating", "group": "digest:user-77"}).content.decode()
    for task in INSPECTOR["tasks"]["emails"]["aggregating"]["digest:user-77"]:
        assert task["id"] in html


def test_pagination_and_page_sizes(staff_client, golden):
    url = reverse("triage:queue", args=["default"])
    first = staff_client.get(url, {"state": "archived", "page_size": 10}).content.decode()
    assert "Showing 1–" in first and 'max="1"' in first
    bad = staff_client.get(url, {"state": "archived", "page_size": 7})
    assert bad.status_code == 400 and "page_size must be one of" in bad.content.decode()
    past = staff_client.get(url, {"state": "archived", "page": 9}).content.decode()
    assert "past the end" in past


def test_htmx_tab_switch_returns_the_fragment(staff_client, golden):
    url = reverse("triage:queue", args=["default"])
    response = staff_client.get(url, {"state": "pending"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and 'id="tasks"' in html


def test_task_detail_shows_fields_but_withholds_data(staff_client, golden):
    for name in INSPECTOR["queues"]:
        for state, tasks in INSPECTOR["tasks"][name].items():
            if state == "aggregating":
                tasks = [t for group in tasks.values() for t in group]
            for task in tasks:
                response = staff_client.get(reverse("triage:task", args=[name, task["id"]]))
                assert response.status_code == 200, (name, task["id"])
                html = response.content.decode()
                assert task["type"] in html
                assert_nothing_withheld_leaks(html)
                if task["payload_b64"]:
                    assert 'class="badge masked"' in html or "binary" in html


def test_unknown_queue_and_task_are_404(staff_client, golden):
    assert staff_client.get(reverse("triage:queue", args=["nope"])).status_code == 404
    assert staff_client.get(reverse("triage:task", args=["default", "nope"])).status_code == 404


def test_empty_redis_shows_empty_state(staff_client, asynq_redis):
    html = staff_client.get(reverse("triage:overview")).content.decode()
    assert "No queues to show" in html


def test_redis_unreachable_is_a_clear_503(staff_client, redis_down):
    response = staff_client.get(reverse("triage:overview"))
    assert response.status_code == 503
    assert "Redis unreachable" in response.content.decode()
    poll = staff_client.get(reverse("triage:overview"), headers={"HX-Request": "true"})
    assert poll.status_code == 503 and "<html" not in poll.content.decode()
    assert "Redis unreachable" in poll.content.decode()


def test_overview_says_when_it_read_the_queues_on_the_app_clock(staff_client, golden):
    # The golden clock stands at 2026-11-22T17:11:39.646Z.
    assert 'Updated <span data-live="updated">17:11:39</span> UTC' in staff_client.get(reverse("triage:overview")).content.decode()
