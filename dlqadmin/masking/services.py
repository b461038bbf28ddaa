"""Writes of masking rules: validated by the engine, audited with a before/after diff."""

from django.db import transaction
from django.forms.models import model_to_dict

from .models import MaskingRule

FIELDS = ("queue_pattern", "task_type_pattern", "kind", "pattern", "label", "enabled", "note")


def _snapshot(rule):
    return {k: v for k, v in model_to_dict(rule, fields=FIELDS).items()}


def save_rule(data, *, rule=None, request=None):
    """Create or update a rule from cleaned form data; raises ValidationError (nothing saved)."""
    from dlqadmin.audit import record

    # Read "before" from the database: a bound ModelForm has already changed `rule`.
    stored = MaskingRule.objects.filter(pk=rule.pk).first() if rule is not None and rule.pk else None
    before = _snapshot(stored) if stored is not None else None
    rule = rule or MaskingRule()
    for field in FIELDS:
        if field in data:
            setattr(rule, field, data[field])
    rule.full_clean()
    with transaction.atomic():
        rule.save()
        after = _snapshot(rule)
        changed = {k: [before.get(k) if before else None, v] for k, v in after.items()
                   if before is None or before.get(k) != v}
        record("masking_rule.create" if before is None else "masking_rule.change", request=request,
               target=f"masking_rule:{rule.pk}", detail={"diff": changed})
    return rule


def delete_rule(rule, *, request=None):
    from dlqadmin.audit import record

    with transaction.atomic():
        record("masking_rule.delete", request=request, target=f"masking_rule:{rule.pk}",
               detail={"before": _snapshot(rule)})
        rule.delete()
