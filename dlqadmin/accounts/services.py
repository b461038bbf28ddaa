"""Writes of sign-in: users made just in time by single sign-on, break-glass accounts."""

import re
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from dlqadmin import audit
from dlqadmin.access.backends import forget
from dlqadmin.access.services import apply_sso_roles, groups_granting_access, roles_of  # noqa: F401
from dlqadmin.audit import actions as audit_actions
from dlqadmin.core import clock

from .models import BreakGlass, OidcIdentity
from .selectors import default_ui

# Audit action names (the audit log takes any name).
SSO_USER_CREATE = "account.sso_create"
BREAK_GLASS_SET = "account.break_glass"
BREAK_GLASS_LOGIN = "login.break_glass"

_NAME_UNSAFE = re.compile(r"[^\w.@+-]")


def _free_username(claims):
    """A readable, unique user name from the IdP's claims (only a label: the identity is
    issuer + subject)."""
    User = get_user_model()
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    preferred = claims.get("preferred_username") if isinstance(claims.get("preferred_username"), str) else ""
    # Normalised first, as Django stores user names (NFKC), so the uniqueness check below is
    # of the name actually saved; "ｆｕｌｌ" and "full" are one name.
    base = _NAME_UNSAFE.sub("", unicodedata.normalize("NFKC", preferred or email.split("@")[0]))[:100] or "sso-user"
    name, n = base, 1
    while User.objects.filter(username=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


@transaction.atomic
def sso_user(sign_in, request=None):
    """The user behind an accepted OIDC sign-in (created on first sign-in), with their
    SSO-derived roles recomputed from `sign_in.groups`."""
    claims = sign_in.claims
    email = claims.get("email") if isinstance(claims.get("email"), str) and "\x00" not in claims["email"] else ""
    identity = (OidcIdentity.objects.select_for_update().select_related("user")
                .filter(issuer=sign_in.issuer, subject=sign_in.subject).first())
    if identity is None:
        user = get_user_model().objects.create_user(_free_username(claims), email=email[:254])
        user.set_unusable_password()
        user.save(update_fields=["password"])
        identity = OidcIdentity.objects.create(user=user, issuer=sign_in.issuer, subject=sign_in.subject,
                                               email=email[:320], groups=sign_in.groups)
        audit.record(SSO_USER_CREATE, request=request, actor=user, target=f"user:{user.get_username()}",
                     detail={"user_id": user.pk, "issuer": sign_in.issuer, "subject": sign_in.subject})
    else:
        user = identity.user
        identity.email, identity.groups, identity.last_sign_in_at = email[:320], sign_in.groups, clock.now()
        identity.save(update_fields=["email", "groups", "last_sign_in_at"])
        if email and user.email != email[:254]:
            user.email = email[:254]
            user.save(update_fields=["email"])
    if user.is_active:
        apply_sso_roles(user, sign_in.groups, request=request)
    return user


def refuse_sso(request, user, sign_in, message, *, code):
    """Audit a sign-in the IdP accepted but we do not (deactivated user, no role)."""
    audit.record(audit_actions.LOGIN_FAILED, request=request, actor=user, target=f"user:{user.get_username()}",
                 outcome="denied", message=message,
                 detail={"method": "oidc", "error": code, "user_id": user.pk, "groups": sign_in.groups[:100]})


def has_any_role(user):
    return user.is_superuser or bool(roles_of(user))


def is_break_glass(user):
    return BreakGlass.objects.filter(user=user).exists()


def password_login_allowed(user, request=None):
    """With DLQADMIN_PASSWORD_LOGIN off, only break-glass users may use a password; a
    refusal is audited."""
    if settings.DLQADMIN_PASSWORD_LOGIN or is_break_glass(user):
        return True
    audit.record(audit_actions.LOGIN_FAILED, request=request, actor=None, target=f"user:{user.get_username()}",
                 outcome="denied", message="password sign-in is off and this is not a break-glass account",
                 detail={"user_id": user.pk, "method": "password"})
    return False


def record_break_glass_login(user, request=None):
    audit.record(BREAK_GLASS_LOGIN, request=request, actor=user, target=f"user:{user.get_username()}",
                 message="password sign-in with single sign-on required", detail={"user_id": user.pk})


@transaction.atomic
def set_break_glass(user, on, *, reason="", actor=None, request=None):
    if on:
        if not reason.strip():
            raise ValueError("Say why this account may bypass single sign-on.")
        BreakGlass.objects.update_or_create(user=user, defaults={"reason": reason.strip()[:500]})
    else:
        BreakGlass.objects.filter(user=user).delete()
    audit.record(BREAK_GLASS_SET, request=request, actor=actor, target=f"user:{user.get_username()}",
                 reason=reason.strip()[:500], detail={"user_id": user.pk, "break_glass": on})


PREFERENCES_CHANGE = "account.preferences"


def set_preferences(request, **changes):
    """Store the user's display choices (`theme`, `refresh_seconds`; only those given) and
    audit what changed."""
    from .models import Preferences

    user = request.user
    with transaction.atomic():
        prefs, _ = Preferences.objects.select_for_update().get_or_create(
            user=user, defaults={"refresh_seconds": default_ui().refresh_seconds})
        before = {k: getattr(prefs, k) for k in changes}
        for key, value in changes.items():
            setattr(prefs, key, value)
        prefs.save()
        forget(user, "dlq_theme", "dlq_refresh_seconds")  # as loaded with the session's user
        if before != changes:
            audit.record(PREFERENCES_CHANGE, request=request, target=f"user:{user.get_username()}",
                         detail={"before": before, "after": changes})
    return prefs
