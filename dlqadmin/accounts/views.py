"""Sign-in, second factor and the user's own profile."""

import base64

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

from dlqadmin.access.checks import public_view, signed_in_view
from dlqadmin.access.roles import DESCRIPTIONS
from dlqadmin.access.services import roles_of
from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit import record

from . import mfa
from .forms import TokenForm


def _next_url(request, default="/"):
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


login = public_view(auth_views.LoginView.as_view(template_name="accounts/login.html",
                                                 redirect_authenticated_user=True))
logout = public_view(auth_views.LogoutView.as_view())


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
        "required": mfa.required_for(request.user),
        "next": _next_url(request, "/account/"),
    })


@signed_in_view
def profile(request):
    roles = sorted(roles_of(request.user).items())
    return render(request, "accounts/profile.html", {
        "roles": [(r, queues, DESCRIPTIONS[r]) for r, queues in roles],
        "has_device": mfa.confirmed_device(request.user) is not None,
        "mfa_required": mfa.required_for(request.user),
    })
