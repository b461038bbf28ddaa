"""In a real browser: select tasks, retry them, see the result; retry all, see the progress."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import browser_type_launch_args  # noqa: F401  (system Chromium)
from tests.conftest import PASSWORD, make_user
from tests.operations.conftest import ARCHIVED, Q, members, task_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator_page(page, live_server, roles):
    user = make_user("b_operator", ("operator", [Q]))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_select_retry_and_follow_a_bulk_operation(operator_page, golden, live_server):
    page = operator_page
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/queues/{Q}/")
    expect(page.locator("#tasks tr[data-task]")).to_have_count(5)
    # Select two dead tasks and retry them: a confirmation with the exact count first.
    for task_id in ARCHIVED[:2]:
        page.check(f'tr[data-task="{task_id}"] input[type=checkbox]')
    page.click("#batch-run")
    expect(page.locator("#batch-area .confirm-text")).to_contain_text("Retry 2 selected tasks")
    assert task_state(golden, ARCHIVED[0]) == "archived"
    page.click("#confirm-batch")
    expect(page.locator("#batch-area .batch-summary")).to_contain_text("2 of 2 done")
    expect(page.locator('#batch-area tr[data-result="done"]')).to_have_count(2)
    assert [task_state(golden, i) for i in ARCHIVED[:2]] == ["pending", "pending"]
    # Retry all the remaining dead tasks as a tracked operation.
    page.goto(f"{live_server.url}/queues/{Q}/")
    page.click("#bulk-run")
    expect(page.locator("#batch-area .exact-count")).to_have_text("3")
    page.click("#confirm-bulk")
    expect(page).to_have_url(re.compile(r"/operations/\d+/$"))
    expect(page.locator("#op-status")).to_have_text("queued")
    expect(page.locator("#op-bar")).to_be_visible()
    call_command("run_operations", "--once")  # what run_scheduler's operations job does
    # The page polls and shows the finished progress and the result.
    expect(page.locator("#op-status")).to_have_text("done", timeout=5000)
    expect(page.locator("#op-counts")).to_contain_text("3 done · 0 not done · 3 total")
    assert page.locator("#op-bar").get_attribute("value") == "3"
    assert members(golden, "archived") == []
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_cancel_selected_and_all_active_tasks(operator_page, golden, live_server):
    from dlqadmin.asynq import keys
    from tests.operations.conftest import ACTIVE

    page = operator_page
    pubsub = golden.pubsub()
    pubsub.subscribe(keys.CANCEL_CHANNEL)  # stands in for a running asynq server
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    page.goto(f"{live_server.url}/queues/{Q}/?state=active")
    page.check(f'tr[data-task="{ACTIVE}"] input[type=checkbox]')
    page.click("#batch-cancel")
    expect(page.locator("#batch-area .confirm-text")).to_contain_text("Cancel 1 selected task")
    assert pubsub.get_message(timeout=0.3) is None  # nothing sent before the confirmation
    page.click("#confirm-batch")
    expect(page.locator("#batch-area .batch-summary")).to_contain_text("1 of 1 done")
    assert pubsub.get_message(timeout=2)["data"] == ACTIVE.encode()
    page.goto(f"{live_server.url}/queues/{Q}/?state=active")
    page.click("#cancel-all-active")
    expect(page.locator("#batch-area .confirm-text")).to_contain_text("Cancel 1 active task")
    page.click("#confirm-batch")
    expect(page.locator("#batch-area .batch-summary")).to_contain_text("1 of 1 done")
    assert pubsub.get_message(timeout=2)["data"] == ACTIVE.encode()
    pubsub.close()
