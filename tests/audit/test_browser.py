"""The audit review page in a real browser: an auditor signs in and filters the log."""

import re

import pytest
from playwright.sync_api import expect

from tests.audit.conftest import seed
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_auditor_filters_the_log(page, live_server, auditor):
    seed(30, action=lambda i: "task.retry" if i % 3 == 0 else "task.discard",
         queue=lambda i: "payments" if i % 2 else "emails", reason=lambda i: f"INC-{1000 + i}")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", auditor.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.click("header nav >> text=Audit")
    expect(page.locator("h1")).to_have_text("Audit log")
    rows = page.locator("#events tbody tr[data-seq]")
    expect(rows.first).to_be_visible()

    # Filter by action and queue: htmx swaps the results and pushes the URL.
    page.evaluate("window.__marker = 1")
    page.fill("#f-action", "task.retry")
    page.fill("#f-queue", "payments")
    page.click("#audit-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"action=task.retry.*queue=payments"))
    expect(rows).to_have_count(5)  # i = 3, 9, 15, 21, 27
    for action in rows.evaluate_all("rows => rows.map(r => r.dataset.action)"):
        assert action == "task.retry"
    assert page.evaluate("window.__marker") == 1  # no full page load

    # Free text narrows it to one event, which expands to its full record.
    page.fill("#f-q", "inc-1021")
    page.click("#audit-filters button[type=submit]")
    expect(rows).to_have_count(1)
    # The record opens in a row of its own below, as wide as the table: no column squeezed.
    details = page.locator("#events tr.event-detail-row")
    expect(details).to_be_hidden()
    widths = rows.first.evaluate("r => [...r.cells].map(c => c.getBoundingClientRect().width)")
    rows.first.locator("button.event-toggle").click()
    expect(details).to_be_visible()
    expect(details).to_contain_text("INC-1021")
    expect(details).to_contain_text("Previous hash")
    after = rows.first.evaluate("r => [...r.cells].map(c => c.getBoundingClientRect().width)")
    assert all(abs(a - b) < 2 for a, b in zip(after, widths, strict=True)), (widths, after)
    assert rows.first.locator("button.event-toggle").get_attribute("aria-expanded") == "true"
    assert not [e for e in errors if "Content Security Policy" in e], errors
