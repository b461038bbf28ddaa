"""Session limits: idle timeout, absolute lifetime, and admin-ended sessions."""

from django.conf import settings

from dlqadmin.core import clock

AUTH_AT = "dlq_auth_at"
SEEN_AT = "dlq_seen_at"
EPOCH = "dlq_epoch"

# Writing the session on every request would cost a DB write per request; a minute
# of slack on the idle timer is harmless.
_SEEN_GRANULARITY = 60


def start(session, epoch, now=None):
    now = int(now or clock.timestamp())
    session[AUTH_AT] = now
    session[SEEN_AT] = now
    session[EPOCH] = epoch


def expired_reason(session, epoch, now=None):
    """Why this session must end now, or None."""
    now = now or clock.timestamp()
    if AUTH_AT not in session:
        return "Please sign in again."
    if now - session[AUTH_AT] > settings.DLQADMIN_SESSION_MAX_AGE_SECONDS:
        return "Your session reached its maximum lifetime; please sign in again."
    if now - session.get(SEEN_AT, 0) > settings.DLQADMIN_SESSION_IDLE_SECONDS:
        minutes = settings.DLQADMIN_SESSION_IDLE_SECONDS // 60
        return f"You were signed out after {minutes} minutes of inactivity."
    if session.get(EPOCH, 0) != epoch:
        return "Your session was ended by an administrator; please sign in again."
    return None


def touch(session, now=None):
    now = int(now or clock.timestamp())
    if now - session.get(SEEN_AT, 0) >= _SEEN_GRANULARITY:
        session[SEEN_AT] = now
