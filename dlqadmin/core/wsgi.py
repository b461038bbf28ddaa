"""The WSGI handler gunicorn serves: Django's own, which also empties each request once
its response is closed.

Django leaves every request as cyclic garbage: `request.user` and `request.auser` are
closures over the request, and the messages storage, django-htmx's details and
django-otp's helpers point back at it. Only the garbage collector's cycle search frees
such a graph; with its young generation run every 20,000 allocations (gunicorn.conf.py)
a worker held hundreds of finished requests at a time (5 MB more RSS per worker). Emptied, the
request and everything it held are freed by reference counting when the server drops
the response (bench/README.md).
"""

import hashlib
from functools import partial

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.template.loader import get_template
from django.urls import get_resolver


class Handler(WSGIHandler):
    def get_response(self, request):
        response = super().get_response(request)
        # After Django's own closer (request.close, which closes uploaded files) and
        # after the body was sent: nothing reads the request any more.
        response._resource_closers.append(partial(_empty, request))
        return response


def _empty(request):
    request.__dict__.clear()


def warm():
    """Load now what each worker would otherwise load on its first requests: every view
    module (the URL patterns), every page template compiled, and OpenSSL's digests (the
    first hash of a process sets up its providers: ~3 MB). gunicorn imports this app once
    and forks its workers from it (preload_app), so the workers share these pages."""
    get_resolver().url_patterns
    for folder in settings.TEMPLATES[0]["DIRS"]:
        for path in sorted(folder.rglob("*.html")):
            get_template(path.relative_to(folder).as_posix())
    hashlib.sha256(b"").digest()
