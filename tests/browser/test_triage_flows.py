"""The triage flows in a real browser: the queue page's order, errors shown where the
user acted, selection, acting on search results and failure reasons, operations, and
the task page (previous / next, reveal, edit and retry). axe-core: 0 violations on
each page these flows reach."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.axe import assert_no_violations
from tests.browser.conftest import browser_type_launch_args  # noqa: F401  (system Chromium)
from tests.conftest import PASSWORD, make_user
from tests.operations.conftest import ARCHIVED, Q, members, task_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SKIP_RETRY_TASK = ARCHIVED[0]  # its error says "skip retry for the task"


@pytest.fixture
def admin_page(page, live_server, roles, settings):
    settings.DLQADMIN_REQUIRE_MFA = False
    make_user("t_admin", ("admin",))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "t_admin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    return page


def csp_errors(page):
    return [e for e in page.console_errors if "Content Security Policy" in e]


def test_queue_page_lists_first_and_errors_show_where_the_user_acted(admin_page, golden, live_server):
    page = admin_page
    page.goto(f"{live_server.url}/queues/{Q}/")
    # The DLQ tab first; the first task row visible without scrolling at 1440x900.
    expect(page.locator("nav.tabs a.tab").first).to_have_attribute("data-state", "archived")
    first_row = page.locator("#tasks tr[data-task]").first
    box = first_row.bounding_box()
    assert box and box["y"] + box["height"] <= 900, box
    expect(page.locator("#showing")).to_have_text("Showing 1–5 of 5 archived tasks")
    page.wait_for_load_state("networkidle")  # the failure reasons arrive lazily
    expect(page.locator("#failure-groups tbody tr")).to_have_count(5)
    assert_no_violations(page, "queue page")

    # Retry with nothing ticked: the 400's message appears by the buttons.
    page.click("#batch-run")
    expect(page.locator("#batch-area [role=alert]")).to_have_text("Select at least one task first.")

    # "Delete all" with a mistyped queue name: the 400 form comes back with its message.
    page.click("#bulk-delete")
    page.fill("#id_confirm_name", Q + "x")
    page.click("#confirm-bulk")
    expect(page.locator("#batch-area [role=alert]")).to_contain_text("Type the queue name exactly")
    expect(page.locator("#confirm-bulk")).to_have_text("Yes, delete 5 tasks")
    assert len(members(golden, "archived")) == 5

    # "all 5 on this page" ticks the boxes, the count follows; retried rows leave the list.
    page.check("#select-page")
    expect(page.locator('#tasks input[name="ids"]:checked')).to_have_count(5)
    expect(page.locator(".selection-count")).to_have_text("5 selected")
    page.locator(f'tr[data-task="{ARCHIVED[4]}"] input[type=checkbox]').uncheck()
    page.locator(f'tr[data-task="{ARCHIVED[3]}"] input[type=checkbox]').uncheck()
    page.locator(f'tr[data-task="{ARCHIVED[2]}"] input[type=checkbox]').uncheck()
    expect(page.locator(".selection-count")).to_have_text("2 selected")
    page.click("#batch-run")
    expect(page.locator("#batch-area .confirm-text")).to_contain_text("Retry 2 selected tasks")
    expect(page.locator("#batch-ids li")).to_have_count(2)
    page.click("#confirm-batch")
    expect(page.locator("#batch-area .batch-summary")).to_contain_text("2 of 2 done")
    expect(page.locator("#tasks tr[data-task]")).to_have_count(3)
    expect(page.locator(".selection-count")).to_have_text("0 selected")
    assert [task_state(golden, i) for i in ARCHIVED[:2]] == ["pending", "pending"]

    # The batch's operation page says what it was and lists the tasks.
    page.locator("#batch-area .batch-summary a", has_text="Operation #").click()
    expect(page.locator("h1")).to_contain_text("Retry 2 selected tasks")
    expect(page.locator("#op-ids li")).to_have_count(2)
    assert_no_violations(page, "batch operation page")
    page.goto(f"{live_server.url}/operations/")
    expect(page.locator("#operations tbody tr")).to_have_count(1)
    expect(page.locator("#operations tbody tr")).to_contain_text("Retry 2 selected tasks")
    assert_no_violations(page, "operations list")
    assert not csp_errors(page), page.console_errors


def test_search_results_and_failure_reasons_can_be_acted_on(admin_page, golden, live_server):
    page = admin_page
    page.goto(f"{live_server.url}/queues/{Q}/search?state=archived&type=payment%3Acharge")
    expect(page.locator("#search-status .badge.done")).to_be_visible()
    rows = page.locator("#search-rows tr[data-task]")
    expect(rows).to_have_count(3)
    assert_no_violations(page, "search results")
    # Select one result and delete it (a dialog-free batch: the confirmation names the count).
    rows.first.locator("input[type=checkbox]").check()
    expect(page.locator(".selection-count")).to_have_text("1 selected")
    page.click("#batch-delete")
    expect(page.locator("#confirm-batch")).to_have_text("Yes, delete 1 task")
    page.click("#confirm-batch")
    expect(rows).to_have_count(2)
    # Retry all matching: the tracked bulk operation with the search as its filter.
    page.click("#bulk-run")
    expect(page.locator("#confirm-bulk")).to_have_text("Yes, retry 2 tasks")
    page.click("#confirm-bulk")
    expect(page).to_have_url(re.compile(r"/operations/\d+/$"))
    expect(page.locator("#op-progress")).to_contain_text("type=payment:charge")
    call_command("run_operations", "--once")
    expect(page.locator("#op-status")).to_have_text("done", timeout=5000)
    assert sorted(members(golden, "archived")) == sorted(ARCHIVED[2:4])

    # A failure-reason row: "Delete all 1…" asks with the exact count.
    page.goto(f"{live_server.url}/queues/{Q}/")
    page.wait_for_load_state("networkidle")
    row = page.locator("#failure-groups tbody tr", has_text="connection refused")
    row.locator("button", has_text="Delete all 1").click()
    expect(page.locator("#failure-action #confirm-bulk")).to_have_text("Yes, delete 1 task")

    # An exact task id opens the task.
    page.fill('form[role=search] input[name="id"]', ARCHIVED[2])
    page.locator('form[role=search] button[type=submit]').click()
    expect(page).to_have_url(re.compile(rf"/queues/{Q}/tasks/{ARCHIVED[2]}/$"))
    assert not csp_errors(page), page.console_errors


def test_task_page_neighbours_reveal_and_edit_then_retry(admin_page, golden, live_server):
    page = admin_page
    page.goto(f"{live_server.url}/queues/{Q}/")
    page.locator(f'tr[data-task="{SKIP_RETRY_TASK}"] td.id a').click()
    expect(page.locator("#skip-retry-warning")).to_contain_text("skip retries")
    # The list is newest dead first: the neighbours follow it.
    expect(page.locator(".task-nav")).to_contain_text("newest first")
    assert page.locator("#task-prev").count() + page.locator("#task-next").count() >= 1
    expect(page.locator("time.ago").first).to_have_attribute("title", re.compile(r"UTC$"))
    assert_no_violations(page, "task page")
    # Reveal: the raw JSON payload pretty-printed, and the editor one click away.
    page.locator("#reveal summary").click()
    page.fill("#id_reason", "customer ticket 4711: check the charge")
    page.locator("#reveal button[type=submit]").click()
    payload = page.locator('.sensitive[data-field="payload"] pre.value')
    expect(payload).to_contain_text('{\n  "')
    page.click("#reveal-edit")
    expect(page.locator("h1")).to_have_text("Edit payload, then retry")
    area = page.locator("#id_payload")
    assert area.input_value().startswith('{\n  "')
    expect(page.locator("#payload-status")).to_have_text("Valid JSON.")
    assert_no_violations(page, "payload editor")
    area.fill('{"amount": 12')
    expect(page.locator("#payload-status")).to_contain_text("Not valid JSON")
    expect(page.locator("#edit-save")).to_be_disabled()
    area.fill('{"amount": 12}')
    expect(page.locator("#edit-save")).to_be_enabled()
    page.check("#id_fresh")
    page.fill("#id_edit_reason", "fix the amount, customer ticket 4711")
    page.click("#edit-save")
    expect(page.locator(".messages")).to_be_visible()
    assert task_state(golden, SKIP_RETRY_TASK) == "pending"
    assert not csp_errors(page), page.console_errors
