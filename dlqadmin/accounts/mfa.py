"""Who must use a second factor, and their TOTP devices."""

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

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


def pending_device(user):
    """The unconfirmed device being enrolled (created on first visit)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device
