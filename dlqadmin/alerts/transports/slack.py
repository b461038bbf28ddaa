"""Slack incoming webhooks via slack-sdk's WebhookClient, with Block Kit."""

from slack_sdk.webhook import WebhookClient

from ..notifications import summary
from ..rules import shown
from .base import Transport, TransportError, classify_http, plain

EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "resolved": ":large_green_circle:",
         "test": ":white_check_mark:"}
TIMEOUT = 10


def escape(text):
    """Slack's control characters (& < >) and anything that could forge a line or hide
    text: task- or queue-derived text can never form links, mentions or fake lines."""
    return plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(p):
    head = f"{EMOJI.get(p['severity'], '')} {p['severity'].upper()}: {p['rule_label']} on {p['queue']}"
    out = [{"type": "header", "text": {"type": "plain_text", "text": escape(head)[:150], "emoji": True}}]
    if p["kind"] == "test":
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": "This channel works: dlqadmin can reach it."}})
        return out
    # The header names severity, rule and queue; each field below says something else once.
    fields = [
        f"*Queue*\n{escape(p['queue'])}",
        f"*{escape(p['rule_label'])}*\n{shown(p['rule'], p['value'])} (threshold {shown(p['rule'], p['threshold'])})",
    ]
    if p["rule"] != "dlq_size":  # for that rule the line above is the DLQ size
        fields.append(f"*DLQ size*\n{p['dlq_size']} (warning {p['dlq_warning']}, critical {p['dlq_critical']})")
    if p.get("growth") is not None:
        fields.append(f"*Growth*\n+{p['growth']} in {p['growth_window_minutes']} min")
    fields.append(f"*Policy*\n{escape(p['policy'])}")
    out.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
    if p.get("top_reasons"):
        lines = "\n".join(f"• {r['count']}× `{escape(r['text'][:200]).replace('`', 'ˋ')}`" for r in p["top_reasons"])
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Top failure reasons (masked)*\n{lines}"[:2900]}})
    links = [f"<{escape(p['queue_url']).replace('|', '%7C')}|Open the DLQ>"]
    if p.get("runbook_url"):
        links.append(f"<{escape(p['runbook_url']).replace('|', '%7C')}|Runbook>")
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    return out


class SlackTransport(Transport):
    def notify(self, payload):
        url = self.checked_url()
        client = WebhookClient(url, timeout=TIMEOUT, retry_handlers=[])
        try:
            # The top-level text is the notification's fallback and preview: Slack parses
            # it as mrkdwn too, so it is escaped like every block.
            response = client.send_dict({"text": escape(summary(payload)), "blocks": blocks(payload)})
        except Exception as exc:  # noqa: BLE001 - network errors are retried
            raise TransportError(f"cannot reach Slack: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            classify_http(response.status_code, response.body, response.headers)
