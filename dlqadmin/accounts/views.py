"""Sign-in, second factor and the user's own profile."""

import base64

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from dlqadmin.access.backends import forget
from dlqadmin.access.checks import public_view, signed_in_view
from dlqadmin.api import tokens as api_tokens
from dlqadmin.access.roles import DESCRIPTIONS
from dlqadmin.access.services import roles_of
from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit import record

from . import mfa, oidc, services
from .forms import PasswordLoginForm, PreferencesForm, TokenForm
from .signals import LOGIN_DETAIL


def _next_url(request, default="/"):
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = PasswordLoginForm

    def get_context_data(self, **kwargs):
        sso = oidc.enabled()
        # With passwords off, the form is shown only on the break-glass link (or when no
        # IdP is configured at all, so nobody is locked out by a half-done set-up).
        local = self.request.GET.get("local") == "1" or self.request.POST.get("local") == "1"
        return {**super().get_context_data(**kwargs), "sso": sso, "local": local,
                "show_password": settings.DLQADMIN_PASSWORD_LOGIN or local or not sso
                or self.request.method == "POST",
                "break_glass_only": not settings.DLQADMIN_PASSWORD_LOGIN}

    def form_valid(self, form):
        user = form.get_user()
        for key in (oidc.IDP_MFA, oidc.ID_TOKEN):  # a password sign-in owes nothing to an earlier SSO one
            self.request.session.pop(key, None)
        if not settings.DLQADMIN_PASSWORD_LOGIN:
            setattr(self.request, LOGIN_DETAIL, {"method": "password", "break_glass": True})
            services.record_break_glass_login(user, self.request)
        return super().form_valid(form)


login = public_view(LoginView.as_view())


@public_view
@require_POST
def logout(request):
    """End our session; for an SSO session, then the IdP's (RP-initiated logout)."""
    id_token = request.session.get(oidc.ID_TOKEN)
    auth_logout(request)
    url = oidc.logout_url(id_token) if id_token and oidc.enabled() else None
    if url:
        # A page, not a redirect: the strict CSP (form-action 'self') would stop a form
        # submission that redirects to another origin.
        return render(request, "accounts/logout_idp.html", {"url": url})
    return redirect(settings.LOGOUT_REDIRECT_URL)


@public_view
def oidc_start(request):
    """Send the browser to the identity provider (state, nonce and PKCE kept in the session)."""
    if not oidc.enabled():
        return render(request, "accounts/sso_error.html", {"message": "Single sign-on is not configured."},
                      status=404)
    try:
        return oidc.start(request, _next_url(request))
    except oidc.SignInError as exc:
        return _sso_failed(request, exc)


def _sso_failed(request, exc):
    record(audit_actions.LOGIN_FAILED, request=request, target="oidc", outcome="failed", message=exc.message,
           detail={"method": "oidc", "error": exc.code, **({"idp_said": exc.detail} if exc.detail else {})})
    return render(request, "accounts/sso_error.html", {"message": exc.message}, status=400)


@public_view
def oidc_callback(request):
    """The identity provider's answer: check it, find or create the user, sign them in."""
    if not oidc.enabled():
        return render(request, "accounts/sso_error.html", {"message": "Single sign-on is not configured."},
                      status=404)
    try:
        sign_in = oidc.finish(request)
    except oidc.SignInError as exc:
        return _sso_failed(request, exc)
    next_url = request.session.pop(oidc.NEXT, None) or "/"
    try:
        user = services.sso_user(sign_in, request)
    except IntegrityError:
        # The same person's first sign-in in two tabs at once: the other one created the user.
        user = services.sso_user(sign_in, request)
    if not user.is_active:
        services.refuse_sso(request, user, sign_in, "account deactivated", code="inactive")
        return render(request, "accounts/sso_error.html",
                      {"message": "Your account here is deactivated; ask an administrator."}, status=403)
    if not services.has_any_role(user):
        services.refuse_sso(request, user, sign_in, "no role: none of the user's groups maps to a role",
                            code="no_role")
        return render(request, "accounts/sso_no_access.html",
                      {"groups": sign_in.groups, "granting": services.groups_granting_access()}, status=403)
    setattr(request, LOGIN_DETAIL, {"method": "oidc", "issuer": sign_in.issuer, "subject": sign_in.subject,
                                    "idp_second_factor": sign_in.idp_second_factor})
    auth_login(request, user, backend="dlqadmin.access.backends.RoleBackend")
    request.session[oidc.ID_TOKEN] = sign_in.id_token
    # Written every time: a new sign-in of the same user without a second factor must not
    # keep an earlier one's.
    request.session[oidc.IDP_MFA] = bool(sign_in.idp_second_factor)
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = "/"
    return redirect(next_url)


