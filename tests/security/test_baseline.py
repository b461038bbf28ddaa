"""Web security baseline: CSRF everywhere, no state change on GET, strict CSP,
no wildcard CORS, and `check --deploy` clean with production settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def boss(roles):
    return make_user("boss", ("admin",))


def test_csrf_is_enforced_on_state_changes(boss, roles):
    make_user("target", ("viewer",))
    client = sign_in(Client(enforce_csrf_checks=True), boss)
    assert client.post("/access/target/end-sessions/").status_code == 403
    assert client.post("/logout/").status_code == 403


def test_htmx_requests_carry_the_csrf_token(boss, roles, golden):
    make_user("target", ("viewer",))
    client = sign_in(Client(enforce_csrf_checks=True), boss)
    page = client.get("/").content.decode()
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = client.post("/access/target/end-sessions/", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302


def test_no_state_change_on_get(boss, roles):
    make_user("target", ("viewer",))
    client = sign_in(Client(), boss)
    for url in ("/access/target/end-sessions/", "/access/target/toggle-active/", "/access/target/revoke/",
                "/logout/"):
        assert client.get(url).status_code == 405, url


def test_strict_csp_and_headers(client, staff, golden):
    sign_in(client, staff)
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert "Access-Control-Allow-Origin" not in response
    html = response.content.decode()
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


def test_api_sends_no_cors_headers(client, staff, golden):
    sign_in(client, staff)
    response = client.get("/api/v1/queues", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response


def _database_url():
    # The check connects (GeneratedField support); give it the test database.
    from django.db import connection

    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db.get("PASSWORD") else (f"{db['USER']}@" if db.get("USER") else "")
    host = db.get("HOST") or ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


@pytest.mark.parametrize("tls", [
    {"DLQADMIN_SSL_REDIRECT": "true", "DLQADMIN_BEHIND_TLS_PROXY": "true"},
    {"DLQADMIN_BEHIND_TLS_PROXY": "true"},  # what the README's production section sets
    {"DLQADMIN_SSL_REDIRECT": "true"},
], ids=["redirect+proxy", "proxy", "redirect"])
def test_check_deploy_is_clean_with_production_settings(tls):
    # Only what a deployment sets; nothing the test run itself exported (the browser
    # tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright).
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DLQADMIN_"))}
    env = {
        **base,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "dlq.example.com",
        "DATABASE_URL": _database_url(),
        **tls,
    }
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_responses_are_gzipped_when_asked_with_headers_intact(client, staff, golden):
    """gzip for clients that ask; CSP and the other headers unchanged; the CSRF token masked
    afresh per response and the compressed body padded at random (BREACH, see settings)."""
    import gzip
    import json

    sign_in(client, staff)
    plain = client.get("/")
    packed = client.get("/", headers={"Accept-Encoding": "gzip"})
    again = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert packed["Content-Security-Policy"].split("'nonce-")[0] == plain["Content-Security-Policy"].split("'nonce-")[0]
    assert packed["X-Frame-Options"] == "DENY" and packed["X-Content-Type-Options"] == "nosniff"
    html = gzip.decompress(packed.content).decode()
    assert "<html" in html and len(packed.content) < len(plain.content) / 2
    token = lambda page: page.split('"X-CSRFToken": "')[1].split('"')[0]  # noqa: E731
    assert token(html) != token(gzip.decompress(again.content).decode())
    assert packed.content[:10] != again.content[:10] or packed.content != again.content
    from django.core.management import call_command
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", staff.username, stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    api = client.get("/api/v1/queues", headers={"Authorization": f"Bearer {raw}", "Accept-Encoding": "gzip"})
    assert api["Content-Encoding"] == "gzip" and "queues" in json.loads(gzip.decompress(api.content))
