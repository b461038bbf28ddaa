"""0 axe-core violations on every page each role can reach from its navigation."""

import pytest

from tests.browser.axe import violations
from tests.conftest import GOLDEN, PASSWORD, make_user
from tests.support.redis_snapshot import restore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TASK = "15303193-7c55-5fd5-9213-8771deaccdac"
PAGES = ["/", "/queues/payments/", f"/queues/payments/tasks/{TASK}/", "/queues/payments/search?type=payment%3Acharge",
         "/servers/", "/scheduler/", "/scheduler/3a290004-6e89-4313-99ba-fef8ca317798/", "/alerts/",
         "/alerts/history/", "/policies/", "/policies/channels/", "/policies/masking/", "/access/", "/audit/",
         "/account/", "/queues/payments/delete", "/queues/nope/"]


def test_every_page_has_no_axe_violations(page, live_server, roles, golden, settings):
    settings.DLQADMIN_REQUIRE_MFA = False  # the MFA pages are checked on their own
    restore(golden, GOLDEN / "mixed" / "snapshot.json", with_ttl=False)
    make_user("boss", ("admin",))
    page.goto(f"{live_server.url}/login/")
    report = {"/login/": violations(page)}
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    for path in PAGES:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        report[path] = violations(page)
    bad = {p: v for p, v in report.items() if v}
    assert not bad, "\n".join(f"{p}: " + "; ".join(f"{v['id']} {v['nodes']}" for v in vs) for p, vs in bad.items())