def _check_code(device, form):
    """Verify the form's code against `device`; add a clear error when it fails."""
    allowed, info = device.verify_is_allowed()
    if not allowed:
        # django-otp doubles the wait after each wrong code (brute-force protection).
        form.add_error("token", "Too many wrong codes; wait a few seconds before the next try.")
        return False
    if device.verify_token(form.cleaned_data["token"]):
        return True
    form.add_error("token", "That code is not valid (or was already used). Check the time on your phone "
                            "and try the next one.")
    return False


@signed_in_view
def mfa_verify(request):
    device = mfa.confirmed_device(request.user)
    if device is None:
        return redirect("accounts:mfa_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        target = f"user:{request.user.get_username()}"
        if _check_code(device, form):
            record(audit_actions.MFA_VERIFY, request=request, target=target, detail={"device_id": device.pk})
            otp_login(request, device)
            return redirect(_next_url(request))
        record(audit_actions.MFA_VERIFY, request=request, target=target, outcome="failed",
               message=" ".join(form.errors.get("token", [])), detail={"device_id": device.pk})
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": _next_url(request)})


@signed_in_view
def mfa_setup(request):
    if mfa.confirmed_device(request.user):
        messages.info(request, "Your authenticator app is already set up.")
        return redirect("accounts:profile")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = mfa.pending_device(request.user, request.session)
        confirmed = _check_code(device, form)
    else:
        device, confirmed = mfa.setup_device(request.user, request.session), False  # GET: nothing saved
    if confirmed:
        with transaction.atomic():
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            forget(request.user, "dlq_has_device")  # as loaded with the session's user
            request.session.pop(mfa.SETUP_KEY, None)
            record(audit_actions.MFA_ENROL, request=request, target=f"user:{request.user.get_username()}",
                   detail={"device_id": device.pk, "kind": "totp"})
        otp_login(request, device)
        messages.success(request, "Second factor enrolled. You will be asked for a code at each sign-in.")
        return redirect(_next_url(request, "/account/"))
    secret = base64.b32encode(device.bin_key).decode()
    return render(request, "accounts/mfa_setup.html", {
        "form": form,
        "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "config_url": device.config_url,
        "qr_svg": mfa.qr_svg(device.config_url),
        "required": mfa.required_for(request.user),
        "next": _next_url(request, "/account/"),
    })


@signed_in_view
def profile(request):
    roles = sorted(roles_of(request.user).items())
    return render(request, "accounts/profile.html", {
        "sso": getattr(request.user, "oidc_identity", None),
        "mfa_from_idp": bool(request.session.get(oidc.IDP_MFA)),
        "roles": [(r, queues, DESCRIPTIONS[r]) for r, queues in roles],
        "has_device": mfa.confirmed_device(request.user) is not None,
        "mfa_required": mfa.required_for(request.user),
        "tokens": api_tokens.own_tokens(request.user),
        "refresh_choices": PreferencesForm.base_fields["refresh_seconds"].choices,
        "theme_choices": PreferencesForm.base_fields["theme"].choices,
    })


@signed_in_view
@require_POST
def preferences(request):
    """Theme and live refresh; back to the page the user was on."""
    form = PreferencesForm(request.POST)
    if not form.is_valid() or not form.changes():
        return render(request, "accounts/preferences_error.html", {"next": _next_url(request, "/account/")},
                      status=400)
    services.set_preferences(request, **form.changes())
    return redirect(_next_url(request, "/account/"))


@require_POST
@signed_in_view
def revoke_token(request, pk):
    """Revoke one of your own API tokens (someone else's: 404)."""
    if not api_tokens.revoke_own(request, pk):
        raise Http404("No such token of yours.")
    messages.success(request, "Token revoked: it stops working at once.")
    return redirect("accounts:profile")
