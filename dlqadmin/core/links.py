"""URLs of rows (tasks of a page), built without a reverse() per row.

A page of 100 tasks needs 100 task URLs; reverse() walks the resolver for each (a
quarter of the JSON page's time in the profile). The URL of a row differs from its
neighbours' only in its last segment, so `row_path` reverses each (view, leading
arguments) once with a marker in the last place, keeps the parts around the marker,
and per row only encodes the last segment as the `name` converter and reverse() do
(`tests/core/test_links.py` checks it is exactly reverse()'s answer for any bytes).
"""

import re
from functools import lru_cache
from urllib.parse import quote

from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import RFC3986_SUBDELIMS

from .converters import NameConverter

_MARK = "dlqadminrowmark"  # ASCII letters: the name converter and quote() leave it as it is
_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what reverse() leaves unquoted
_to_url = NameConverter().to_url
# Leading arguments longer than this are not kept (queue names are any bytes, of any
# length): such rows pay a reverse() each, and the cache stays small.
_MAX_KEPT = 1024
# Segments quote() leaves as they are (task ids are mostly UUIDs): no need to call it.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]+")


def _quoted(segment):
    return segment if _UNQUOTED.fullmatch(segment) else quote(segment, safe=_SAFE)


@lru_cache(maxsize=256)
def _around(viewname, head, script_prefix, urlconf):
    url = reverse(viewname, urlconf=urlconf, args=[*head, _MARK])
    before, mark, after = url.rpartition(_MARK)
    return before, after


def _parts(viewname, head):
    return _around(viewname, head, get_script_prefix(), get_urlconf())


def row_path(viewname, *args):
    """reverse(viewname, args=args), for views whose last argument is a `<name:...>`
    segment (task ids): the same string, at the cost of encoding that segment."""
    *head, last = args
    if not isinstance(last, str) or not last or any(len(str(h)) > _MAX_KEPT for h in head):
        return reverse(viewname, args=args)  # the converter's own error for an empty name
    before, after = _parts(viewname, tuple(head))
    return before + _quoted(_to_url(last)) + after


def row_url(request, viewname, *args):
    """absolute(request, row_path(viewname, *args)), with the parts around the last
    segment worked out once per request and view (a page's rows share them)."""
    *head, last = args
    if not isinstance(last, str) or not last or any(len(str(h)) > _MAX_KEPT for h in head):
        return absolute(request, reverse(viewname, args=args))
    rows = request.__dict__.setdefault("_dlqadmin_rows", {})
    key = (viewname, tuple(head))
    parts = rows.get(key)
    if parts is None:
        before, after = _parts(viewname, key[1])
        # The segment never holds '/' nor is '.' or '..' (see converters), so the fast
        # path of absolute() holds for every row exactly when it holds for this one.
        if absolute(request, before + "x" + after) == absolute(request, before) + "x" + after:
            parts = rows[key] = (absolute(request, before), after)
        else:
            parts = rows[key] = (None, None)
    if parts[0] is None:
        return absolute(request, row_path(viewname, *args))
    return parts[0] + _quoted(_to_url(last)) + parts[1]


def absolute(request, path):
    """request.build_absolute_uri(path) for a path reverse() made ('/...'), with the
    scheme and host worked out once per request."""
    base = getattr(request, "_dlqadmin_base_uri", None)
    if base is None:
        base = request._dlqadmin_base_uri = request.build_absolute_uri("/")[:-1]
    if path.startswith("/") and not path.startswith("//") and "/./" not in path and "/../" not in path:
        return base + path
    return request.build_absolute_uri(path)


# The main menu's links (base.html): the same on every page, so reversed once per script
# prefix and URL conf instead of a dozen reverse() calls per page (~0.15 ms).
MENU = {"servers": "triage:servers", "scheduler": "triage:scheduler", "operations": "operations:list",
        "alerts": "alerts:current", "policies": "policies:list", "users": "access:users",
        "audit": "audit:review", "preferences": "accounts:preferences", "logout": "logout",
        "profile": "accounts:profile", "overview": "triage:overview"}


@lru_cache(maxsize=16)
def _menu(script_prefix, urlconf):
    return {key: reverse(viewname, urlconf=urlconf) for key, viewname in MENU.items()}


def menu():
    """{key: path} of MENU, for the current script prefix."""
    return _menu(get_script_prefix(), get_urlconf())
