from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from dlqadmin import audit
from dlqadmin.access.services import current_epoch
from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit.sanitize import clean_text, fingerprint

from . import sessions

# Set on the request by code that ends a session for a reason (idle timeout...).
LOGOUT_CAUSE = "_dlq_logout_cause"
# Set on the request by the sign-in view: how the user signed in (password, oidc...).
LOGIN_DETAIL = "_dlq_login_detail"


@receiver(user_logged_in)
def _start_session_clock(sender, request, user, **kwargs):
    sessions.start(request.session, current_epoch(user))


# --- Sign-in events in the audit log. A failed write raises, and the request fails
# with it (a sign-in whose record cannot be written does not happen).

@receiver(user_logged_in)
def _audit_login(sender, request, user, **kwargs):
    audit.record(audit_actions.LOGIN, request=request, actor=user, target=f"user:{user.get_username()}",
                 detail={"second_factor": _second_factor(request, user),
                         **(getattr(request, LOGIN_DETAIL, None) or {})})


def _second_factor(request, user):
    if (getattr(request, LOGIN_DETAIL, None) or {}).get("idp_second_factor"):
        return "idp"
    return "pending" if _has_device(user) else "none"


def _has_device(user):
    from . import mfa

    return mfa.confirmed_device(user) is not None


@receiver(user_logged_out)
def _audit_logout(sender, request, user, **kwargs):
    if user is None:
        return  # nobody was signed in
    cause = getattr(request, LOGOUT_CAUSE, None) if request is not None else None
    audit.record(audit_actions.LOGOUT, request=request, actor=user, target=f"user:{user.get_username()}",
                 detail={"cause": cause or "signed out"})


def _attempted(username):
    """Target and detail for an attempted user name. Unknown names are not stored (people
    type their password into the user name box): only a keyed hash of them."""
    name = clean_text(username or "", 150)
    user = get_user_model().objects.filter(username=name).first() if name else None
    if user is not None:
        return f"user:{user.get_username()}", {"user_id": user.pk}
    return "unknown user", {"username": fingerprint(name)}


@receiver(user_login_failed)
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    # The actor is whoever is at the keyboard: anonymous. Django has already replaced
    # the password in `credentials`; we take only the user name.
    target, detail = _attempted((credentials or {}).get("username"))
    locked = bool(getattr(request, "axes_locked_out", False))
    audit.record(audit_actions.LOGIN_FAILED, request=request, target=target, outcome="failed",
                 message="sign-in locked" if locked else "wrong user name or password",
                 detail={**detail, "locked_out": locked})


@receiver(user_locked_out)
def _audit_lockout(sender, request=None, username=None, **kwargs):
    target, detail = _attempted(username)
    audit.record(audit_actions.LOCKOUT, request=request, target=target, outcome="denied",
                 message="too many failed sign-ins: locked for the cool-off time",
                 detail={**detail, "failures": getattr(request, "axes_failures_since_start", None)})
