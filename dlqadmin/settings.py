"""dlqadmin settings: one file, every value from the environment (12-factor).

Defaults suit a developer machine with Postgres on its local socket and Redis on
127.0.0.1:6379, so the test suite needs no environment at all. Production sets at
least SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and ASYNQ_REDIS_URL (see README).
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# The default key only exists so that tests and a first local run work; Django's
# `check --deploy` flags it (W009) and the README tells deployers to set their own.
SECRET_KEY = env.str(
    "SECRET_KEY",
    default="django-insecure-dlqadmin-development-key-do-not-use-in-production",
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Absolute base of links we send out of band (Slack messages, e-mails).
DLQADMIN_BASE_URL = env.str("DLQADMIN_BASE_URL", default="http://localhost:8000").rstrip("/")

# asynq's Redis: redis://, rediss://, unix://, redis+sentinel://, redis+cluster://
# (forms documented in dlqadmin/asynq/connection.py and the README).
ASYNQ_REDIS_URL = env.str("ASYNQ_REDIS_URL", default="redis://127.0.0.1:6379/0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "pgtrigger",
    "dlqadmin.core",
    "dlqadmin.access",
    "dlqadmin.accounts",
    "dlqadmin.triage",
    "dlqadmin.api",
    "dlqadmin.masking",
    "dlqadmin.audit",
    "dlqadmin.policies",
    "dlqadmin.alerts",
    "dlqadmin.operations",
    "dlqadmin.vault",
    "dlqadmin.demo",
]

MIDDLEWARE = [
    "dlqadmin.core.middleware.RequestIdMiddleware",
    "dlqadmin.core.logging.RequestLogMiddleware",
    # gzip for clients that ask (HTML and JSON shrink ~10x for ~0.6 ms of CPU on a page of
    # 100; bench/README.md). BREACH: Django pads each compressed body with random bytes,
    # masks the CSRF token afresh per response, and session cookies are SameSite=Lax, so
    # another site cannot make the many credentialed requests the attack needs.
    "django.middleware.gzip.GZipMiddleware",
    "dlqadmin.core.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dlqadmin.core.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dlqadmin.accounts.middleware.SessionLimitsMiddleware",
    "dlqadmin.accounts.middleware.MfaMiddleware",
    "axes.middleware.AxesMiddleware",
    "dlqadmin.core.middleware.RedisUnavailableMiddleware",
    "dlqadmin.core.middleware.DamagedDataMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out sign-ins
    "dlqadmin.access.backends.RoleBackend",  # ModelBackend, one permission query instead of two
    "guardian.backends.ObjectPermissionBackend",
]

ROOT_URLCONF = "dlqadmin.urls"

TEMPLATES = [
    {
        "BACKEND": "dlqadmin.core.templates.Backend",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dlqadmin.accounts.context_processors.ui",
                "dlqadmin.core.context_processors.menu",
            ],
        },
    },
]

WSGI_APPLICATION = "dlqadmin.wsgi.application"

# Default: the local Postgres socket as the current OS user.
DATABASES = {"default": env.db("DATABASE_URL", default="postgres:///dlqadmin")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Let the hot statements every request runs be prepared once per connection
# (core/prepared.py): Django leaves psycopg's preparing off. The threshold only lets
# psycopg prepare when asked: Django's own cursors bind values client-side and never do.
if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in, sessions, second factor ---
SESSION_ENGINE = "dlqadmin.accounts.session_store"  # Django's db store, one compiled read
# One cache for every web and scheduler process (nothing correct lives in process
# memory): a table in Postgres, made by a migration (dlqadmin.operations 0003).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "dlqadmin_cache",
    }
}
DLQADMIN_SESSION_IDLE_SECONDS = env.int("DLQADMIN_SESSION_IDLE_MINUTES", default=30) * 60
DLQADMIN_SESSION_MAX_AGE_SECONDS = env.int("DLQADMIN_SESSION_MAX_HOURS", default=12) * 3600
SESSION_COOKIE_AGE = DLQADMIN_SESSION_MAX_AGE_SECONDS
DLQADMIN_REQUIRE_MFA = env.bool("DLQADMIN_REQUIRE_MFA", default=not DEBUG)
OTP_TOTP_ISSUER = "dlqadmin"

# Single sign-on with OpenID Connect (README "Single sign-on"): on when an issuer is set.
# The redirect URI to register at the IdP is DLQADMIN_BASE_URL + /login/oidc/callback/.
DLQADMIN_OIDC_ISSUER = env.str("DLQADMIN_OIDC_ISSUER", default="").rstrip("/")
DLQADMIN_OIDC_CLIENT_ID = env.str("DLQADMIN_OIDC_CLIENT_ID", default="")
DLQADMIN_OIDC_CLIENT_SECRET = env.str("DLQADMIN_OIDC_CLIENT_SECRET", default="")
DLQADMIN_OIDC_GROUPS_CLAIM = env.str("DLQADMIN_OIDC_GROUPS_CLAIM", default="groups")
DLQADMIN_OIDC_SCOPES = env.str("DLQADMIN_OIDC_SCOPES", default="openid email profile")
# The IdP's word for "a second factor was used": any of these amr values, or this acr.
# Empty both to always ask for our own TOTP code.
DLQADMIN_OIDC_MFA_AMR = env.list("DLQADMIN_OIDC_MFA_AMR", default=[])
DLQADMIN_OIDC_MFA_ACR = env.list("DLQADMIN_OIDC_MFA_ACR", default=[])
DLQADMIN_OIDC_TIMEOUT_SECONDS = env.int("DLQADMIN_OIDC_TIMEOUT_SECONDS", default=10)
# Only accounts of these domains may sign in (hd claim or verified e-mail); empty = any account
# the IdP vouches for. Set it for IdPs that anyone can have an account at (Google).
DLQADMIN_OIDC_ALLOWED_DOMAINS = env.list("DLQADMIN_OIDC_ALLOWED_DOMAINS", default=[])
# ID-token signature algorithms we accept, whatever the IdP offers ("none" never).
DLQADMIN_OIDC_ALGORITHMS = [a for a in env.list("DLQADMIN_OIDC_ALGORITHMS", default=["RS256", "PS256", "ES256", "EdDSA"])
                            if a.lower() != "none"]
# false: local passwords only for users marked break-glass (manage.py break_glass).
DLQADMIN_PASSWORD_LOGIN = env.bool("DLQADMIN_PASSWORD_LOGIN", default=True)

# Lockout after repeated failures (per user name and address pair).
AXES_FAILURE_LIMIT = env.int("DLQADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("DLQADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_ALLOWED_CORS_ORIGINS = []  # never a wildcard CORS header on lockout responses
AXES_CLIENT_IP_CALLABLE = "dlqadmin.core.client_ip.client_ip"
# How many reverse proxies of ours stand in front (their X-Forwarded-For entries are trusted).
DLQADMIN_PROXY_COUNT = env.int("DLQADMIN_PROXY_COUNT", default=0)

# django-guardian: no anonymous user row; we never grant anything to anonymous.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "triage:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed files once `collectstatic` has run (production, compose); plain
# files straight from static/ otherwise (tests, a first local run).
_STATIC_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _STATIC_COLLECTED
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not _STATIC_COLLECTED
WHITENOISE_MANIFEST_STRICT = False

# --- Security defaults (deny by default; relaxed only by explicit env) ---
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token travels in hx-headers
SECURE_COOKIES = env.bool("DLQADMIN_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
# Behind a TLS proxy, a request the proxy marks as plain http is redirected to https by
# default (deny by default: `check --deploy` is clean with the documented settings).
BEHIND_TLS_PROXY = env.bool("DLQADMIN_BEHIND_TLS_PROXY", default=False)
SECURE_SSL_REDIRECT = env.bool("DLQADMIN_SSL_REDIRECT", default=BEHIND_TLS_PROXY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapers speak plain http
SECURE_HSTS_SECONDS = env.int("DLQADMIN_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DLQADMIN_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env.bool("DLQADMIN_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None

# Strict CSP: our own static files only, no inline script or style at all.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# --- Dashboard behaviour ---
DLQADMIN_PAGE_SIZES = (10, 20, 50, 100)
DLQADMIN_DEFAULT_PAGE_SIZE = 20
DLQADMIN_API_MAX_PAGE_SIZE = 100
# Requests one API token may make per window (0: no limit); beyond: 429 with Retry-After.
DLQADMIN_API_RATE_LIMIT = env.int("DLQADMIN_API_RATE_LIMIT", default=600)
DLQADMIN_API_RATE_WINDOW = env.int("DLQADMIN_API_RATE_WINDOW_SECONDS", default=60)
DLQADMIN_POLL_SECONDS = env.int("DLQADMIN_POLL_SECONDS", default=5)
# A reveal of raw task data lasts this long, for one task, and needs a reason this long.
DLQADMIN_REVEAL_SECONDS = env.int("DLQADMIN_REVEAL_SECONDS", default=300)
DLQADMIN_REVEAL_MIN_REASON = env.int("DLQADMIN_REVEAL_MIN_REASON", default=10)

# --- Policies and alerts (README "Policies and alerts", "Running the scheduler") ---
# Default channel of the built-in default policy (a Slack incoming-webhook URL).
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
# Hosts webhook URLs may point to; https only, plain http only for hosts listed here.
DLQADMIN_WEBHOOK_ALLOWED_HOSTS = env.list("DLQADMIN_WEBHOOK_ALLOWED_HOSTS", default=["hooks.slack.com"])
# Fernet key for channel secrets at rest; derived from SECRET_KEY when unset.
DLQADMIN_ENCRYPTION_KEY = env.str("DLQADMIN_ENCRYPTION_KEY", default="")
DLQADMIN_SAMPLE_RETENTION_DAYS = env.int("DLQADMIN_SAMPLE_RETENTION_DAYS", default=14)
DLQADMIN_CHECK_TICK_SECONDS = env.int("DLQADMIN_CHECK_TICK_SECONDS", default=15)
DLQADMIN_OUTBOX_BACKOFF_SECONDS = env.int("DLQADMIN_OUTBOX_BACKOFF_SECONDS", default=10)
DLQADMIN_OUTBOX_MAX_ATTEMPTS = env.int("DLQADMIN_OUTBOX_MAX_ATTEMPTS", default=10)

# The dead-task vault (dlqadmin/vault): Fernet keys for the raw messages at rest,
# comma-separated, newest first (the first encrypts; all decrypt, so a new key can be
# put in front and `rotate_vault_keys` re-encrypts). Empty: derived from SECRET_KEY.
DLQADMIN_VAULT_KEYS = env.list("DLQADMIN_VAULT_KEYS", default=[])
DLQADMIN_VAULT_POLL_SECONDS = env.float("DLQADMIN_VAULT_POLL_SECONDS", default=1.0)
# Re-read this many seconds before the cursor each pass: tasks archived late into a
# second already passed (several asynq servers, clocks a little apart).
DLQADMIN_VAULT_LOOKBACK_SECONDS = env.int("DLQADMIN_VAULT_LOOKBACK_SECONDS", default=2)
# E-mail channel: EMAIL_URL such as smtp+tls://user:pass@smtp.example.com:587. Unset: no
# mailer is configured and e-mail notifications fail (and are retried) until it is.
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    _email_options = {}
    if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
        _email_options = {"host": _email.get("EMAIL_HOST"), "port": _email.get("EMAIL_PORT") or None,
                          "username": _email.get("EMAIL_HOST_USER") or None,
                          "password": _email.get("EMAIL_HOST_PASSWORD") or None,
                          "use_tls": bool(_email.get("EMAIL_USE_TLS")), "use_ssl": bool(_email.get("EMAIL_USE_SSL")),
                          "timeout": 10}
    MAILERS = {"default": {"BACKEND": _email["EMAIL_BACKEND"], "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env.str("DLQADMIN_EMAIL_FROM", default="dlqadmin@localhost")

# LOG_FORMAT=json: one JSON object per line (dlqadmin/core/logging.py); plain: for people.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "dlqadmin.core.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": "json" if LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes logs every sign-in at INFO; our audit log records them instead. Django's own
    # per-request lines (runserver) would duplicate dlqadmin.request's.
    "loggers": {"axes": {"level": "WARNING"}, "django.server": {"level": "WARNING"},
                "apscheduler": {"level": "WARNING"}},
}

# --- Metrics (README "Metrics and health") ---
# /metrics answers a "Authorization: Bearer <token>" request, or a client inside one of
# these networks (loopback by default; empty = token only); everyone else gets 404.
DLQADMIN_METRICS_TOKEN = env.str("DLQADMIN_METRICS_TOKEN", default="")
DLQADMIN_METRICS_ALLOWED_NETWORKS = env.list("DLQADMIN_METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# Postgres-backed figures (alerts, notifications, actions) are re-read at most this often.
# Server-Timing header (wall and CPU ms of each request) for benchmarks; off in production.
DLQADMIN_SERVER_TIMING = env.bool("DLQADMIN_SERVER_TIMING", default=False)
DLQADMIN_METRICS_CACHE_SECONDS = env.int("DLQADMIN_METRICS_CACHE_SECONDS", default=15)
