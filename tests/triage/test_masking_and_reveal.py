"""Masked by default everywhere a viewer can reach; a justified, audited, time-boxed reveal."""

import json
import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings

from dlqadmin.audit.models import AuditEvent
from dlqadmin.triage.models import RevealGrant
from tests.conftest import make_user, sign_in
from tests.support.golden_secrets import planted_secrets

pytestmark = pytest.mark.django_db

CARD_TASK = ("payments", "15303193-7c55-5fd5-9213-8771deaccdac")  # archived, payload with card, cvv, token
LINK = re.compile(r'(?:href|hx-get)="([^"#]+)"')


def leaks(text):
    text = unescape(text)
    return [s for s in planted_secrets() if s in text]


def crawl(client, start="/", limit=600):
    """Every same-site GET page reachable by links and htmx GETs from `start`."""
    seen, queue, pages = set(), [start], {}
    while queue and len(seen) < limit:
        url = queue.pop()
        if url in seen or url.startswith(("/static/", "/logout/", "/admin/")):
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        pages[url] = html
        for link in LINK.findall(html):
            target = urljoin(url, unescape(link))
            if urlsplit(target).netloc:
                continue
            queue.append(target)
    return pages


def test_no_page_a_viewer_can_reach_shows_a_planted_secret(client, golden, roles):
    sign_in(client, make_user("v", ("viewer",)))
    pages = crawl(client)
    assert len(pages) > 60  # overview, every queue tab, every task, load-more fragments
    for url, html in pages.items():
        assert not leaks(html), (url, leaks(html))
        assert "<script>alert(1)</script>" not in html


def test_no_api_response_a_viewer_can_reach_shows_a_planted_secret(client, golden, roles):
    sign_in(client, make_user("v", ("viewer",)))
    bodies = [client.get("/api/v1/queues").content.decode()]
    for q in client.get("/api/v1/queues").json()["queues"]:
        for state in ("pending", "active", "scheduled", "retry", "archived", "completed"):
            page = client.get(urljoin(q["url"], "tasks"), {"state": state, "page_size": 100})
            bodies.append(page.content.decode())
            for task in page.json()["tasks"]:
                one = client.get(task["url"])
                bodies.append(one.content.decode())
                for field in ("payload", "last_err", "headers", "result"):
                    if one.json()[field] is not None:
                        assert one.json()[field]["masked"] is True
    for body in bodies:
        # Compare against the decoded JSON too: it escapes non-ASCII characters.
        decoded = json.dumps(json.loads(body), ensure_ascii=False)
        assert not leaks(body) and not leaks(decoded), leaks(decoded)


def test_masked_values_keep_a_useful_shape(client, golden, staff):
    sign_in(client, staff)
    html = unescape(client.get(f"/queues/{CARD_TASK[0]}/tasks/{CARD_TASK[1]}/").content.decode())
    assert "1111" in html  # last four digits of the card stay visible
    assert "4111111111111111" not in html
    assert "hid:" in html


def test_viewer_cannot_reveal_and_the_attempt_is_audited(client, golden, staff):
    sign_in(client, staff)
    queue, task_id = CARD_TASK
    assert "Revealing raw data needs the payload_viewer role" in client.get(
        f"/queues/{queue}/tasks/{task_id}/").content.decode()
    response = client.post(f"/queues/{queue}/tasks/{task_id}/reveal", {"reason": "customer ticket 123 asks"})
    assert response.status_code == 403
    assert not leaks(response.content.decode())
    denied = AuditEvent.objects.get(action="payload.reveal", outcome="denied")
    assert denied.actor_name == "staff" and denied.task_id == task_id
    api = client.post(f"/api/v1/queues/{queue}/tasks/{task_id}/reveal", json.dumps({"reason": "because I can"}),
                      content_type="application/json", headers={"X-CSRFToken": "x"})
    assert api.status_code == 403


def test_reveal_on_an_invisible_queue_is_404(client, golden, roles):
    pv = make_user("pv", ("payload_viewer", ["emails"]))
    sign_in(client, pv)
    queue, task_id = CARD_TASK
    assert client.post(f"/queues/{queue}/tasks/{task_id}/reveal", {"reason": "x" * 20}).status_code == 404


def test_payload_viewer_reveals_with_a_reason_and_it_is_audited(client, golden, roles, clock):
    pv = make_user("pv", ("payload_viewer", ["payments"]))
    sign_in(client, pv)
    queue, task_id = CARD_TASK
    page = client.get(f"/queues/{queue}/tasks/{task_id}/").content.decode()
    assert "Reveal raw data" in page and "4111111111111111" not in page
    short = client.post(f"/queues/{queue}/tasks/{task_id}/reveal", {"reason": "why"})
    assert short.status_code == 400 and "Say why" in short.content.decode()
    assert not RevealGrant.objects.exists()
    ok = client.post(f"/queues/{queue}/tasks/{task_id}/reveal",
                     {"reason": "Customer disputes the charge", "ticket": "SUP-4711"})
    assert ok.status_code == 302
    revealed = unescape(client.get(f"/queues/{queue}/tasks/{task_id}/").content.decode())
    assert "4111111111111111" in revealed and "Raw data shown until" in revealed
    event = AuditEvent.objects.get(action="payload.reveal", outcome="success")
    assert event.reason == "Customer disputes the charge" and event.task_id == task_id
    assert "4111111111111111" not in json.dumps(event.detail)
    # For that task only.
    other = "79c74fa0-387e-5d04-83e0-aef15939c31e"
    other_page = unescape(client.get(f"/queues/{queue}/tasks/{other}/").content.decode())
    assert "Raw data shown until" not in other_page and not leaks(other_page)
    # Time-boxed: once it expires, values are masked again.
    clock.advance(seconds=settings.DLQADMIN_REVEAL_SECONDS + 1)
    assert "4111111111111111" not in unescape(client.get(f"/queues/{queue}/tasks/{task_id}/").content.decode())


def test_api_reveal(client, golden, roles):
    from dlqadmin.api.models import ApiToken

    from django_otp.plugins.otp_totp.models import TOTPDevice

    pv = make_user("pv", ("payload_viewer", ["payments"]))
    TOTPDevice.objects.create(user=pv, name="phone", confirmed=True)  # required for the role
    _, raw = ApiToken.issue(pv, scope="operate")
    auth = {"Authorization": f"Bearer {raw}"}
    queue, task_id = CARD_TASK
    url = f"/api/v1/queues/{queue}/tasks/{task_id}/reveal"
    missing = client.post(url, json.dumps({}), content_type="application/json", headers=auth)
    assert missing.status_code == 400
    response = client.post(url, json.dumps({"reason": "Chargeback investigation"}), content_type="application/json",
                           headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["payload"]["masked"] is False and "4111111111111111" in body["payload"]["value"]
    assert body["payload"]["base64"] and body["expires_at"].endswith("Z")
    assert body["last_err"]["masked"] is False
    assert AuditEvent.objects.filter(action="payload.reveal", outcome="success", actor_name="pv").count() == 1
    # GET stays masked, reveal or not.
    assert client.get(f"/api/v1/queues/{queue}/tasks/{task_id}/", headers=auth).json()["payload"]["masked"] is True
