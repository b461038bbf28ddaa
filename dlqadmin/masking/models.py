"""Operator-defined masking rules, stored per queue pattern and task type pattern.

A row becomes an ``engine.Rule``; ``clean()`` validates it through the engine, so a
rule that would not compile (or a regex that could match empty text) is rejected with
the engine's message when it is saved from a form or the admin, never discovered while
a page renders. Business logic stays out of ``save()`` (see DESIGN.md): code that
creates rules without a form calls ``full_clean()`` itself.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from dlqadmin.core.fields import ClockDateTimeField
from dlqadmin.core.patterns import PatternError, compile_glob

from .engine import Rule, RuleError
from .rules import MAX_LABEL_LENGTH, MAX_PATTERN_LENGTH

SCOPE_MAX_LENGTH = 200
_SCOPE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def scope_covers(glob: str, name: str) -> bool:
    """A scope glob (RE2, like every user-supplied pattern); empty covers everything.
    A stored scope that cannot compile (written around clean()) covers everything:
    masking too much is the safe side."""
    if not glob:
        return True
    try:
        return compile_glob(glob).matches(name)
    except PatternError:
        return True


class MaskingRule(models.Model):
    class Kind(models.TextChoices):
        KEY = "key", "Member name (glob)"
        PATH = "path", "JSON path"
        REGEX = "regex", "Regex detector (RE2)"

    queue_pattern = models.CharField(
        max_length=SCOPE_MAX_LENGTH,
        blank=True,
        default="",
        help_text="Queues this rule applies to, as a glob (e.g. payments or pay*); empty = every queue.",
    )
    task_type_pattern = models.CharField(
        max_length=SCOPE_MAX_LENGTH,
        blank=True,
        default="",
        help_text="Task types this rule applies to, as a glob (e.g. email:*); empty = every type.",
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    pattern = models.CharField(
        max_length=MAX_PATTERN_LENGTH,
        help_text=(
            "key: a member-name glob, compared case-insensitively ignoring _ - . and spaces "
            "(order_note, *iban*); path: $.customer.email, $.items[*].sku, $..ssn; "
            "regex: an RE2 pattern, group 1 is masked if present."
        ),
    )
    label = models.CharField(
        max_length=MAX_LABEL_LENGTH,
        default="redacted",
        help_text="Shown instead of the value, as [label].",
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True, default="", help_text="Why this rule exists.")
    created_at = ClockDateTimeField(auto_now_add=True)
    updated_at = ClockDateTimeField(auto_now=True)

    class Meta:
        ordering = ["queue_pattern", "task_type_pattern", "kind", "pattern", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["key", "path", "regex"]),
                name="masking_rule_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        scope = f"{self.queue_pattern or '*'} / {self.task_type_pattern or '*'}"
        return f"{self.get_kind_display()} {self.pattern!r} → [{self.label}] ({scope})"

    def to_rule(self) -> Rule:
        """The engine rule; raises RuleError if the row is invalid."""
        return Rule(kind=self.kind, pattern=self.pattern, label=self.label)

    def applies_to(self, queue: str, task_type: str) -> bool:
        """Whether this rule's scope covers ``queue`` and ``task_type`` (case-sensitive
        globs, like asynq's own names)."""
        return scope_covers(self.queue_pattern, queue) and scope_covers(self.task_type_pattern, task_type)

    def clean(self):
        super().clean()
        errors = {}
        for field in ("queue_pattern", "task_type_pattern"):
            value = getattr(self, field)
            if value != value.strip():
                setattr(self, field, value.strip())
            if _SCOPE_CONTROL.search(value):
                errors[field] = "Must not contain control characters."
            elif value.strip():
                try:
                    compile_glob(value.strip())
                except PatternError as exc:
                    errors[field] = f"Invalid glob: {exc}."
        if self.kind and self.pattern:
            try:
                rule = self.to_rule()
            except RuleError as exc:
                errors.setdefault(exc.field if exc.field in ("kind", "pattern", "label") else "pattern", exc.message)
            else:
                self.pattern, self.label = rule.pattern, rule.label
        if errors:
            raise ValidationError(errors)
