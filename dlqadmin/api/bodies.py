"""Reading an API request body: one JSON object whose known members have the right
types, or a clear 400. Views never see a list where a string belongs, a document nested
100,000 deep, or a NUL / lone surrogate in a text Postgres would have to store.

    body = read_object(request)          # dict, or raises BadBody (400 bad_json / bad_parameter)
"""

import json

_TEXT = "a string"
# Known members and what they must be (null always means "not given").
FIELDS = {
    "state": _TEXT, "reason": _TEXT, "ticket": _TEXT, "action": _TEXT, "group": _TEXT, "version": _TEXT,
    "ids": "a list of strings", "filter": "an object of search parameters", "rate": "a whole number",
}
# The one member that carries task data as-is (edit-and-retry): any JSON value.
_FREE = {"payload"}
_SCALARS = (str, int, float, bool)


class BadBody(ValueError):
    def __init__(self, code, detail):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _bad_text(value):
    """Why a string cannot be used (NUL, lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogates)"
    return None


def _check(name, value):
    want = FIELDS[name]
    if value is None:
        return
    if want == _TEXT:
        ok = isinstance(value, str)
    elif name == "ids":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif name == "filter":
        ok = isinstance(value, dict) and all(v is None or isinstance(v, _SCALARS) for v in value.values())
    else:  # rate
        ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok:
        raise BadBody("bad_parameter", f"{name} must be {want}, got {type(value).__name__}.")
    texts = [value] if isinstance(value, str) else (
        value if isinstance(value, list) else [*value.keys(), *(v for v in value.values() if isinstance(v, str))]
        if isinstance(value, dict) else [])
    for text in texts:
        # Task ids are stored as their exact bytes (core/fields.NameField): NUL is fine there.
        why = _bad_text(text.replace("\x00", "") if name == "ids" else text)
        if why:
            raise BadBody("bad_parameter", f"{name} {why}.")


def read_object(request):
    raw = request.body or b"{}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("bad_json", "The body must be UTF-8 encoded JSON.") from None
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadBody("bad_json", "The body is nested too deeply.") from None
    except ValueError as exc:
        raise BadBody("bad_json", f"The body must be JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise BadBody("bad_json", "The body must be a JSON object.")
    for name, value in body.items():
        if name in FIELDS:
            _check(name, value)
        elif name not in _FREE and isinstance(value, str) and _bad_text(value):
            raise BadBody("bad_parameter", f"{name} {_bad_text(value)}.")
    return body


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")
