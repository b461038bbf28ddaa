"""Dark mode (system and per-user toggle), phone layout at 390 px, and axe-core over every
page of each role's navigation in the dark theme (the light one: test_accessibility.py)."""

import pytest

from tests.browser.axe import violations
from tests.browser.test_accessibility import PAGES
from tests.conftest import GOLDEN, PASSWORD, make_user
from tests.support.redis_snapshot import restore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BG = "() => getComputedStyle(document.body).backgroundColor"
DARK_BG, LIGHT_BG = "rgb(15, 19, 24)", "rgb(246, 247, 249)"


def sign_in_as(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def demo(golden, roles, settings):
    settings.DLQADMIN_REQUIRE_MFA = False
    restore(golden, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)


def test_dark_mode_follows_the_system_until_the_user_chooses(page, live_server, demo):
    from dlqadmin.accounts.models import Preferences

    boss = make_user("boss", ("admin",))
    page.emulate_media(color_scheme="dark")
    sign_in_as(page, live_server, "boss")
    assert page.evaluate(BG) == DARK_BG
    page.emulate_media(color_scheme="light")
    assert page.evaluate(BG) == LIGHT_BG
    # The toggle stores the choice on the user: it holds against the system and across pages.
    page.goto(f"{live_server.url}/servers/")
    page.click("button[data-theme-choice]")
    page.wait_for_url(f"{live_server.url}/servers/")
    assert page.get_attribute("html", "data-theme") == "dark"
    assert page.evaluate(BG) == DARK_BG
    assert Preferences.objects.get(user=boss).theme == "dark"
    page.goto(f"{live_server.url}/alerts/")
    assert page.evaluate(BG) == DARK_BG
    page.click("button[data-theme-choice]")  # back to light, even with a dark system
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(BG) == LIGHT_BG


# The deepest elements reaching past the right edge (what to fix when the test fails).
WIDEST = """() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 391
  && ![...e.children].some(c => c.getBoundingClientRect().right > 391)).slice(0, 5)
  .map(e => e.tagName + '.' + e.className + '#' + e.id)"""


def test_no_horizontal_scroll_at_390px_and_the_menu_collapses(page, live_server, demo):
    make_user("boss", ("admin",))
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_as(page, live_server, "boss")
    assert not page.is_visible("text=Sign out")
    page.click("button.menu-toggle")
    sign_out = page.locator("text=Sign out")
    assert sign_out.is_visible()
    box = sign_out.bounding_box()
    assert box["x"] + box["width"] <= 390
    wide = {}
    for path in ["/login/", *PAGES, "/operations/", "/policies/new/", "/account/mfa/setup/"]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > 390:
            wide[path] = (width, page.evaluate(WIDEST))
    assert not wide, f"pages wider than 390 px: {wide}"


def test_skip_link_and_focus_ring(page, live_server, demo):
    make_user("boss", ("admin",))
    sign_in_as(page, live_server, "boss")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    ring = page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                         " return [s.outlineStyle, s.outlineWidth]; }")
    assert ring == ["solid", "2px"]
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


# Each role's own pages (granted per-queue roles on payments, as the demo does).
ROLE_PAGES = {
    "viewer": PAGES[:9] + ["/account/"],
    "operator": PAGES[:9],
    "payload_viewer": PAGES[:3],
    "policy_admin": ["/", "/alerts/", "/policies/", "/policies/channels/", "/policies/masking/", "/policies/new/"],
    "auditor": ["/", "/audit/", "/alerts/history/"],
    "admin": [*PAGES, "/operations/", "/policies/new/", "/account/mfa/setup/", "/alerts/queues/payments/chart/"],
}


def test_every_page_of_each_role_has_no_axe_violations_in_the_dark(page, live_server, demo):
    # One test for all roles: the snapshot and server are set up once.
    page.emulate_media(color_scheme="dark")
    report = {}
    for role, paths in ROLE_PAGES.items():
        make_user(f"u_{role}", (role, ["payments"]) if role in ("viewer", "operator", "payload_viewer") else (role,))
        page.context.clear_cookies()
        sign_in_as(page, live_server, f"u_{role}")
        for path in paths:
            page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
            report[f"{role} {path}"] = violations(page)
    bad = {p: v for p, v in report.items() if v}
    assert not bad, "\n".join(f"{p}: " + "; ".join(f"{v['id']} {v['nodes']}" for v in vs) for p, vs in bad.items())
