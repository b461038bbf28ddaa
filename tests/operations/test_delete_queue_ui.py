"""Deleting a queue from the UI: admins only, a typed confirmation showing what it holds."""

import pytest

from dlqadmin.audit.models import AuditEvent
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


def test_admin_sees_what_it_holds_and_must_type_the_name(client, roles, golden):
    sign_in(client, make_user("boss", ("admin",)))
    assert "Delete queue…" in client.get("/queues/emails/").content.decode()
    page = client.get("/queues/emails/delete")
    assert page.status_code == 200 and "archived (dead)" in page.content.decode()
    wrong = client.post("/queues/emails/delete", {"confirm_name": "email", "force": "1"})
    assert wrong.status_code == 400 and "Type the queue name exactly" in wrong.content.decode()
    assert golden.sismember("asynq:queues", "emails") and not AuditEvent.objects.filter(action="queue.delete")
    refused = client.post("/queues/emails/delete", {"confirm_name": "emails"})
    assert refused.status_code == 409 and "queue is not empty" in refused.content.decode()
    assert golden.sismember("asynq:queues", "emails")
    done = client.post("/queues/emails/delete", {"confirm_name": "emails", "force": "1"}, follow=True)
    assert done.status_code == 200 and "Queue emails deleted." in done.content.decode()
    assert not golden.sismember("asynq:queues", "emails")


def test_others_may_not_and_get_no_button(client, roles, golden):
    sign_in(client, make_user("op", ("operator",)))
    assert "Delete queue…" not in client.get("/queues/emails/").content.decode()
    assert client.get("/queues/emails/delete").status_code == 403
    assert client.post("/queues/emails/delete", {"confirm_name": "emails", "force": "1"}).status_code == 403
    assert AuditEvent.objects.get(action="queue.delete").outcome == "denied"
    assert golden.sismember("asynq:queues", "emails")
