"""Malformed requests over every route (UI and API): never a 5xx, and under /api/ always
the API's JSON error shape. The corpus is in tests/security/malformed_corpus.py; routes
come from walking the URL resolver, so a new route is covered without editing this file.

Each route is first requested plainly while the query/form parameters it reads are
recorded; then every recorded (and common) parameter gets every hostile value, every
path parameter every hostile segment, and every API write every hostile JSON body.
"""

import contextlib
import re

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import make_user, sign_in
from tests.security import malformed_corpus as corpus

pytestmark = pytest.mark.django_db

QUEUE, TASK = "payments", "15303193-7c55-5fd5-9213-8771deaccdac"
EXEMPT_PREFIXES = ("admin/",)  # Django's own admin (staff only; not ours)
ANONYMOUS_ONLY = ("login/", "logout/")  # would end the signed-in session of the corpus run
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def routes():
    return [r for r in walk(get_resolver().url_patterns) if not r.startswith(EXEMPT_PREFIXES)]


@pytest.fixture
def world(golden, roles, settings):
    """An admin's verified session (every right), the objects routes point at, and the
    value each path parameter gets when it is not the one being attacked."""
    from dlqadmin.masking.models import MaskingRule
    from dlqadmin.operations.models import Operation
    from dlqadmin.policies.services import save_channel, save_policy

    settings.DLQADMIN_WEBHOOK_ALLOWED_HOSTS = ["hooks.slack.com", "127.0.0.1"]
    boss = make_user("boss", ("admin",))
    make_user("target", ("viewer",))
    save_policy({"name": "pay", "pattern": "payments", "dlq_warning": 5, "dlq_critical": 50})
    channel = save_channel(name="ops", kind="webhook", target="http://127.0.0.1:7102/hook", routing_key="RK123456")
    rule = MaskingRule.objects.create(kind="key", pattern="order_note", label="note")
    op = Operation.objects.create(action="run", queue=QUEUE, state="archived", total=0, status=Operation.DONE,
                                  started_by=boss, started_by_name="boss")
    values = {"queue": QUEUE, "task_id": TASK, "field": "payload", "username": "target", "name": "pay",
              "number": "1", "op_id": str(op.pk), "pk": None, "entry_id": "3a290004-6e89-4313-99ba-fef8ca317798"}
    pks = {"masking": str(rule.pk), "channels": str(getattr(channel, "pk", channel)), "vault": "1",
           "sso-rules": "1", "tokens": "1"}
    client = sign_in(Client(raise_request_exception=False), boss)
    return client, values, pks


def concrete(route, values, pks, attack=None, segment=None):
    """The route with every parameter filled in (`attack` replaced by `segment`)."""
    def fill(m):
        name = m.group(2)
        if name == attack:
            return segment
        if name == "pk":
            return next(v for k, v in pks.items() if f"/{k}/" in "/" + route)
        return values[name]
    return "/" + _PARAM.sub(fill, route)


@contextlib.contextmanager
def recording():
    """Record the query/form keys views read (QueryDict.get/getlist/[]/in)."""
    seen = set()
    originals = {n: getattr(QueryDict, n) for n in ("get", "getlist", "__getitem__", "__contains__")}

    def wrap(name):
        original = originals[name]

        def method(self, key, *args, **kwargs):
            seen.add(key)
            return original(self, key, *args, **kwargs)
        return method

    for name in originals:
        setattr(QueryDict, name, wrap(name))
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(QueryDict, name, original)


def problems(method, url, response):
    """What is wrong with this answer to a malformed request (empty: nothing)."""
    out = []
    shown = url if len(url) < 200 else url[:120] + f"...({len(url)} chars)"
    if response.status_code >= 500:
        out.append(f"{method} {shown} -> {response.status_code}")
    if url.startswith("/api/"):
        kind = response.get("Content-Type", "")
        if not kind.startswith("application/json"):
            out.append(f"{method} {shown} -> {response.status_code} {kind} (not JSON)")
        elif response.status_code >= 400:
            body = response.json()
            if not (isinstance(body, dict) and isinstance(body.get("error"), str)
                    and isinstance(body.get("detail"), str)):
                out.append(f"{method} {shown} -> {response.status_code} without the error shape: {body!r:.200}")
    return out


