"""A local HTTP server standing in for Slack (or any webhook): records every request and
answers from a script (e.g. 429 with Retry-After, then 200)."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Recorded:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class FakeSlack:
    server: ThreadingHTTPServer = None
    requests: list = field(default_factory=list)
    script: list = field(default_factory=list)  # [(status, headers, body)], used first-in first-out
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path="/services/T000/B000/XXXXXXXXXXXXXXXX"):
        return self.base + path

    def respond(self, status, *, headers=None, body="", times=1):
        with self.lock:
            self.script.extend([(status, headers or {}, body)] * times)

    def bodies(self):
        with self.lock:
            return [r.json for r in self.requests]

    def texts(self):
        return [b.get("text", "") for b in self.bodies()]

    def _next(self):
        with self.lock:
            return self.script.pop(0) if self.script else (200, {}, "ok")


def start():
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            with fake.lock:
                fake.requests.append(Recorded(self.path, dict(self.headers), body))
            status, headers, text = fake._next()
            data = text.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=fake.server.serve_forever, daemon=True).start()
    return fake


@pytest.fixture
def fake_slack(settings):
    """A fake Slack on 127.0.0.1 (allowed as an outbound webhook host for the test)."""
    settings.DLQADMIN_WEBHOOK_ALLOWED_HOSTS = ["hooks.slack.com", "127.0.0.1"]
    fake = start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
