"""Notifications carry queue and task data escaped in every transport, and every
delivery attempt is audited."""

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from dlqadmin.alerts.checks import run_round
from dlqadmin.audit.models import AuditEvent
from tests.alerts.conftest import info

pytestmark = pytest.mark.django_db
T0 = datetime(2029, 12, 31, 23, 59, tzinfo=UTC)  # any fixed moment: no test depends on today
EVIL = "<!channel> <https://evil.example|Click>\nDLQ: https://evil.example/\u202eexe.pdf"


class HostileInspector:
    def list_tasks(self, queue, state, page, page_size):
        errs = ["<!here> <https://evil.example|log in>\nRunbook: https://evil.example"] * 2
        return SimpleNamespace(tasks=[SimpleNamespace(last_err=e) for e in errs])


def _no_raw_markup(text):
    return ("<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text
            and "\u202e" not in text)


def test_slack_escapes_the_top_level_text_and_every_block(slack):
    run_round(now=T0, infos=[info(EVIL, archived=7)], inspector=HostileInspector())
    body = slack.bodies()[0]
    assert _no_raw_markup(body["text"]) and "\n" not in body["text"]
    assert "&lt;!channel&gt;" in body["text"]
    raw = json.dumps(body, ensure_ascii=False)
    assert _no_raw_markup(raw)
    # Our own links are still links.
    assert "|Open the DLQ>" in raw


def test_email_and_webhook_fields_cannot_forge_lines(db, fake_slack, mailoutbox):
    from dlqadmin.policies.services import save_channel, save_policy

    save_channel(name="mail", kind="email", target="ops@example.org")
    save_channel(name="pd", kind="webhook", target=fake_slack.url("/v2/enqueue"), routing_key="R0UTINGKEY1234")
    save_policy({"name": "default", "pattern": "*", "dlq_warning": 5, "dlq_critical": 50, "channels": ["mail", "pd"]})
    run_round(now=T0, infos=[info(EVIL, archived=7)], inspector=HostileInspector())
    mail = mailoutbox[0]
    assert "\n" not in mail.subject and "\u202e" not in mail.subject
    lines = mail.body.splitlines()
    # A forged "DLQ:" or "Runbook:" line would start a line; the only DLQ line is ours.
    assert [line for line in lines if line.startswith("DLQ:")] == [next(x for x in lines if x.startswith("DLQ: http"))]
    assert not any(line.startswith("Runbook:") for line in lines)
    assert "\u202e" not in mail.body
    (event,) = fake_slack.bodies()
    for key in ("summary", "source", "component"):
        assert "\n" not in event["payload"][key] and "\u202e" not in event["payload"][key]
    assert all("\n" not in r["text"] for r in event["payload"]["custom_details"]["top_reasons"])


def test_every_delivery_attempt_is_audited(slack):
    slack.respond(500)
    run_round(now=T0, infos=[info("payments", archived=7)])
    failed = AuditEvent.objects.get(action="notification.send", outcome="failed")
    assert failed.queue == "payments" and failed.target == "channel:ops" and "500" in failed.message
    assert failed.detail["attempt"] == 1 and failed.detail["state"] == "pending"
    from dlqadmin.alerts import outbox

    outbox.deliver(now=T0 + timedelta(hours=1))
    sent = AuditEvent.objects.get(action="notification.send", outcome="success")
    assert sent.queue == "payments" and sent.detail["attempt"] == 2 and sent.detail["rule"] == "dlq_size"
    assert len(slack.requests) == 2
