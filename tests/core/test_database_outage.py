"""Postgres unreachable for a request: 503 (JSON on /api/), like Redis; the next request
after it comes back is served again without a restart."""

import contextlib
import socket

import pytest
from django.db import connection
from django.test import Client

from dlqadmin.api.models import ApiToken
from tests.conftest import sign_in

# The outage closes the test's connection, so no test transaction can wrap it.
pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT = 7101  # in this suite's port range; nothing listens there (checked below)


@contextlib.contextmanager
def postgres_unreachable():
    """Point the connection at a closed port for the duration (the shared server is never
    touched); the settings come back afterwards and the next query reconnects."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", CLOSED_PORT)) != 0, "something listens on the closed port"
    saved = {k: connection.settings_dict.get(k) for k in ("HOST", "PORT")}
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(CLOSED_PORT))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def test_pages_and_api_answer_503_then_recover(golden, staff):
    _, raw = ApiToken.issue(staff)
    api = {"Authorization": f"Bearer {raw}"}
    browser = sign_in(Client(raise_request_exception=False), staff)
    client = Client(raise_request_exception=False)
    assert browser.get("/").status_code == 200
    with postgres_unreachable():
        page = browser.get("/")
        assert page.status_code == 503 and "Database unreachable" in page.content.decode()
        assert page["Retry-After"]
        for url in ("/api/v1/queues", "/api/v1/queues/payments/tasks", "/api/v1/audit"):
            response = client.get(url, headers=api)
            assert response.status_code == 503, url
            assert response["Content-Type"] == "application/json"
            assert response.json()["error"] == "database_unavailable"
        assert client.get("/login/").status_code == 200  # needs no database
        assert client.post("/login/", {"username": "staff", "password": "x"}).status_code == 503
        assert client.get("/readyz").status_code == 503
    assert browser.get("/").status_code == 200
    assert client.get("/api/v1/queues", headers=api).status_code == 200


def test_a_connection_killed_between_requests_is_replaced(golden, staff):
    """A Postgres restart ends every backend: the next request reconnects by itself."""
    from django.db import close_old_connections

    _, raw = ApiToken.issue(staff)
    api = {"Authorization": f"Bearer {raw}"}
    client = Client(raise_request_exception=False)
    assert client.get("/api/v1/queues", headers=api).status_code == 200
    with connection.cursor() as cursor:  # our own test connection only
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    killer = connection.copy()
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        killer.close()
    # What Django runs at the start of each request (the test client skips it).
    close_old_connections()
    assert client.get("/api/v1/queues", headers=api).status_code == 200
