"""Servers and scheduler pages in a real browser: every queue a server serves, and the
scheduler entry ID copied to the clipboard with one click (no inline script: strict CSP)."""

import pytest
from playwright.sync_api import expect

from tests.conftest import GOLDEN
from tests.support.redis_snapshot import restore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVERY_15S = "3a290004-6e89-4313-99ba-fef8ca317798"


@pytest.fixture
def live(golden):
    restore(golden, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)  # heartbeats stay
    return golden


def test_servers_list_every_queue_with_its_priority(signed_in, live, live_server):
    page = signed_in
    page.goto(f"{live_server.url}/servers/")
    chips = page.locator(".server-queues .chip")
    expect(chips).to_have_text(["critical 6", "payments 4", "default 3", "emails 2", "reports 1"])


def test_copy_a_scheduler_entry_id(signed_in, live, live_server):
    page = signed_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/scheduler/")
    button = page.locator(f'tr[data-entry="{EVERY_15S}"] button.copy')
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == EVERY_15S
    page.locator(f'tr[data-entry="{EVERY_15S}"] a', has_text="enqueue event").click()
    expect(page.locator("h1")).to_contain_text(EVERY_15S)
    expect(page.locator(".summary")).to_contain_text("Showing 1–1 of 1")
    assert not errors, errors
