"""API authentication: a bearer token, or the browser session (with CSRF for writes)."""

from datetime import timedelta
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.middleware.csrf import CsrfViewMiddleware
from dlqadmin.accounts import mfa

from django.conf import settings

from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit import record
from dlqadmin.access.backends import permissions_of, remember_permissions
from dlqadmin.core import clock
from dlqadmin.core.client_ip import client_ip
from dlqadmin.core.prepared import Prepared
from dlqadmin.core.responses import JsonResponse

from . import ratelimit
from .models import ADMIN, OPERATE, READ, ApiToken, hash_token, scope_covers

# last_used_at is informative; writing it on every call would cost a write per read.
_LAST_USED_GRANULARITY = timedelta(minutes=1)

# The token, its user and the user's permissions in one query, compiled once per process.
_TOKEN = Prepared(lambda key_hash: (ApiToken.objects.select_related("user")
                                    .annotate(user_perms=permissions_of("user_id"))
                                    .filter(key_hash=key_hash).order_by()[:1]),
                  "prepared:key_hash")


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


class _Refusal(Exception):
    def __init__(self, response):
        self.response = response


def _deny(request, token, status, code, detail, why):
    """Refuse a known token: the answer, and an access.denied row naming token and why."""
    record(audit_actions.DENIED, request=request, actor=token.user, target=f"token:{token.hint}",
           outcome="denied", message=detail,
           detail={"hint": token.hint, "scope": token.scope, "why": why, "method": request.method,
                   "path": request.path[:500]})
    response = error(status, code, detail)
    if status == 401:
        response["WWW-Authenticate"] = f'Bearer realm="dlqadmin", error="invalid_token"'
    return response


def _scope_refusal(request, token, needed):
    """None if `token`'s scope covers `needed`, else the audited 403."""
    if scope_covers(token.scope, needed):
        return None
    response = _deny(request, token, 403, "insufficient_scope",
                     f"This request needs a token with the {needed} scope; this one has {token.scope}.",
                     f"scope {token.scope} < {needed}")
    response["WWW-Authenticate"] = f'Bearer realm="dlqadmin", error="insufficient_scope", scope="{needed}"'
    return response


def admin_scope_refusal(request):
    """For a view whose need depends on what the request asks (the vault's bulk purge):
    None for a session or an admin-scope token, else the audited 403."""
    token = getattr(request, "api_token", None)
    return None if token is None else _scope_refusal(request, token, ADMIN)


def _needed_scope(request, admin_methods):
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return READ
    return ADMIN if request.method in admin_methods else OPERATE


def _token_user(request, admin_methods):
    """(user, the token) or (None, None) without one. A token that may not be used here
    raises _Refusal."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None, None
    token = _TOKEN.first(hash_token(raw.strip()))
    if token is None:
        raise _Refusal(error(401, "invalid_token", "The bearer token is unknown or revoked."))
    # Counted before anything is refused: each refusal below writes an audit row, and a dead
    # or narrow token must not be able to write them (and take the chain's lock) unbounded.
    verdict = ratelimit.hit(token)
    if not verdict.allowed:
        response = error(429, "rate_limited", f"At most {verdict.limit} requests per "
                                              f"{settings.DLQADMIN_API_RATE_WINDOW} s per token; retry in "
                                              f"{verdict.retry_after} s.")
        response["Retry-After"] = str(verdict.retry_after)
        raise _Refusal(response)
    if token.revoked_at is not None:
        raise _Refusal(_deny(request, token, 401, "invalid_token", "The bearer token is unknown or revoked.",
                             "revoked"))
    if not token.user.is_active:
        raise _Refusal(_deny(request, token, 401, "invalid_token", "The token's user is deactivated.",
                             "user_deactivated"))
    if token.expired:
        raise _Refusal(_deny(request, token, 401, "token_expired",
                             f"The bearer token expired at {token.expires_at.isoformat()}.", "expired"))
    refusal = _scope_refusal(request, token, _needed_scope(request, admin_methods))
    if refusal is not None:
        raise _Refusal(refusal)
    remember_permissions(token.user, token.user_perms)  # no permission query of its own
    now = clock.now()
    address = client_ip(request)[:64]
    if (token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY
            or token.last_used_ip != address):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=address)
    return token.user, token


def _csrf_failure(request):
    """Run Django's CSRF check for a session-authenticated unsafe request."""
    check = CsrfViewMiddleware(lambda req: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def api_view(methods=("GET",), admin_methods=()):
    """Authenticate (token or session), enforce methods, answer errors as JSON.

    A token must be live (not revoked, expired, or of a deactivated user) and its
    scope must cover the request: GET needs read, other methods operate, and
    `admin_methods` admin. The user's roles are checked by the view as for a session;
    the scope only narrows them. Each token is rate limited (ratelimit.py)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(405, "method_not_allowed", f"Use {' or '.join(methods)}.")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                user, token = _token_user(request, admin_methods)
            except _Refusal as refusal:
                return refusal.response
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
                request.api_token = token
            try:
                return view(request, *args, **kwargs)
            except Http404:
                # Same answer for "missing" and "not yours": names leak to nobody.
                return error(404, "not_found", "No such queue or task.")

        wrapper.csrf_exempt = True  # checked above, only for session auth
        return wrapper

    return decorate
