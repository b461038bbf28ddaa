"""Reads of per-user settings."""

from dataclasses import dataclass

from django.conf import settings

from dlqadmin.access.backends import loaded
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


_UNLOADED = object()


def preferences(user):
    """The user's display choices; the defaults (system theme, DLQADMIN_POLL_SECONDS) until
    they choose."""
    default = default_ui()
    if not getattr(user, "is_authenticated", False):
        return default
    theme = loaded(user, "dlq_theme", _UNLOADED)  # loaded with the session's user (preference_columns)
    if theme is not _UNLOADED:
        return Ui(theme, user.dlq_refresh_seconds) if theme is not None else default
    row = _PREFERENCES.first(user.pk)
    return Ui(*row) if row else default


def preference_columns():
    """{attribute: expression} for a query over users: their stored theme and refresh
    interval (None without a row), so the session's user comes with them."""
    from django.db.models import OuterRef, Subquery

    def column(name):
        return lambda: Subquery(Preferences.objects.filter(user_id=OuterRef("pk")).order_by("id").values(name)[:1])

    return {"dlq_theme": column("theme"), "dlq_refresh_seconds": column("refresh_seconds")}
