"""One JSON log line per request, with request id and user id."""

import json
import logging

import pytest

from dlqadmin.core.logging import JsonFormatter
from tests.conftest import sign_in


@pytest.fixture
def json_lines():
    logger = logging.getLogger("dlqadmin.request")
    records = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append(JsonFormatter().format(record))

    handler = Capture()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_anonymous_request_logs_one_json_line(client, json_lines):
    response = client.get("/healthz?q=secret-search-term", HTTP_X_REQUEST_ID="req-123")
    assert len(json_lines) == 1
    line = json.loads(json_lines[0])
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert line["request_id"] == "req-123" == response["X-Request-ID"]
    assert line["user_id"] is None and line["level"] == "INFO" and line["logger"] == "dlqadmin.request"
    assert isinstance(line["duration_ms"], float) and line["ts"].endswith("+00:00")
    assert "secret-search-term" not in json_lines[0]


@pytest.mark.django_db
def test_signed_in_request_carries_the_user_id(client, staff, asynq_redis, json_lines):
    sign_in(client, staff, verified=False)
    client.get("/")
    line = json.loads(json_lines[-1])
    assert line["path"] == "/" and line["user_id"] == staff.pk and len(line["request_id"]) == 32


def test_formatter_keeps_extras_and_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("job",), sys.exc_info())
    record.queue = "billing:eu"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "failed job" and line["queue"] == "billing:eu" and "ValueError: boom" in line["exc"]


def test_cpu_time_in_the_log_line_and_server_timing_only_when_asked(client, json_lines, settings):
    response = client.get("/healthz")
    assert "Server-Timing" not in response
    line = json.loads(json_lines[-1])
    assert isinstance(line["cpu_ms"], float) and line["cpu_ms"] >= 0
    settings.DLQADMIN_SERVER_TIMING = True
    timing = client.get("/healthz")["Server-Timing"]
    app, cpu = timing.split(", ")
    assert app.startswith("app;dur=") and cpu.startswith("cpu;dur=")
    assert float(cpu.removeprefix("cpu;dur=")) >= 0
