"""The dashboard in a real browser: login, overview with live polling, queue tabs via htmx."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast_poll(settings):
    settings.DLQADMIN_POLL_SECONDS = 1


def test_overview_shows_queues_and_refreshes_live(signed_in, golden, fast_poll, live_server):
    page = signed_in
    page.goto(f"{live_server.url}/")
    row = page.locator('tr[data-queue="payments"]')
    expect(row).to_be_visible()
    expect(row.locator("td.dlq")).to_have_text("5")
    # A new dead task appears without a reload: the live refresh updates the count in place.
    golden.zadd(b"asynq:{payments}:archived", {b"79c74fa0-387e-5d04-83e0-aef15939c31e-copy": 1})
    golden.hset(b"asynq:{payments}:t:79c74fa0-387e-5d04-83e0-aef15939c31e-copy",
                mapping={b"msg": golden.hget(b"asynq:{payments}:t:79c74fa0-387e-5d04-83e0-aef15939c31e", b"msg"),
                         b"state": b"archived"})
    expect(row.locator("td.dlq")).to_have_text("6", timeout=5000)


def test_queue_page_tabs_swap_with_htmx(signed_in, golden, live_server):
    page = signed_in
    page.goto(f"{live_server.url}/")
    page.click('tr[data-queue="emails"] td a >> nth=0')
    expect(page).to_have_url(re.compile(r"/queues/emails/$"))
    expect(page.locator("h1")).to_contain_text("emails")
    expect(page.locator("#tasks tr[data-task]")).to_have_count(4)  # the DLQ tab first
    # Switching tab swaps only #task-list and pushes the URL; the page is not reloaded.
    page.evaluate("window.__marker = 1")
    page.click('a.tab[data-state="pending"]')
    expect(page).to_have_url(re.compile(r"state=pending"))
    expect(page.locator("#tasks tr[data-task]")).to_have_count(2)
    assert page.evaluate("window.__marker") == 1
    # Task detail: fields shown, payload masked.
    page.click("#tasks tr[data-task] a >> nth=0")
    expect(page.locator("h1")).to_contain_text("Task")
    expect(page.locator(".detail")).to_contain_text("masked")


def test_csp_blocks_nothing_we_need(signed_in, golden, live_server):
    errors = []
    page = signed_in
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/queues/default/")
    page.click('a.tab[data-state="retry"]')
    expect(page.locator("#tasks tr[data-task]")).to_have_count(1)
    assert not [e for e in errors if "Content Security Policy" in e], errors
