"""Reads of per-user settings."""

from dataclasses import dataclass

from django.conf import settings

from dlqadmin.core.prepared import Prepared

from .models import Preferences


@dataclass(frozen=True)
class Ui:
    theme: str  # auto | light | dark
    refresh_seconds: int  # 0: live refresh off


def default_ui():
    """What a user sees until they choose: the system theme, DLQADMIN_POLL_SECONDS."""
    return Ui("auto", settings.DLQADMIN_POLL_SECONDS)


# Read by every page (the theme): compiled once per process.
_PREFERENCES = Prepared(lambda user_id: Preferences.objects.filter(user_id=user_id).order_by("id")
                        .values_list("theme", "refresh_seconds")[:1], -1_897_345_218)


def preferences(user):
    """The user's display choices; the defaults (system theme, DLQADMIN_POLL_SECONDS) until
    they choose."""
    default = default_ui()
    if not getattr(user, "is_authenticated", False):
        return default
    row = _PREFERENCES.first(user.pk)
    return Ui(*row) if row else default
