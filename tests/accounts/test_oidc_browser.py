"""Single sign-on in a real browser, through the provider's own login and consent pages."""

import re

import pytest
from playwright.sync_api import expect

from dlqadmin.asynq import keys
from tests.support.idp import accounts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def app_at_live_server(oidc, settings, live_server):
    settings.DLQADMIN_BASE_URL = live_server.url  # the redirect URI the IdP sends the browser back to
    return live_server


# `golden` before the app: it pins the app clock to the golden data's moment, and the
# `oidc` fixture (through app_at_live_server) must then pin it to the provider's.
def test_sign_in_through_the_idp_lands_with_the_mapped_roles_and_signs_out(page, golden, app_at_live_server,
                                                                           sso_rules):
    base = app_at_live_server.url
    golden.sadd(keys.ALL_QUEUES, keys.encode_name("billing:eu"))
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.click("#sso-login")

    # The provider's own pages.
    expect(page.locator("#idp-login")).to_be_visible()
    page.fill("#idp-username", "bob")
    page.fill("#idp-password", accounts()["bob"]["password"])
    page.click("#idp-submit")
    page.click("#idp-allow")

    # Back at the dashboard: only the queues payments-dev is mapped to.
    page.wait_for_url(f"{base}/")
    expect(page.locator('tr[data-queue="payments"]')).to_be_visible()
    expect(page.locator('tr[data-queue="billing:eu"]')).to_be_visible()
    expect(page.locator("tr[data-queue]")).to_have_count(2)
    assert page.goto(f"{base}/queues/emails/").status == 404
    page.goto(f"{base}/account/")
    expect(page.locator("#sso-identity")).to_contain_text("payments-dev")
    expect(page.locator("table.grid")).to_contain_text("viewer")
    expect(page.locator("table.grid")).to_contain_text("billing:eu")

    # Sign out: our session, then the provider's (RP-initiated logout, its own confirm page).
    page.click("form.logout button[type=submit]")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(re.escape(f"{base}/login/")))
    assert page.goto(f"{base}/account/").url.startswith(f"{base}/login/")
    # The provider's session ended too: it asks for the password again.
    page.click("#sso-login")
    expect(page.locator("#idp-login")).to_be_visible()
