import hashlib
import secrets

from django.conf import settings
from django.db import models
from dlqadmin.core import clock

TOKEN_PREFIX = "dlq_"


def hash_token(raw):
    # Tokens are 256-bit random strings, so a plain SHA-256 is enough: there is
    # nothing to brute-force, and lookup stays an indexed equality match.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A bearer token for the API. Only its hash is stored; revocable, never shown twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    # First characters of the token, for telling tokens apart in lists (not secret).
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.hint}… ({self.user})"

    @classmethod
    def issue(cls, user, name=""):
        """Create a token; returns (token, raw). The raw value exists only here."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(raw), hint=raw[:12])
        return token, raw

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = clock.now()
            self.save(update_fields=["revoked_at"])
