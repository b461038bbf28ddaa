"""Every user-supplied name pattern runs on RE2 (linear time): policy `re:` patterns and
globs, in the editor's preview, at save and in every check round; masking-rule scopes."""

import time

import pytest
from django.core.exceptions import ValidationError

from dlqadmin.alerts.checks import run_round
from dlqadmin.asynq import keys
from dlqadmin.core.patterns import PatternError, compile_glob, compile_regex
from dlqadmin.policies.selectors import Resolver, matching_queues
from dlqadmin.policies.services import save_policy
from tests.alerts.conftest import info
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db

EVIL = "re:(a+)+$"
# Python's re needs ~2**29 steps for this name (12 s in the review); RE2 a few microseconds.
VICTIM = "a" * 29 + "!"


def test_catastrophic_regex_is_linear_in_the_preview(client, roles, asynq_redis):
    asynq_redis.sadd(keys.ALL_QUEUES, VICTIM, "aaaa")
    sign_in(client, make_user("pa", ("policy_admin",)))
    started = time.monotonic()
    body = client.get("/policies/preview/", {"name": "evil", "pattern": EVIL, "enabled": "on",
                                             "dlq_warning": "1", "dlq_critical": "3"}).content.decode()
    assert time.monotonic() - started < 2
    assert 'data-queue="aaaa"' in body and VICTIM not in body


def test_catastrophic_regex_saved_does_not_stall_a_check_round(db, clock):
    save_policy({"name": "evil", "pattern": EVIL, "dlq_warning": 5, "dlq_critical": 50})
    started = time.monotonic()
    run_round(now=clock.now(), infos=[info(VICTIM, archived=1), info("aaaa", archived=1)])
    assert time.monotonic() - started < 2
    resolver = Resolver.load()
    assert resolver.resolve("aaaa").name == "evil" and resolver.resolve(VICTIM).name == "default"


def test_python_only_syntax_is_refused_with_a_reason(db):
    with pytest.raises(ValidationError) as exc:
        save_policy({"name": "look", "pattern": "re:(?<=pay)ments", "dlq_warning": 5, "dlq_critical": 50})
    assert "RE2" in str(exc.value)


@pytest.mark.parametrize("glob,name,expected", [
    ("payments:*", "payments:eu", True), ("payments:*", "payments", False), ("pay?ents", "payments", True),
    ("[pe]*", "emails", True), ("[!pe]*", "emails", False), ("a[", "a[", True), ("x.y", "xzy", False),
    ("*a*a*a*a*a*a*a*b", "a" * 5000, False), ("*", "any\nname", True), ("q\\*", "q\\x", True), ("q\\*", "qx", False),
])
def test_globs_keep_fnmatch_meaning(glob, name, expected):
    started = time.monotonic()
    assert compile_glob(glob).matches(name) is expected
    assert matching_queues(glob, [name]) == ([name] if expected else [])
    assert time.monotonic() - started < 1


def test_names_that_are_not_utf8_never_break_matching():
    assert compile_regex("a.b").matches("a\udcffb")
    assert compile_glob("q*").matches("q\ud800")
    with pytest.raises(PatternError):
        compile_regex("(")


def test_masking_rule_scopes_run_on_re2(db):
    from dlqadmin.masking.models import MaskingRule

    rule = MaskingRule(queue_pattern="[z-a]", kind="key", pattern="order_note", label="note")
    with pytest.raises(ValidationError) as exc:
        rule.full_clean()
    assert "queue_pattern" in exc.value.message_dict
    rule = MaskingRule(queue_pattern="pay*", task_type_pattern="*a*a*a*a*a*b", kind="key", pattern="x", label="x")
    started = time.monotonic()
    assert rule.applies_to("payments", "a" * 5000) is False
    assert rule.applies_to("payments", "a" * 50 + "b") is True
    assert time.monotonic() - started < 1
