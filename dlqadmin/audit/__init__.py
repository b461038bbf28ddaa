"""The tamper-evident audit log.

    from dlqadmin.audit import record, AuditWriteError

`record(action, *, request=None, actor=None, queue="", task_id="", target="", reason="",
outcome="success", message="", detail=None) -> AuditEvent` is the one entry point; see
services.py for how services call it (same transaction for Postgres changes; intent,
then outcome, for Redis changes) and sanitize.py for what never enters a row.
"""

from .errors import AuditWriteError


def __getattr__(name):
    # Lazy, so importing this package never imports models before apps are ready.
    if name == "record":
        from .services import record

        return record
    if name == "AuditEvent":
        from .models import AuditEvent

        return AuditEvent
    raise AttributeError(name)


__all__ = ["record", "AuditWriteError", "AuditEvent"]
