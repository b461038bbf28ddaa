"""MaskingRule rows: validated on save through the engine; selectors build maskers."""

import logging

import pytest
from django.core.exceptions import ValidationError

from dlqadmin.masking.engine import Masker, Rule
from dlqadmin.masking.models import MaskingRule
from dlqadmin.masking.selectors import masker_for, masker_lookup, rules_for

pytestmark = pytest.mark.django_db


def make(**kw) -> MaskingRule:
    rule = MaskingRule(**{"kind": "key", "pattern": "order_note", "label": "note", **kw})
    rule.full_clean()
    rule.save()
    return rule


@pytest.mark.parametrize(
    "kind,pattern,field,message",
    [
        ("regex", "(a+", "pattern", "Invalid regular expression"),
        ("regex", "(?<=a)b", "pattern", "look-around"),
        ("regex", "x*", "pattern", "empty text"),
        ("path", "items[0]", "pattern", "starts with '$'"),
        ("key", "a[b", "pattern", "Unclosed"),
        ("bogus", "x", "kind", "not a valid choice"),
    ],
)
def test_clean_rejects_bad_rules_with_the_engine_message(kind, pattern, field, message):
    rule = MaskingRule(kind=kind, pattern=pattern, label="x")
    with pytest.raises(ValidationError) as exc:
        rule.full_clean()
    assert field in exc.value.message_dict
    assert any(message in m for m in exc.value.message_dict[field])


def test_clean_rejects_bad_labels_and_scopes():
    with pytest.raises(ValidationError) as exc:
        MaskingRule(kind="key", pattern="x", label="[no]").full_clean()
    assert "label" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        MaskingRule(kind="key", pattern="x", label="ok", queue_pattern="pay\nments").full_clean()
    assert "queue_pattern" in exc.value.message_dict


def test_clean_normalises_and_saves():
    rule = make(pattern="  order_note ", label=" note ", queue_pattern=" payments ")
    rule.refresh_from_db()
    assert (rule.pattern, rule.label, rule.queue_pattern) == ("order_note", "note", "payments")
    assert rule.to_rule() == Rule("key", "order_note", "note")
    assert "order_note" in str(rule)


def test_rules_for_matches_queue_and_type_globs():
    everywhere = make(pattern="a")
    payments = make(pattern="b", queue_pattern="pay*")
    charges = make(pattern="c", queue_pattern="payments", task_type_pattern="payment:charge")
    make(pattern="d", enabled=False)
    assert rules_for("payments", "payment:charge") == (everywhere.to_rule(), payments.to_rule(), charges.to_rule())
    assert rules_for("payments", "payment:refund") == (everywhere.to_rule(), payments.to_rule())
    assert rules_for("emails", "payment:charge") == (everywhere.to_rule(),)
    assert rules_for("Payments", "payment:charge") == (everywhere.to_rule(),)  # queue names are case-sensitive


def test_masker_for_applies_stored_rules_on_top_of_the_defaults():
    make(kind="path", pattern="$.customer.name", label="name", queue_pattern="payments")
    make(kind="regex", pattern=r"ORD-\d+", label="order", task_type_pattern="payment:*")
    masker = masker_for("payments", "payment:charge")
    out = masker.mask_payload(b'{"customer": {"name": "Ann"}, "ref": "ORD-1", "password": "x"}').text
    assert out == '{\n  "customer": {\n    "name": "[name]"\n  },\n  "ref": "[order]",\n  "password": "[password]"\n}'
    assert masker is masker_for("payments", "payment:charge")  # cached per rule set
    plain = masker_for("emails", "email:send")
    assert plain is Masker.for_rules(())


def test_editing_a_rule_takes_effect_without_invalidation():
    rule = make(pattern="order_note", queue_pattern="q")
    assert "[note]" in masker_for("q", "t").mask_payload(b'{"order_note": "x"}').text
    rule.enabled = False
    rule.save()
    assert '"x"' in masker_for("q", "t").mask_payload(b'{"order_note": "x"}').text


def test_masker_lookup_one_query_for_a_page(django_assert_num_queries):
    make(pattern="a", queue_pattern="payments")
    make(pattern="b", task_type_pattern="email:*")
    make(pattern="c", queue_pattern="other")
    with django_assert_num_queries(1):
        lookup = masker_lookup("payments")
        charge = lookup("payment:charge")
        mail = lookup("email:send")
        assert lookup("payment:charge") is charge
    assert charge.rules[:1] == (Rule("key", "a", "note"),)
    assert mail.rules[:2] == (Rule("key", "a", "note"), Rule("key", "b", "note"))


def test_an_invalid_row_is_skipped_not_fatal(caplog):
    good = make(pattern="ok")
    MaskingRule.objects.bulk_create([MaskingRule(kind="regex", pattern="(unclosed", label="x")])  # bypasses clean()
    with caplog.at_level(logging.ERROR, logger="dlqadmin.masking.selectors"):
        assert rules_for("q", "t") == (good.to_rule(),)
    assert "invalid and was skipped" in caplog.text


def test_kind_is_constrained_in_the_database():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        MaskingRule.objects.create(kind="nope", pattern="x", label="x")
