"""The OpenAPI schema documents every API route and every status code each one answers,
malformed requests included (schemathesis found undocumented ones)."""

import re

import pytest
from django.test import Client

from dlqadmin.api.models import ApiToken
from tests.conftest import make_user, sign_in
from tests.security import malformed_corpus as corpus
from tests.security.test_malformed import QUEUE, TASK, routes

pytestmark = pytest.mark.django_db
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def schema_path(route):
    return "/" + _PARAM.sub(lambda m: "{" + m.group(1) + "}", route[len("api/v1/"):])


def api_routes():
    return [r for r in routes() if r.startswith("api/v1/")]


@pytest.fixture
def doc(client):
    return client.get("/api/v1/openapi.json").json()


def test_every_api_route_is_in_the_schema(doc):
    missing = [r for r in api_routes() if schema_path(r) not in doc["paths"]]
    assert not missing


def test_every_status_code_answered_is_documented(doc, golden, roles, settings):
    from dlqadmin.operations.models import Operation

    boss = make_user("boss", ("admin",))
    viewer = make_user("viewer1", ("viewer", [QUEUE]))
    op = Operation.objects.create(action="run", queue=QUEUE, state="archived", total=0, status=Operation.DONE,
                                  started_by=boss, started_by_name="boss")
    values = {"queue": QUEUE, "task_id": TASK, "op_id": str(op.pk), "pk": "1",
              "entry_id": "3a290004-6e89-4313-99ba-fef8ca317798"}
    admin = sign_in(Client(raise_request_exception=False), boss)
    _, raw = ApiToken.issue(viewer)
    as_viewer = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {raw}"})
    anonymous = Client(raise_request_exception=False)
    bodies = [b"{}", b'{"state":{}}', b'{"reason":5}', b"[]", b"{", b'{"action":"run","ids":["x"]}']
    queries = ["", "?page=99999999999999999999", "?state=nope", "?state=", "?actor=%00", "?limit=0",
               f"?q={corpus.LONG}"]
    undocumented = []
    for route in api_routes():
        path = schema_path(route)
        url = "/" + _PARAM.sub(lambda m: values[m.group(1)], route)
        item = doc["paths"][path]
        for method in ("get", "post", "put", "delete"):
            answers = []
            for client in (admin, as_viewer, anonymous):
                if method not in item:  # a method the route does not have: 405 whoever asks
                    answers.append(client.generic(method.upper(), url).status_code)
                elif method == "get":
                    answers += [client.get(url + q).status_code for q in queries]
                elif method == "post":
                    answers += [client.post(url, b, content_type="application/json").status_code for b in bodies]
                else:
                    answers.append(client.generic(method.upper(), url).status_code)
            if method not in item:
                undocumented += [f"{method.upper()} {path} -> {s}" for s in set(answers) if s != 405]
                continue
            documented = set(item[method]["responses"])
            undocumented += [f"{method.upper()} {path} -> {s}" for s in set(answers) if str(s) not in documented]
    settings.ASYNQ_REDIS_URL = "redis://127.0.0.1:1/0"  # Redis down: 503 where Redis is read
    for route in api_routes():
        path, url = schema_path(route), "/" + _PARAM.sub(lambda m: values[m.group(1)], route)
        for method in doc["paths"][path]:
            s = (admin.get(url) if method == "get" else
                 admin.generic(method.upper(), url, b"{}", content_type="application/json"))
            if str(s.status_code) not in doc["paths"][path][method]["responses"]:
                undocumented.append(f"{method.upper()} {path} (Redis down) -> {s.status_code}")
    assert not undocumented, sorted(set(undocumented))
