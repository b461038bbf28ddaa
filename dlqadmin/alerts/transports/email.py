"""E-mail through Django's mail backend (EMAIL_URL)."""

from django.conf import settings
from django.core.mail import send_mail

from ..notifications import summary
from .base import Transport, TransportError, plain


def body(p):
    if p["kind"] == "test":
        return "This is a test notification from dlqadmin: this channel works.\n"
    # Every value is one line (plain): a queue name or error cannot add lines of its own.
    lines = [plain(summary(p)), "", f"Queue: {plain(p['queue'])}", f"Policy: {plain(p['policy'])}",
             f"DLQ size: {p['dlq_size']} (warning {p['dlq_warning']}, critical {p['dlq_critical']})"]
    if p.get("growth") is not None:
        lines.append(f"Growth: +{p['growth']} in {p['growth_window_minutes']} min")
    if p.get("top_reasons"):
        lines += ["", "Top failure reasons (masked):"] + [f"  {r['count']}x {plain(r['text'])}" for r in p["top_reasons"]]
    lines += ["", f"DLQ: {p['queue_url']}"]
    if p.get("runbook_url"):
        lines.append(f"Runbook: {p['runbook_url']}")
    return "\n".join(lines) + "\n"


class EmailTransport(Transport):
    def notify(self, payload):
        recipients = [a.strip() for a in self.channel.target_encrypted.split(",") if a.strip()]
        subject = plain(summary(payload))[:200]
        try:
            send_mail(subject, body(payload), settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception as exc:  # noqa: BLE001 - SMTP trouble is retried
            raise TransportError(f"cannot send e-mail: {type(exc).__name__}: {str(exc)[:200]}") from None
