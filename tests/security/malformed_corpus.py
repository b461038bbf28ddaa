"""The malformed-request corpus: hostile path segments, query values, form values and JSON
bodies, applied to every route the URL resolver knows (tests/security/test_malformed.py).

Add a value here and every route gets it; add a route to the project and it gets the
whole corpus without touching this file.
"""

import json

LONG = "x" * 100_000

# Path segments in place of a queue name, task id, user name, policy name, field...
# (written percent-encoded, as a client sends them).
PATH_SEGMENTS = {
    "nul": "%00",
    "nul-inside": "pay%00ments",
    "long": LONG,
    "invalid-utf8": "%FF%FE",
    "overlong-slash": "%C0%AF",
    "bidi": "%E2%80%AEevil",
    "tilde-junk": "~zz~",
    "dot-dot": "~2E~2E",
    "space": "%20",
}
INT_SEGMENTS = {
    "huge-int": "99999999999999999999",
    "zero": "0",
}

# Query-string and form values (the raw, percent-encoded form).
VALUES = {
    "nul": "%00",
    "nul-inside": "a%00b",
    "huge-int": "99999999999999999999",
    "negative": "-1",
    "long": LONG,
    "empty": "",
    "invalid-utf8": "%FF%FE",
    "float-overflow": "1e999",
}

# Values also tried one parameter at a time (the rest are tried in every parameter at
# once): the ones parsers accept furthest, as digits or as text.
ONE_BY_ONE = {"GET": ("huge-int", "long"), "POST": ()}

# Parameters every route is tried with, besides the ones it is seen to read.
COMMON_PARAMS = ("state", "page", "page_size", "offset", "limit", "q", "next")


def _deep(n, open_="[", close="]"):
    return open_ * n + close * n


def _deep_object(n):
    return '{"a":' * n + "1" + "}" * n


# JSON bodies for API writes: the cases, every field with every wrong type, and
# documents that are not an object at all.
JSON_FIELDS = ("state", "reason", "ticket", "ids", "action", "filter", "rate", "group", "payload", "version")
WRONG_TYPES = {"object": {}, "list": ["x"], "int": 5, "float": 1.5, "bool": True, "null": None,
               "nul-string": "a\x00b", "long-string": LONG, "huge-int": 10 ** 30}


def json_bodies():
    """(id, raw bytes) pairs."""
    bodies = [
        ("deep-list", _deep(100_000).encode()),
        ("deep-object", _deep_object(100_000).encode()),
        ("state-object", b'{"state":{}}'),
        ("reason-int", b'{"reason":5}'),
        ("reason-list", b'{"reason":["x"]}'),
        ("not-object-list", b"[]"),
        ("not-object-string", b'"x"'),
        ("not-object-null", b"null"),
        ("truncated", b'{"reason": "x'),
        ("invalid-utf8", b'{"reason": "\xff\xfe"}'),
        ("nan", b'{"rate": NaN}'),
        ("infinity", b'{"rate": 1e999}'),
        ("lone-surrogate", b'{"reason": "\\udcff"}'),
        ("ids-huge", json.dumps({"action": "run", "ids": [LONG]}).encode()),
        ("ids-nul", json.dumps({"action": "run", "ids": ["a\x00b"]}).encode()),
        ("filter-nested", json.dumps({"action": "run", "state": "archived", "filter": {"type": {"x": 1}}}).encode()),
        ("filter-nul", json.dumps({"action": "run", "state": "archived", "filter": {"error": "\x00"}}).encode()),
        ("empty", b""),
    ]
    for field in JSON_FIELDS:
        for name, value in WRONG_TYPES.items():
            bodies.append((f"{field}-{name}", json.dumps({field: value}).encode()))
    return bodies


# Requests the issue names explicitly: each must be a 4xx (not just "not a 5xx").
# (method, path with {q} = a visible queue and {t} = one of its dead tasks, body or None)
MUST_BE_4XX = [
    ("GET", "/api/v1/queues/{q}/tasks?page=99999999999999999999", None),
    ("GET", "/api/v1/queues/{q}/tasks?state=archived&error=%00", None),
    ("GET", "/api/v1/queues/{q}/tasks?q=card.number%3D%00", None),
    ("GET", "/api/v1/queues/{q}/failures?state=", None),
    ("GET", "/api/v1/audit?actor=%00", None),
    ("GET", "/api/v1/audit?q=%00%00%00", None),
    ("GET", "/api/v1/queues/%00/", None),
    ("GET", "/api/v1/queues/{q}/tasks/%00/", None),
    ("GET", "/api/v1/queues/{q}/tasks/" + LONG + "/", None),
    ("GET", "/api/v1/no-such-path", None),
    ("POST", "/api/v1/queues", b"{}"),
    ("POST", "/api/v1/queues/{q}/tasks/{t}/reveal", _deep(100_000).encode()),
    ("POST", "/api/v1/queues/{q}/tasks/{t}/run", b'{"state":{}}'),
    ("POST", "/api/v1/queues/{q}/tasks/{t}/reveal", b'{"reason":5}'),
    ("POST", "/api/v1/queues/{q}/tasks/{t}/reveal", b'{"reason":["x"]}'),
    ("POST", "/api/v1/queues/{q}/tasks/{t}/reveal", '{"reason":"long enough \\u0000 reason"}'.encode()),
    ("POST", "/api/v1/queues/{q}/batch", json.dumps({"action": "run", "ids": ["x" * 100_000]}).encode()),
    ("POST", "/api/v1/queues/{q}/bulk", b'{"action":"run","state":"archived","filter":{"error":"\\u0000"}}'),
    ("POST", "/api/v1/operations/99999999999999999999/cancel", b"{}"),
    ("GET", "/api/v1/operations/99999999999999999999/", None),
    ("GET", "/queues/%00/", None),
    ("GET", "/queues/{q}/tasks/%00/", None),
    ("GET", "/queues/{q}/?page=99999999999999999999", None),
    ("GET", "/queues/{q}/search?error=%00", None),
    ("GET", "/audit/?actor=%00", None),
    ("GET", "/operations/99999999999999999999/", None),
    ("GET", "/policies/masking/99999999999999999999/", None),
]