def send(client, method, url, body=None, content_type="application/json"):
    if method == "GET":
        return client.get(url)
    return client.post(url, body if body is not None else b"", content_type=content_type)


def test_the_corpus_covers_every_route():
    names = {m.group(2) for r in routes() for m in _PARAM.finditer(r)}
    assert names <= {"queue", "task_id", "field", "username", "name", "number", "op_id", "pk", "entry_id"}, names
    assert len(routes()) > 60


def _query(params, value):
    return "&".join(f"{p}={value}" for p in params)


def test_hostile_query_and_form_values_on_every_route(world):
    """Every value in every parameter at once, then the values that reach furthest into
    a view (the ones a parser accepts as text or digits) one parameter at a time, so an
    early 400 on one parameter cannot hide a crash on another."""
    client, values, pks = world
    anonymous = Client(raise_request_exception=False)
    found = []
    for route in routes():
        who = anonymous if route.startswith(ANONYMOUS_ONLY) else client
        url = concrete(route, values, pks)
        for method in ("GET", "POST"):
            with recording() as seen:
                baseline = send(who, method, url, content_type="application/x-www-form-urlencoded")
            found += problems(method, url, baseline)
            if baseline.status_code == 405:
                continue  # refused before any parameter is read
            params = sorted((seen | set(corpus.COMMON_PARAMS)) - {"csrfmiddlewaretoken"})
            cases = [(params, name, value) for name, value in corpus.VALUES.items()]
            cases += [([p], name, corpus.VALUES[name]) for name in corpus.ONE_BY_ONE[method] for p in params]
            for names, value_name, value in cases:
                query = _query(names, value)
                if method == "GET":
                    response = who.get(f"{url}?{query}")
                else:
                    response = who.post(url, query.encode(), content_type="application/x-www-form-urlencoded")
                label = f"{url} [{','.join(names) if len(names) < 4 else 'all'}={value_name}]"
                found += problems(method, label, response)
    assert not found, "\n".join(found[:80]) + f"\n({len(found)} in all)"


def test_hostile_path_segments_on_every_route(world):
    client, values, pks = world
    found = []
    for route in routes():
        for m in _PARAM.finditer(route):
            converter, name = m.group(1), m.group(2)
            segments = corpus.INT_SEGMENTS if converter == "int" else corpus.PATH_SEGMENTS
            for segment in segments.values():
                url = concrete(route, values, pks, attack=name, segment=segment)
                for method in ("GET", "POST"):
                    found += problems(method, url, send(client, method, url, b"{}"))
    assert not found, "\n".join(found[:80]) + f"\n({len(found)} in all)"


def test_hostile_json_bodies_on_every_api_write(world):
    client, values, pks = world
    found = []
    bodies = corpus.json_bodies()
    for route in routes():
        if not route.startswith("api/"):
            continue
        url = concrete(route, values, pks)
        if send(client, "POST", url, b"{}").status_code == 405:
            continue  # a read-only route: its 405 is checked by the other tests
        for body_name, body in bodies:
            response = client.post(url, body, content_type="application/json")
            found += problems("POST", f"{url} [{body_name}]", response)
    assert not found, "\n".join(found[:80]) + f"\n({len(found)} in all)"


@pytest.mark.parametrize("method,path,body", corpus.MUST_BE_4XX,
                         ids=[f"{m} {p[:70]}" for m, p, _ in corpus.MUST_BE_4XX])
def test_the_reviewed_requests_get_a_clear_4xx(world, method, path, body):
    client, _, _ = world
    url = path.format(q=QUEUE, t=TASK)
    response = send(client, method, url, body)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert not problems(method, url, response)


def test_unknown_api_paths_and_methods_answer_json(world):
    client, _, _ = world
    for method, url in (("GET", "/api/v1/nope"), ("GET", "/api/v2/queues"), ("GET", "/api/"),
                        ("POST", "/api/v1/openapi.json"), ("PUT", "/api/v1/queues"),
                        ("DELETE", "/api/v1/queues/payments/")):
        response = client.generic(method, url)
        assert 400 <= response.status_code < 500, (method, url, response.status_code)
        assert not problems(method, url, response), (method, url, response.content[:200])
