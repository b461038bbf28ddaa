"""Policies: validation, versions with diffs, audit, secrets, resolution, policy as code."""

import json

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import call_command

from dlqadmin.policies import selectors, services
from dlqadmin.policies.models import Channel, Policy
from tests.support.fake_slack import fake_slack  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def audit_rows(action):
    from dlqadmin.audit import AuditEvent

    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_the_built_in_default_covers_every_queue_without_a_row():
    assert not Policy.objects.exists()
    p = selectors.resolve("anything/at:all")
    assert p.is_default and p.pk is None
    assert (p.dlq_warning, p.dlq_critical, p.check_interval_seconds, p.repeat_interval_minutes) == (10, 100, 60, 60)


@pytest.mark.parametrize("data, field", [
    ({"dlq_warning": 10, "dlq_critical": 10}, "dlq_critical"),
    ({"dlq_warning": 0}, "dlq_warning"),
    ({"pattern": "re:pay(ments"}, "pattern"),
    ({"pattern": ""}, "pattern"),
    ({"pattern": "*"}, "pattern"),
    ({"name": "Bad Name"}, "name"),
    ({"name": "new"}, "name"),
    ({"archive_cap_warning_percent": 96}, "archive_cap_critical_percent"),
    ({"archive_age_warning_days": 90}, "archive_age_warning_days"),
    ({"channels": ["nope"]}, "channels"),
    ({"runbook_url": "javascript:alert(1)"}, "runbook_url"),
    ({"check_interval_seconds": 1}, "check_interval_seconds"),
])
def test_invalid_policies_are_refused(data, field):
    raw = {"name": "p1", "pattern": "payments", **data}
    with pytest.raises(ValidationError) as exc:
        services.save_policy(raw)
    assert field in exc.value.message_dict
    assert not Policy.objects.filter(name="p1").exists()


def test_most_specific_policy_wins():
    for name, pattern in [("glob-short", "pay*"), ("glob-long", "payments:*"), ("exact", "payments:eu"),
                          ("regex", "re:pay.*")]:
        services.save_policy({"name": name, "pattern": pattern})
    r = selectors.Resolver.load()
    assert r.resolve("payments:eu").name == "exact"
    assert r.resolve("payments:us").name == "glob-long"
    assert r.resolve("payroll").name == "glob-short"
    assert r.resolve("other").is_default
    assert [p.name for p in r.policies] == ["exact", "glob-long", "glob-short", "regex", "default"]


def test_every_save_is_versioned_and_audited_with_the_diff(roles):
    from tests.conftest import make_user

    admin = make_user("pa", ("policy_admin",))
    p, changed = services.save_policy({"name": "pay", "pattern": "payments"}, actor=admin, comment="first")
    assert changed and p.version == 1
    p, changed = services.save_policy({"name": "pay", "pattern": "payments", "dlq_warning": 3}, actor=admin, policy=p)
    assert changed and p.version == 2
    p, changed = services.save_policy({"name": "pay", "pattern": "payments", "dlq_warning": 3}, actor=admin, policy=p)
    assert not changed and p.versions.count() == 2
    diff = services.diff(p.versions.get(number=1).data, p.versions.get(number=2).data)
    assert diff == [("dlq_warning", 10, 3)]
    rows = audit_rows("policy.update")
    assert rows[-1].detail["diff"] == [{"field": "dlq_warning", "old": 10, "new": 3}]
    assert rows[-1].actor_name == "pa"
    assert audit_rows("policy.create")[0].reason == "first"
    p, changed = services.restore_version(p, 1, actor=admin)
    assert changed and p.version == 3 and p.dlq_warning == 10


def test_editing_the_default_keeps_the_built_in_as_version_one():
    p, _ = services.save_policy({"name": "default", "pattern": "*", "dlq_warning": 2, "dlq_critical": 5})
    assert p.is_default and [v.number for v in p.versions.all()] == [2, 1]
    assert services.diff(p.versions.get(number=1).data, p.versions.get(number=2).data) == [
        ("dlq_warning", 10, 2), ("dlq_critical", 100, 5)]
    with pytest.raises(ValidationError):
        services.delete_policy(p)


def test_webhook_urls_are_validated_encrypted_and_masked(settings):
    url = "https://hooks.slack.com/services/T000/B000/abcdefghijklmnop"
    for bad in ["https://evil.example.com/hook", "http://hooks.slack.com/services/x", "ftp://hooks.slack.com/x",
                "https://user:pw@hooks.slack.com/x", "https://127.0.0.1/x"]:
        with pytest.raises(ValidationError):
            services.save_channel(name="bad", kind="slack", target=bad)
    ch = services.save_channel(name="ops", kind="slack", target=url)
    ch.refresh_from_db()
    assert url not in ch.target_encrypted and "hooks.slack.com" not in ch.target_encrypted
    assert services.channel_target(ch) == url
    assert services.channel_display(ch) == "https://hooks.slack.com/…mnop"
    assert url not in json.dumps([a.detail for a in audit_rows("channel.create")])
    settings.DLQADMIN_WEBHOOK_ALLOWED_HOSTS = ["hooks.slack.com", "127.0.0.1"]
    services.validate_outbound_url("http://127.0.0.1:9999/hook")  # loopback http only when listed


def test_export_import_round_trip_is_a_no_op(tmp_path):
    services.save_channel(name="ops", kind="slack", target="https://hooks.slack.com/services/A/B/C")
    services.save_policy({"name": "pay", "pattern": "payments:*", "dlq_warning": 3, "channels": ["ops"]})
    services.save_policy({"name": "default", "pattern": "*", "latency_threshold_seconds": None})
    out = tmp_path / "policies.yaml"
    call_command("export_policies", "-o", str(out))
    doc = yaml.safe_load(out.read_text())
    assert [p["name"] for p in doc["policies"]] == ["default", "pay"]
    assert "hooks.slack.com" not in out.read_text()
    versions = {p.name: p.version for p in Policy.objects.all()}
    call_command("import_policies", str(out))
    assert {p.name: p.version for p in Policy.objects.all()} == versions
    # JSON too, and an edit through the file is versioned and audited like a UI edit.
    doc["policies"][1]["dlq_warning"] = 7
    jf = tmp_path / "policies.json"
    jf.write_text(json.dumps(doc))
    call_command("import_policies", str(jf))
    pay = Policy.objects.get(name="pay")
    assert pay.dlq_warning == 7 and pay.version == versions["pay"] + 1
    assert audit_rows("policy.update")[-1].detail["via"] == "import"


def test_an_invalid_import_changes_nothing(tmp_path):
    from django.core.management.base import CommandError

    bad = tmp_path / "p.yaml"
    bad.write_text(yaml.safe_dump({"format": 1, "policies": [
        {"name": "ok", "pattern": "a"}, {"name": "broken", "pattern": "b", "dlq_warning": 9, "dlq_critical": 3}]}))
    with pytest.raises(CommandError, match="broken"):
        call_command("import_policies", str(bad))
    assert not Policy.objects.exists()


def test_an_unwritable_audit_log_blocks_the_save(monkeypatch):
    from dlqadmin.audit import AuditWriteError

    def fail(*a, **k):
        raise AuditWriteError("down")

    monkeypatch.setattr("dlqadmin.audit.services.record", fail)
    with pytest.raises(AuditWriteError):
        services.save_policy({"name": "pay", "pattern": "payments"})
    assert not Policy.objects.exists()
