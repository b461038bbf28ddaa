"""Every API route is in /api/v1/openapi.json, with exactly the methods it answers.

Walks the URL resolver, so a route added later without documenting it fails here."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The schema does not describe itself.
UNDOCUMENTED = {"/openapi.json"}
# Concrete values for path converters, to call each route.
SAMPLE = {"queue": "some-queue", "name": "some-queue", "int": "1", "str": "x", "path": "x", "slug": "x"}


def _api_routes():
    """(OpenAPI path, concrete URL) for every route under /api/v1/."""

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    for route in walk(get_resolver().url_patterns, ""):
        if not route.startswith(API_PREFIX):
            continue
        tail = route[len(API_PREFIX) - 1:]
        documented = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", tail)
        concrete = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE[m.group(1) or "str"], tail)
        yield documented, "/" + API_PREFIX + concrete[1:]


ROUTES = sorted(set(_api_routes()))


def test_the_walk_finds_the_api():
    assert len(ROUTES) >= 20
    assert ("/audit", "/api/v1/audit") in ROUTES


@pytest.mark.parametrize(("documented", "url"), ROUTES, ids=[r[0] for r in ROUTES])
def test_route_is_documented_with_the_methods_it_answers(client, documented, url):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    if documented in UNDOCUMENTED:
        return
    assert documented in paths, f"{documented} is missing from the OpenAPI schema"
    listed = {m.upper() for m in paths[documented]}
    # Unauthenticated: a method the route answers gets 401, one it does not 405.
    answered = {m for m in METHODS if client.generic(m, url).status_code != 405}
    assert answered == listed & set(METHODS), (documented, answered, listed)


def test_every_operation_has_response_schemas_and_bodies_are_described(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    bare = [f"{m} {p} {code}" for p, item in paths.items() if p not in UNDOCUMENTED
            for m, op in item.items() for code, r in op["responses"].items()
            if "schema" not in r.get("content", {}).get("application/json", {})]
    assert not bare
    # Every action that reads a JSON body says what the body is.
    readers = {"/queues/{queue}/batch", "/queues/{queue}/bulk", "/queues/{queue}/vault/bulk",
               "/queues/{queue}/tasks/{task_id}/reveal", "/queues/{queue}/tasks/{task_id}/edit",
               "/queues/{queue}/tasks/{task_id}/run"}
    for p in readers:
        assert paths[p]["post"]["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"
    assert "cancel" in paths["/queues/{queue}/batch"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["properties"]["action"]["enum"]
    assert "id" in {p["name"] for p in paths["/queues/{queue}/tasks"]["get"]["parameters"]}
    assert all("429" in op["responses"] for p, item in paths.items() if p not in UNDOCUMENTED
               for op in item.values())
