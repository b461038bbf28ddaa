"""Live counts: the user's refresh interval updates only the numbers, so keyboard focus,
scroll position and ticked boxes survive a refresh. The browser's timers run on
Playwright's clock, so no test waits for real seconds."""

import pytest
from playwright.sync_api import expect

from dlqadmin.accounts.models import Preferences

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCE = b"79c74fa0-387e-5d04-83e0-aef15939c31e"


def add_dead_task(redis, copy):
    member = SOURCE + b"-" + copy
    redis.zadd(b"asynq:{payments}:archived", {member: 1})
    redis.hset(b"asynq:{payments}:t:" + member,
               mapping={b"msg": redis.hget(b"asynq:{payments}:t:" + SOURCE, b"msg"), b"state": b"archived"})


@pytest.fixture
def every_15s(signed_in, staff):
    Preferences.objects.create(user=staff, refresh_seconds=15)
    signed_in.clock.install()
    return signed_in


def test_overview_refresh_keeps_focus_and_scroll(every_15s, golden, live_server):
    page = every_15s
    page.set_viewport_size({"width": 900, "height": 300})
    page.goto(f"{live_server.url}/")
    cell = page.locator('tr[data-queue="payments"] td.dlq')
    expect(cell).to_have_text("5")
    link = page.locator('tr[data-queue="emails"] td a').first
    link.focus()
    page.evaluate("() => window.scrollTo(0, 120)")
    scrolled = page.evaluate("() => window.scrollY")
    add_dead_task(golden, b"a")
    page.clock.run_for(14_000)
    expect(cell).to_have_text("5")  # not yet: the user chose 15 s
    page.clock.run_for(2_000)
    expect(cell).to_have_text("6")
    assert page.evaluate("() => document.activeElement.closest('tr').dataset.queue") == "emails"
    assert page.evaluate("() => window.scrollY") == scrolled
    assert page.is_hidden("#live-notice")


def test_queue_page_counts_refresh_and_ticked_boxes_stay(every_15s, staff, golden, live_server):
    from dlqadmin.access.services import grant

    grant(staff, "operator", all_queues=True)
    page = every_15s
    page.goto(f"{live_server.url}/queues/payments/?state=archived")
    box = page.locator("#tasks input[type=checkbox]").first
    box.check()
    box.focus()
    add_dead_task(golden, b"b")
    page.clock.run_for(16_000)
    expect(page.locator('#queue-facts [data-live="archived"]')).to_have_text("6")
    expect(page.locator('[data-live="tab:archived"]')).to_have_text("6")
    assert box.is_checked()
    assert page.evaluate("() => document.activeElement.type") == "checkbox"


def test_refresh_off_fetches_nothing(signed_in, staff, golden, live_server):
    Preferences.objects.create(user=staff, refresh_seconds=0)
    page = signed_in
    page.clock.install()
    page.goto(f"{live_server.url}/")
    polls = []
    page.on("request", lambda r: polls.append(r.url) if r.headers.get("x-dlq-poll") else None)
    add_dead_task(golden, b"c")
    page.clock.run_for(120_000)
    assert not polls
    expect(page.locator('tr[data-queue="payments"] td.dlq')).to_have_text("5")
    assert "live refresh is off" in page.text_content("main")
