"""A real OpenID provider for the sign-on tests, and a scripted user of its login pages.

`Idp.start()` installs the provider's npm packages (npm ci from the committed lock file,
into tests/support/oidc_provider/node_modules/, not committed; redone only when the lock
file changes), starts it on 127.0.0.1 on the first free port from DLQADMIN_TEST_OIDC_PORT
(default DLQADMIN_TEST_PORT_BASE + 100, 50 ports tried) and waits until it listens. Its clock is its own (the real
one): tests pin the application's clock to `idp.now()`.
"""

import http.cookiejar
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.support.npm import ensure_installed

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
ACCOUNTS_FILE = PROVIDER_DIR / "accounts.json"
CLIENT_ID = "dlqadmin"


def accounts():
    with open(ACCOUNTS_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def _free_port():
    first = int(os.environ.get("DLQADMIN_TEST_OIDC_PORT", int(os.environ.get("DLQADMIN_TEST_PORT_BASE", "7200")) + 100))
    for port in range(first, first + 50):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port for the test OpenID provider in {first}-{first + 49}")


class Idp:
    def __init__(self, port, process, control, secret):
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.client_id = CLIENT_ID
        self.client_secret = secret
        self._process = process
        self._control = control

    @classmethod
    def start(cls):
        ensure_installed(PROVIDER_DIR)
        port, control, secret = _free_port(), secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port), "CLIENT_ID": CLIENT_ID,
               "CLIENT_SECRET": secret, "CONTROL_TOKEN": control, "ACCOUNTS_FILE": str(ACCOUNTS_FILE)}
        # The same (possibly libfaketime-shifted) clock as the suite's processes.
        env.update({k: v for k, v in os.environ.items()
                    if k in ("LD_PRELOAD", "TZ", "DONT_FAKE_MONOTONIC") or k.startswith("FAKETIME")})
        process = subprocess.Popen(["node", "provider.mjs"], cwd=PROVIDER_DIR, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        ready, output = threading.Event(), []

        def read():
            for line in process.stdout:
                output.append(line)
                if line.startswith("listening "):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            process.kill()
            raise RuntimeError("the test OpenID provider did not start:\n" + "".join(output))
        return cls(port, process, control, secret)

    def stop(self):
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()

    # --- control endpoints (test-only, guarded by a per-run token) ---
    def _call(self, method, path, body=None):
        response = requests.request(method, self.issuer + path, json=body, timeout=10,
                                    headers={"X-Test-Control": self._control})
        response.raise_for_status()
        return response.json()

    def now(self):
        """The provider's own clock (Unix seconds)."""
        return self._call("GET", "/_test/now")["now"]

    def defect_next_id_token(self, defect):
        """The next ID token is 'expired', for another 'audience', from another 'issuer',
        for another sign-in ('nonce') or signed with a wrong key ('signature'); re-signed by
        the provider itself."""
        self._call("POST", "/_test/defect", {"defect": defect})

    def set_account(self, login, **change):
        self._call("PUT", f"/_test/accounts/{login}", change)

    def reset(self):
        self._call("POST", "/_test/defect", {"defect": None})
        for login, account in accounts().items():
            self.set_account(login, groups=account["groups"], mfa=account["mfa"])


class _ShiftedTime:
    """The `time` module as http.cookiejar sees it, moved by `offset` seconds."""

    def __init__(self, offset):
        self.offset = offset

    def time(self):
        return time.time() + self.offset

    def __getattr__(self, name):
        return getattr(time, name)


class _ProviderClockSession(requests.Session):
    """An HTTP client that keeps cookies by the provider's clock, as a browser on the
    provider's machine would. Under `make test-dates` this process's clock runs a year or
    more ahead of the provider's, and http.cookiejar would drop every cookie the provider
    sets (its Expires lies in this process's past) before the next request."""

    def __init__(self, offset):
        super().__init__()
        self.offset = offset

    def request(self, *args, **kwargs):
        real, http.cookiejar.time = http.cookiejar.time, _ShiftedTime(self.offset)
        try:
            return super().request(*args, **kwargs)
        finally:
            http.cookiejar.time = real


_FORM = re.compile(r'<form method="post" action="([^"]+)" id="(idp-login|idp-consent)"')


class IdpUser:
    """Someone using the provider's own pages with a plain HTTP client (for tests that
    do not need a browser): follows redirects, fills the login form, allows consent, and
    stops at the redirect back to the application."""

    def __init__(self, idp, callback_prefix):
        self.idp = idp
        self.callback_prefix = callback_prefix
        # Reads this process's own clock on purpose: only the offset to the provider's counts.
        self.http = _ProviderClockSession(idp.now() - time.time())

    def authorize(self, url, login, password=None):
        """From the application's redirect to the IdP to the callback URL it sends back."""
        password = password or accounts()[login]["password"]
        response = self.http.get(url, allow_redirects=False, timeout=10)
        for _ in range(20):
            location = response.headers.get("Location")
            if location:
                target = urljoin(response.url, location)
                if target.startswith(self.callback_prefix):
                    return target
                response = self.http.get(target, allow_redirects=False, timeout=10)
                continue
            match = _FORM.search(response.text)
            if response.status_code != 200 or not match:
                raise AssertionError(f"unexpected IdP page {response.status_code}: {response.text[:500]}")
            action, form = urljoin(response.url, unescape(match.group(1))), match.group(2)
            data = {"username": login, "password": password} if form == "idp-login" else {}
            response = self.http.post(action, data=data, allow_redirects=False, timeout=10)
            if form == "idp-login" and response.status_code == 200:
                raise AssertionError("the IdP refused the login")
        raise AssertionError("too many redirects at the IdP")
