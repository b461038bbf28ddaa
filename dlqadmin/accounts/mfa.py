"""Who must use a second factor, and their TOTP devices."""

import segno
from django.conf import settings
from django.utils.safestring import mark_safe
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from dlqadmin.access.roles import MFA_ROLES
from dlqadmin.access.services import roles_of


def required_for(user):
    """MFA is mandatory (when DLQADMIN_REQUIRE_MFA is on) for roles that can reveal
    payloads, change policy or manage users."""
    if not settings.DLQADMIN_REQUIRE_MFA or not user.is_authenticated:
        return False
    return user.is_superuser or bool(MFA_ROLES & set(roles_of(user)))


def confirmed_device(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


# The key being enrolled lives in the session until a code confirms it: showing the
# setup page (a GET) writes no device row.
SETUP_KEY = "dlqadmin_mfa_setup_key"
DEVICE_NAME = "Authenticator app"


def setup_device(user, session):
    """An unsaved TOTP device for the key shown on the setup page (new key on first visit)."""
    key = session.get(SETUP_KEY)
    if not isinstance(key, str) or len(key) != 40:
        key = session[SETUP_KEY] = default_key()
    return TOTPDevice(user=user, name=DEVICE_NAME, key=key, confirmed=False)


def pending_device(user, session):
    """The unconfirmed device a setup POST checks its code against: saved (so django-otp's
    throttling of wrong codes holds across tries), one per user, for the session's key."""
    key = setup_device(user, session).key
    TOTPDevice.objects.filter(user=user, confirmed=False).exclude(key=key).delete()
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False, key=key,
                                                 defaults={"name": DEVICE_NAME})
    return device


def qr_svg(config_url):
    """The otpauth:// URL as an inline SVG QR code (segno): dark modules on white in either
    theme, as scanners expect; the secret never leaves the page in a request."""
    code = segno.make(config_url, error="m")
    # segno writes only its own path data and the numbers we give; nothing user-supplied.
    return mark_safe(code.svg_inline(scale=5, border=4, dark="#000", light="#fff", svgclass="qr",
                                     title="QR code for your authenticator app", lineclass=None))
