"""`ui` in every template: the signed-in user's theme and live-refresh interval."""

from django.utils.functional import SimpleLazyObject

from . import selectors


def ui(request):
    # Lazy: pages that never read it (API, fragments) cost no query.
    return {"ui": SimpleLazyObject(lambda: selectors.preferences(request.user))}
