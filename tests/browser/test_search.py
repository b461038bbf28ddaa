"""Search in a real browser: the form, results streaming in with a running count, Stop and Continue,
and the lazily loaded "Top failure reasons" with working links."""

import re
import time

import pytest
from playwright.sync_api import expect

from dlqadmin.triage import search as svc
from tests.triage.test_search import seed_archived

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COUNT = re.compile(r"(\d+) match(?:es)? in (\d+) of (\d+) scanned")


def status(page):
    m = COUNT.search(page.locator("#search-status").inner_text())
    return tuple(int(x) for x in m.groups())


@pytest.fixture
def slow_batches(monkeypatch):
    """Small, slowed-down batches, so a person (and this test) can watch them arrive."""
    real = svc.search_batch

    def slow(*args, **kwargs):
        time.sleep(0.15)
        return real(*args, **kwargs)

    monkeypatch.setattr(svc, "search_batch", slow)
    monkeypatch.setattr(svc, "BATCH_CHUNK", 50)
    monkeypatch.setattr(svc, "BATCH_ROWS", 25)


def test_search_streams_with_a_running_count_and_stops(signed_in, asynq_redis, live_server, slow_batches):
    order = seed_archived(asynq_redis, "bulk", 3000)
    want = [tid for tid, m in order if m.type == "pay:refund"]
    errors = []
    page = signed_in
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/queues/bulk/")
    form = page.locator("form.search-form")
    form.locator('input[name="type"]').fill("pay:refund")
    form.locator('button[type="submit"]').click()
    # The URL carries the filter: the search can be bookmarked and shared.
    expect(page).to_have_url(re.compile(r"/queues/bulk/search\?state=archived&type=pay%3Arefund$"))
    expect(page.locator('input[name="type"]')).to_have_value("pay:refund")
    rows = page.locator("#search-rows tr[data-task]")
    # Results stream in: the count and the rows grow without a reload.
    expect(page.locator("#search-status")).to_contain_text("scanned")
    first = status(page)
    expect(rows.nth(first[0] + 30)).to_be_attached(timeout=10000)
    later = status(page)
    assert later[0] > first[0] and later[1] > first[1] and later[2] == 3000
    page.locator("#search-status button.stop").click()
    expect(page.locator("#search-more")).to_contain_text("Search stopped")
    expect(page.locator("#search-status")).to_contain_text("stopped")
    stopped = rows.count()
    assert 0 < stopped < len(want)
    time.sleep(1.0)
    assert rows.count() == stopped  # nothing more arrives after Stop
    assert status(page)[0] == stopped
    # Continue picks up where it stopped; every match exactly once, in order.
    page.locator("#search-more button", has_text="Continue").click()
    expect(page.locator("#search-status .badge.done")).to_be_visible(timeout=120000)
    assert status(page) == (len(want), 3000, 3000)
    got = rows.evaluate_all("rs => rs.map(r => r.dataset.task)")
    assert got == want
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_failure_reasons_load_lazily_and_link_to_the_search(signed_in, golden, live_server):
    page = signed_in
    page.goto(f"{live_server.url}/queues/payments/")
    table = page.locator("#failures table#failure-groups")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(5)
    row = table.locator("tbody tr", has_text="connection refused")
    expect(row).to_contain_text("dial tcp <ip>: connect: connection refused")
    row.locator("td.num a").click()
    expect(page).to_have_url(re.compile(r"/queues/payments/search\?.*reason="))
    expect(page.locator("#search-rows tr[data-task]")).to_have_count(1)
    expect(page.locator("#search-status")).to_contain_text("1 match in 5 of 5 scanned")
