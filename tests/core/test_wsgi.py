"""The WSGI application gunicorn serves (dlqadmin.wsgi): a finished request and its page are
freed by reference counting, not left for the garbage collector's cycle search, and
loading the application opens no connection (gunicorn forks its workers from it)."""

import gc
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.template.context import BaseContext

from dlqadmin.core.wsgi import Handler
from dlqadmin.triage.presenters import TaskView

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def handler():
    # As Django's test client does: the test's transaction must outlive each request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield Handler()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def serve(handler, path, cookie=""):
    """One request the way a WSGI server makes it: call, read the body, close."""
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "HTTP_HOST": "testserver", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    status = []
    response = handler(environ, lambda s, headers, exc_info=None: status.append(s))
    body = b"".join(response)
    response.close()
    return status[0], body


def left_for_the_collector(handler, path, cookie=""):
    """The objects of one request that only the cycle search would free."""
    serve(handler, path, cookie)  # first use: caches, compiled templates
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        status, body = serve(handler, path, cookie)
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return status, body, garbage


def test_a_page_and_its_request_are_freed_when_the_response_is_closed(handler, staff_client, golden):
    cookie = f"{settings.SESSION_COOKIE_NAME}={staff_client.cookies[settings.SESSION_COOKIE_NAME].value}"
    status, body, garbage = left_for_the_collector(handler, "/queues/payments/", cookie)
    assert status.startswith("200") and b"<table" in body
    # The rows and the template contexts went with the response, not to the collector.
    assert not [o for o in garbage if isinstance(o, (TaskView, BaseContext))]
    # What is left (django-otp ties the user to itself) no longer holds the request's data.
    requests = [o for o in garbage if type(o).__name__ == "WSGIRequest"]
    assert all(vars(r) == {} for r in requests)
    assert len(garbage) < 30


@pytest.mark.django_db
def test_a_public_page_leaves_nothing_for_the_collector_but_an_empty_request(handler):
    status, body, garbage = left_for_the_collector(handler, "/login/")
    assert status.startswith("200") and b"<form" in body
    assert not [o for o in garbage if isinstance(o, BaseContext)]
    assert all(vars(o) == {} for o in garbage if type(o).__name__ == "WSGIRequest")


def test_loading_the_application_connects_to_nothing():
    """Workers are forked from the loaded application: a connection made while loading
    would be one socket shared by every worker."""
    code = (
        "import dlqadmin.wsgi\n"
        "from django.db import connections\n"
        "from django.template import engines\n"
        "from dlqadmin.core.asynq_client import _client_for\n"
        "assert all(c.connection is None for c in connections.all(initialized_only=True))\n"
        "assert _client_for.cache_info().currsize == 0\n"
        "loader = engines.all()[0].engine.template_loaders[0]\n"
        "print(len(loader.get_template_cache))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dlqadmin.settings", "DEBUG": "false",
           "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "testserver",
           # Nothing listens here: a connection attempt would fail the import.
           "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "ASYNQ_REDIS_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # The page templates were compiled in the parent, for every worker to share.
    templates = len(list((ROOT / "templates").rglob("*.html")))
    assert int(done.stdout.strip()) >= templates
