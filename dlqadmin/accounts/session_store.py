"""Django's database session store, reading a session with a query compiled once per
process (every signed-in page reads one; see dlqadmin.core.prepared)."""

import logging
from datetime import UTC, datetime

from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

from dlqadmin.core.prepared import Prepared

_SESSION = Prepared(
    lambda key, now: (db.SessionStore.get_model_class().objects
                      .filter(session_key=key, expire_date__gt=now).order_by()[:1]),
    "prepared:session-key", datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=UTC))


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        # As Django's: a missing or expired session is None and forgets its key.
        try:
            session = _SESSION.first(self.session_key, timezone.now())
        except SuspiciousOperation as e:
            logging.getLogger(f"django.security.{e.__class__.__name__}").warning(str(e))
            session = None
        if session is None:
            self._session_key = None
        return session
