"""API tokens: issue (scope within the user's roles, expiry), revoke, and what a token
may do. Every change is audited here."""

import re
from datetime import timedelta

from django.db import transaction

from dlqadmin.access.roles import ADMIN as ADMIN_ROLE
from dlqadmin.access.roles import OPERATOR, PAYLOAD_VIEWER
from dlqadmin.access.services import roles_of
from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit import record

from .models import ADMIN, DEFAULT_LIFETIME, MAX_LIFETIME, OPERATE, READ, SCOPES, ApiToken

# The roles whose rights a scope needs at least one of (read: any role at all).
_SCOPE_ROLES = {OPERATE: {OPERATOR, PAYLOAD_VIEWER, ADMIN_ROLE}, ADMIN: {ADMIN_ROLE}}
_LIFETIME = re.compile(r"(\d{1,4})([dh])")


class TokenRefused(Exception):
    """The token cannot be made (scope beyond the user's roles, bad lifetime...)."""


def parse_lifetime(text):
    """'90d' / '12h' (or a number of days) -> timedelta, at most MAX_LIFETIME."""
    text = str(text).strip().lower()
    if text.isdigit():
        text += "d"
    m = _LIFETIME.fullmatch(text)
    if not m or int(m.group(1)) == 0:
        raise TokenRefused(f"expiry must look like 90d or 12h, got {text[:20]!r}")
    value = timedelta(days=int(m.group(1))) if m.group(2) == "d" else timedelta(hours=int(m.group(1)))
    if value > MAX_LIFETIME:
        raise TokenRefused(f"a token lives at most {MAX_LIFETIME.days} days")
    return value


def allowed_scopes(user):
    """The scopes `user`'s roles allow a token to have. read always: it can only read
    what the roles let the user see (nothing without a role)."""
    roles = set(roles_of(user))
    return tuple(s for s in SCOPES if s == READ or roles & _SCOPE_ROLES[s])


def issue(user, *, scope=READ, lifetime=DEFAULT_LIFETIME, name="", request=None, via="", os_user=""):
    """Make a token for `user`; returns (token, raw). TokenRefused if the scope is more
    than the user's roles allow or the user is deactivated."""
    if not user.is_active:
        raise TokenRefused(f"user {user.get_username()!r} is deactivated")
    if scope not in SCOPES:
        raise TokenRefused(f"scope must be one of {', '.join(SCOPES)}")
    allowed = allowed_scopes(user)
    if scope not in allowed:
        raise TokenRefused(f"{user.get_username()!r} may not hold a {scope} token: their roles allow "
                           f"{', '.join(allowed)}")
    if lifetime > MAX_LIFETIME or lifetime <= timedelta(0):
        raise TokenRefused(f"a token lives at most {MAX_LIFETIME.days} days")
    with transaction.atomic():  # no token without its audit record
        token, raw = ApiToken.issue(user, name=name, scope=scope, lifetime=lifetime)
        # The hint only: the token itself is never written anywhere.
        detail = {"hint": token.hint, "label": name, "user": user.get_username(), "user_id": user.pk,
                  "scope": scope, "expires_at": token.expires_at.isoformat(), "via": via}
        if os_user:
            detail["os_user"] = os_user
        record(audit_actions.TOKEN_CREATE, request=request, target=f"token:{token.hint}", detail=detail)
    return token, raw


def revoke(token, *, request=None, via="", os_user=""):
    """Revoke `token` (no-op if it already is); audited."""
    if token.revoked_at is not None:
        return False
    with transaction.atomic():  # no revocation without its audit record, and vice versa
        token.revoke()
        detail = {"hint": token.hint, "user": token.user.get_username(), "user_id": token.user_id, "via": via}
        if os_user:
            detail["os_user"] = os_user
        record(audit_actions.TOKEN_REVOKE, request=request, target=f"token:{token.hint}", detail=detail)
    return True


def revoke_own(request, pk):
    """The signed-in user revokes one of their own tokens; False if it is not theirs."""
    token = ApiToken.objects.filter(pk=pk, user=request.user).select_related("user").first()
    if token is None:
        return False
    revoke(token, request=request, via="account page")
    return True


def own_tokens(user):
    """The user's tokens for their account page, newest first (revoked ones too)."""
    return list(ApiToken.objects.filter(user=user).order_by("-created_at")[:200])
