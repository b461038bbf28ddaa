"""Audit test helpers: the cast (auditor, admin, viewer), events and the raw table."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

# The Playwright test in this folder launches the system Chromium like tests/browser does.
from tests.browser.conftest import browser_type_launch_args  # noqa: F401
from tests.conftest import make_user, sign_in

TABLE = "audit_auditevent"


@pytest.fixture
def auditor(roles):
    return make_user("audra", ("auditor",))


@pytest.fixture
def admin_user(roles):
    return make_user("adam", ("admin",))


@pytest.fixture
def auditor_client(client, auditor):
    return sign_in(client, auditor, verified=False)


@pytest.fixture
def admin_client(client, admin_user):
    return sign_in(client, admin_user)


def events(**filters):
    from dlqadmin.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(**filters).order_by("seq"))


def last(action):
    from dlqadmin.audit.models import AuditEvent

    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if cursor.description:
            return cursor.fetchall()
    return None


def seed(n, *, start=datetime(2030, 3, 1, tzinfo=UTC), step=timedelta(hours=1), **fields):
    """Append n events one `step` apart from `start` (fields may be callables of i). The
    default start lies after anything else a test writes, so time order holds."""
    from dlqadmin.audit.services import append

    out = []
    for i in range(n):
        row = {"actor_id": None, "actor_name": "system", "action": "test.event", "queue": "", "task_id": "",
               "target": "", "reason": "", "outcome": "success", "message": "", "request_id": "", "ip": "",
               "user_agent": "", "detail": {}}
        row.update({k: (v(i) if callable(v) else v) for k, v in fields.items()})
        row["created_at"] = start + i * step
        out.append(append(row))
    return out
