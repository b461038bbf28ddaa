"""Who must use a second factor, and their TOTP devices."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.utils.safestring import mark_safe
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from dlqadmin.access.models import QueueGrant
from dlqadmin.access.roles import MFA_ROLES, sso_group_name
from dlqadmin.access.backends import loaded
from dlqadmin.core.prepared import Prepared

# The groups through which a role is held on every queue / globally: by hand or from SSO.
_MFA_GROUPS = sorted({name for role in MFA_ROLES for name in (role, sso_group_name(role))})


def required_for(user):
    """MFA is mandatory (when DLQADMIN_REQUIRE_MFA is on) for roles that can reveal
    payloads, change policy or manage users."""
    if not settings.DLQADMIN_REQUIRE_MFA or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # MFA_ROLES & roles_of(user), asked in one query (a request checks it each time).
    by_group = Group.objects.filter(user=OuterRef("pk"), name__in=_MFA_GROUPS)
    by_grant = QueueGrant.objects.filter(user=OuterRef("pk"), role__in=MFA_ROLES)
    return get_user_model().objects.filter(pk=user.pk).filter(Exists(by_group) | Exists(by_grant)).exists()


# Asked on every API request and unverified session: compiled once per process.
_CONFIRMED = Prepared(lambda user_id: TOTPDevice.objects.filter(user_id=user_id, confirmed=True)
                      .order_by("pk")[:1], -1_897_345_217)


def confirmed_device(user):
    if loaded(user, "dlq_has_device") is False:  # known from the session user's query
        return None
    return _CONFIRMED.first(user.pk)


def has_confirmed_device():
    """An expression over users: whether they have a confirmed device (loaded with the
    session's user, see accounts/apps.py)."""
    return Exists(TOTPDevice.objects.filter(user_id=OuterRef("pk"), confirmed=True))


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
    import segno  # with its XML writer ~0.8 MB, only for the enrolment page

    code = segno.make(config_url, error="m")
    # segno writes only its own path data and the numbers we give; nothing user-supplied.
    return mark_safe(code.svg_inline(scale=5, border=4, dark="#000", light="#fff", svgclass="qr",
                                     title="QR code for your authenticator app", lineclass=None))
