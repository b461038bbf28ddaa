"""Build the masker for a queue / task type from the stored rules.

One query per call, over a small table; the compiled ``Masker`` is cached per distinct
rule set by the engine (``Masker.for_rules``), so editing a rule takes effect on the
next request without any cache invalidation: the rule set, and so the cache key,
changes with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dlqadmin.core.prepared import Prepared

from .engine import Masker, Rule, RuleError
from .models import MaskingRule, scope_covers

log = logging.getLogger(__name__)


def all_rules():
    """Every stored rule, enabled or not, for the rule editor."""
    return list(MaskingRule.objects.all())


# Read on every page that shows a payload: compiled once per process, run each time.
_ENABLED = Prepared(lambda: MaskingRule.objects.filter(enabled=True).order_by("id"))


def _enabled_rules():
    return _ENABLED.all()


def _to_rules(rows, queue: str, task_type: str) -> tuple[Rule, ...]:
    rules = []
    for row in rows:
        if not row.applies_to(queue, task_type):
            continue
        try:
            rules.append(row.to_rule())
        except RuleError as exc:
            # Only a row written around clean() (raw SQL, a bad migration) gets here.
            # Skipping it keeps pages up; the default rules and detectors still apply.
            log.error("masking rule %s is invalid and was skipped: %s", row.pk, exc)
    return tuple(dict.fromkeys(rules))  # de-duplicated, order kept


def rules_for(queue: str, task_type: str) -> tuple[Rule, ...]:
    """The enabled stored rules whose scope covers ``queue`` and ``task_type``."""
    return _to_rules(_enabled_rules(), queue, task_type)


def masker_for(queue: str, task_type: str) -> Masker:
    """The masker for one task: built-in rules plus the stored rules in scope."""
    return Masker.for_rules(rules_for(queue, task_type))


def masker_lookup(queue: str) -> Callable[[str], Masker]:
    """For a list page of one queue: one query, then ``lookup(task_type) -> Masker``."""
    rows = [row for row in _enabled_rules() if scope_covers(row.queue_pattern, queue)]
    cache: dict[str, Masker] = {}

    def lookup(task_type: str) -> Masker:
        masker = cache.get(task_type)
        if masker is None:
            masker = cache[task_type] = Masker.for_rules(_to_rules(rows, queue, task_type))
        return masker

    return lookup
