from django.conf import settings
from django.db import models

from dlqadmin.core import clock


class OidcIdentity(models.Model):
    """The identity provider's account behind a user: issuer + subject, never the e-mail
    (which the IdP lets people change and may give to someone else later)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity")
    issuer = models.CharField(max_length=512)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=320, blank=True)
    groups = models.JSONField(default=list, blank=True)  # as of the last sign-in, for the Users page
    created_at = models.DateTimeField(default=clock.now)
    last_sign_in_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_oidc_subject")]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"


class BreakGlass(models.Model):
    """A local account that may still sign in with a password when
    DLQADMIN_PASSWORD_LOGIN is off (for when the identity provider is down)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="break_glass")
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self):
        return f"break-glass: {self.user}"


class Preferences(models.Model):
    """How one user likes the dashboard: colour theme and live-refresh interval. Kept in
    Postgres (not the session or a cookie) so every browser and process agrees."""

    THEMES = [("auto", "Follow the system"), ("light", "Light"), ("dark", "Dark")]
    REFRESH = [(0, "Off"), (5, "Every 5 s"), (15, "Every 15 s"), (60, "Every 60 s")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    theme = models.CharField(max_length=8, choices=THEMES, default="auto")
    refresh_seconds = models.PositiveSmallIntegerField(choices=REFRESH, default=5)

    def __str__(self):
        return f"{self.user}: theme {self.theme}, refresh {self.refresh_seconds}s"
