"""Masking rules edited under Policies: validated, audited, applied on the next page."""

from html import unescape

import pytest

from dlqadmin.audit.models import AuditEvent
from dlqadmin.masking.models import MaskingRule
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db

ORDER_TASK = ("payments", "15303193-7c55-5fd5-9213-8771deaccdac")


@pytest.fixture
def editor(client, roles):
    return sign_in(client, make_user("pa", ("policy_admin",)))


def test_only_policy_admins_and_admins_edit_rules(client, roles):
    sign_in(client, make_user("v", ("viewer",)))
    assert client.get("/policies/masking/").status_code == 403


def test_add_rule_is_validated_audited_and_applied(editor, golden, roles):
    bad = editor.post("/policies/masking/", {"kind": "regex", "pattern": "(", "label": "x", "enabled": "on"})
    assert bad.status_code == 400 and not MaskingRule.objects.exists()
    ok = editor.post("/policies/masking/", {"queue_pattern": "pay*", "kind": "key", "pattern": "order_id",
                                            "label": "order", "enabled": "on", "note": "orders are personal"})
    assert ok.status_code == 302
    rule = MaskingRule.objects.get()
    event = AuditEvent.objects.get(action="masking_rule.create")
    assert event.target == f"masking_rule:{rule.pk}" and event.detail["diff"]["pattern"] == [None, "order_id"]
    viewer = make_user("v", ("viewer",))
    from django.test import Client

    page = unescape(sign_in(Client(), viewer).get(f"/queues/{ORDER_TASK[0]}/tasks/{ORDER_TASK[1]}/")
                    .content.decode())
    assert '"order_id": "[order]"' in page


def test_preview_masks_the_sample_without_saving(editor):
    response = editor.post("/policies/masking/", {"kind": "key", "pattern": "nickname", "label": "nick",
                                                  "enabled": "on", "action": "preview",
                                                  "sample": '{"nickname": "ace", "password": "pw123456"}'})
    preview = unescape(response.content.decode()).split('id="masking-preview">')[1].split("</pre>")[0]
    assert '"nickname": "[nick]"' in preview and "pw123456" not in preview
    assert not MaskingRule.objects.exists()


def test_edit_and_delete_are_audited(editor):
    rule = MaskingRule.objects.create(kind="key", pattern="foo", label="foo")
    editor.post(f"/policies/masking/{rule.pk}/", {"kind": "key", "pattern": "bar", "label": "foo", "enabled": "on"})
    rule.refresh_from_db()
    assert rule.pattern == "bar"
    assert AuditEvent.objects.get(action="masking_rule.change").detail["diff"]["pattern"] == ["foo", "bar"]
    assert editor.get(f"/policies/masking/{rule.pk}/delete/").status_code == 405
    editor.post(f"/policies/masking/{rule.pk}/delete/")
    assert not MaskingRule.objects.exists() and AuditEvent.objects.filter(action="masking_rule.delete").exists()
