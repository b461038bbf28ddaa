"""Destructive clicks ask first, in a <dialog> naming what will happen (strict CSP: no
inline script), and Cancel changes nothing."""

import pytest
from playwright.sync_api import expect

from tests.operations.test_browser import operator_page  # noqa: F401 - the signed-in operator fixture
from tests.operations.conftest import ARCHIVED, Q, members

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_single_delete_asks_and_cancel_keeps_the_task(operator_page, golden, live_server):
    page = operator_page
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    task = ARCHIVED[0]
    page.goto(f"{live_server.url}/queues/{Q}/tasks/{task}/")
    page.click("#action-delete")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".confirm-message")).to_contain_text(f"Task {task} will be deleted")
    expect(dialog.locator(".confirm-yes")).to_have_text("Yes, delete this task")
    dialog.locator(".confirm-no").click()
    expect(dialog).to_be_hidden()
    assert task in members(golden, "archived")
    page.click("#action-delete")
    dialog.locator(".confirm-yes").click()
    page.wait_for_load_state()
    expect(page.locator(".messages")).to_be_visible()
    assert task not in members(golden, "archived")
    assert not errors, errors


def test_pause_asks_first(operator_page, golden, live_server):
    page = operator_page
    page.goto(f"{live_server.url}/queues/{Q}/")
    page.click("#queue-pause-toggle")
    expect(page.locator("#confirm-dialog .confirm-yes")).to_have_text(f"Yes, pause {Q}")
    page.locator("#confirm-dialog .confirm-yes").click()
    expect(page.locator("#queue-pause-toggle")).to_have_text("Resume queue")
    # Resuming is not destructive: no question.
    page.click("#queue-pause-toggle")
    expect(page.locator("#queue-pause-toggle")).to_have_text("Pause queue")
