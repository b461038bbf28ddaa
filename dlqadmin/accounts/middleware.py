"""Per-request enforcement of session limits and of the second factor."""

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from dlqadmin.access.services import current_epoch

from . import mfa, sessions
from .oidc import IDP_MFA
from .signals import LOGOUT_CAUSE

# Requests an htmx poll makes do not count as activity for the idle timer.
POLL_HEADER = "X-DLQ-Poll"


class SessionLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            reason = sessions.expired_reason(request.session, current_epoch(user))
            if reason:
                setattr(request, LOGOUT_CAUSE, reason)  # audited with the logout
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse({"error": "session_expired", "detail": reason}, status=401)
                messages.info(request, reason)
                if request.htmx:
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = reverse("login")
                    return response
                return redirect(f"{reverse('login')}?next={request.path}")
            if not request.headers.get(POLL_HEADER):
                sessions.touch(request.session)
        return self.get_response(request)


# Paths a signed-in user may reach before passing the second factor.
_MFA_EXEMPT = ("/login/", "/logout/", "/account/mfa/", "/static/")


class MfaMiddleware:
    """Users with a confirmed device must enter a code; users whose role requires a
    second factor and who have none must enrol before doing anything else (unless
    they signed in through an IdP that says a second factor was used)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        # A second factor the identity provider vouched for (amr / acr) counts as ours.
        if (user.is_authenticated and not user.is_verified() and not request.session.get(IDP_MFA)
                and not request.path.startswith(_MFA_EXEMPT)):
            if mfa.confirmed_device(user):
                target = "accounts:mfa_verify"
            elif mfa.required_for(user):
                target = "accounts:mfa_setup"
            else:
                target = None
            if target:
                if request.path.startswith("/api/"):
                    return JsonResponse({"error": "mfa_required",
                                         "detail": "Finish the second factor in the browser first."}, status=403)
                return redirect(f"{reverse(target)}?next={request.get_full_path()}")
        return self.get_response(request)
