"""API authentication: a bearer token, or the browser session (with CSRF for writes)."""

from datetime import timedelta
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from dlqadmin.accounts import mfa

from dlqadmin.core import clock
from .models import ApiToken, hash_token

# last_used_at is informative; writing it on every call would cost a write per read.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def error(status, code, detail):
    return JsonResponse({"error": code, "detail": detail}, status=status)


def json_forbidden(detail):
    """The API answers a missing role with a JSON 403, like its other errors."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied:
                return error(403, "forbidden", detail)

        return wrapper

    return decorate


def _token_user(request):
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None, False
    token = ApiToken.objects.active().select_related("user").filter(key_hash=hash_token(raw.strip())).first()
    if token is None:
        return None, True
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, True


def _csrf_failure(request):
    """Run Django's CSRF check for a session-authenticated unsafe request."""
    check = CsrfViewMiddleware(lambda req: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def api_view(methods=("GET",)):
    """Authenticate (token or session), enforce methods, answer errors as JSON."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(405, "method_not_allowed", f"Use {' or '.join(methods)}.")
                response["Allow"] = ", ".join(methods)
                return response
            user, used_token = _token_user(request)
            if used_token and user is None:
                return error(401, "invalid_token", "The bearer token is unknown or revoked.")
            if user is None:
                if not request.user.is_authenticated:
                    response = error(401, "not_authenticated", "Send 'Authorization: Bearer <token>' or sign in.")
                    response["WWW-Authenticate"] = 'Bearer realm="dlqadmin"'
                    return response
                if request.method not in ("GET", "HEAD", "OPTIONS") and _csrf_failure(request):
                    return error(403, "csrf_failed", "Session-authenticated writes need the CSRF token.")
            else:
                if mfa.required_for(user) and not mfa.confirmed_device(user):
                    # A token may do no more than its user's session: a user whose role
                    # requires a second factor is confined to enrolling until they have one.
                    return error(403, "mfa_required",
                                 "Your role requires a second factor: enrol an authenticator app in the "
                                 "browser (/account/mfa/setup/) before using API tokens.")
                request.user = user
            try:
                return view(request, *args, **kwargs)
            except Http404:
                # Same answer for "missing" and "not yours": names leak to nobody.
                return error(404, "not_found", "No such queue or task.")

        wrapper.csrf_exempt = True  # checked above, only for session auth
        return wrapper

    return decorate
