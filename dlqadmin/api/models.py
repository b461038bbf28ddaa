import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from dlqadmin.core import clock

TOKEN_PREFIX = "dlq_"

# What a token may be used for; each includes the ones before it. A token never
# exceeds its user's roles: the roles are checked on every request as for a session,
# and the scope narrows them further.
READ, OPERATE, ADMIN = "read", "operate", "admin"
SCOPES = (READ, OPERATE, ADMIN)
SCOPE_CHOICES = [(READ, "read: GET only"), (OPERATE, "operate: actions on queues and tasks"),
                 (ADMIN, "admin: everything the user may do, queue deletion included")]
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=365)


def hash_token(raw):
    # Tokens are 256-bit random strings, so a plain SHA-256 is enough: there is
    # nothing to brute-force, and lookup stays an indexed equality match.
    return hashlib.sha256(raw.encode()).hexdigest()


def scope_covers(scope, needed):
    """Whether a token of `scope` may do what needs `needed` (read < operate < admin)."""
    return scope in SCOPES and SCOPES.index(scope) >= SCOPES.index(needed)


class ApiToken(models.Model):
    """A bearer token for the API. Only its hash is stored; revocable, never shown twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    # First characters of the token, for telling tokens apart in lists (not secret).
    hint = models.CharField(max_length=12)
    scope = models.CharField(max_length=8, choices=SCOPE_CHOICES, default=READ)
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.CharField(max_length=64, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)


    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.hint}… ({self.user})"

    @property
    def expired(self):
        return self.expires_at <= clock.now()

    @property
    def status(self):
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired else "active"

    @classmethod
    def issue(cls, user, name="", *, scope=READ, lifetime=DEFAULT_LIFETIME):
        """Create a token; returns (token, raw). The raw value exists only here.
        Callers check the scope against the user's roles (api.tokens.issue)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = clock.now()
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(raw), hint=raw[:12], scope=scope,
                                   created_at=now, expires_at=now + lifetime)
        return token, raw

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = clock.now()
            self.save(update_fields=["revoked_at"])


class ApiTokenUse(models.Model):
    """Requests of one token in one rate-limit window: one row, incremented by a single
    upsert, so every web process counts against the same number (api.ratelimit)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="uses")
    window_start = models.BigIntegerField()  # Unix seconds at the window's start
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "window_start"], name="api_token_use_window")]
