class AuditWriteError(RuntimeError):
    """The audit row could not be written. Callers let it propagate: the action it
    describes must not happen (fail closed)."""
