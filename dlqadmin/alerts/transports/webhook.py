"""A generic JSON webhook shaped like PagerDuty Events API v2 (trigger/resolve, dedup key)."""

import json
import urllib.error
import urllib.request

from dlqadmin.policies import crypto

from ..notifications import summary
from .base import Transport, TransportError, classify_http, plain

TIMEOUT = 10


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # never follow: the allow-list checked this URL only
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def event(payload, routing_key):
    p = payload
    body = {
        "routing_key": routing_key,
        "event_action": "resolve" if p["event"] == "resolve" else "trigger",
        "dedup_key": p["dedup_key"],
    }
    if body["event_action"] == "trigger":
        body["payload"] = {
            # JSON carries any text safely; plain() keeps the receiver's display (one-line
            # summaries, incident titles) free of forged lines and hidden characters.
            "summary": plain(summary(p))[:1024],
            "source": f"dlqadmin/{plain(p['queue'])}",
            "severity": {"critical": "critical", "warning": "warning"}.get(p["severity"], "info"),
            "component": plain(p["queue"]),
            "group": plain(p["policy"]),
            "class": p["rule"],
            "timestamp": p["at"],
            "custom_details": {**{k: p[k] for k in ("value", "threshold", "dlq_size", "growth", "pending")},
                               "top_reasons": [{**r, "text": plain(r["text"])} for r in p.get("top_reasons") or []]},
        }
        body["links"] = [{"href": p["queue_url"], "text": "Open the DLQ"}]
        if p.get("runbook_url"):
            body["links"].append({"href": p["runbook_url"], "text": "Runbook"})
    return body


class WebhookTransport(Transport):
    def notify(self, payload):
        url = self.checked_url()
        data = json.dumps(event(payload, crypto.decrypt(self.channel.routing_key_encrypted))).encode()
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "dlqadmin"})
        try:
            with _opener.open(req, timeout=TIMEOUT) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            body = exc.read(500).decode("utf-8", "replace")
            classify_http(exc.code, body, dict(exc.headers))
            return
        except (urllib.error.URLError, OSError) as exc:
            raise TransportError(f"cannot reach webhook: {type(exc).__name__}") from None
        if status >= 300:  # an unfollowed redirect
            raise TransportError(f"HTTP {status}: redirects are not followed", permanent=True)
