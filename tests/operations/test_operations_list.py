"""The Operations page: tracked operations on the queues the user may see, with filters;
batch pages say what was selected; a 4xx to an htmx request is a message for that spot."""

import pytest
from django.urls import reverse

from dlqadmin.operations.models import Operation
from tests.conftest import make_user, sign_in
from tests.operations.conftest import ARCHIVED, OTHER_QUEUE, Q

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(cast):
    boss = cast["admin"]
    mine = Operation.objects.create(kind=Operation.BATCH, action="run", queue=Q, state="archived",
                                    ids=ARCHIVED[:3], total=3, done=3, status=Operation.DONE,
                                    started_by=boss, started_by_name=boss.username)
    bulk = Operation.objects.create(action="delete", queue=Q, state="archived", filter={"type": "payment:charge"},
                                    total=7, status=Operation.QUEUED, started_by=boss, started_by_name=boss.username)
    hidden = Operation.objects.create(action="run", queue=OTHER_QUEUE, state="archived", total=1,
                                      status=Operation.DONE, started_by_name="someone")
    return mine, bulk, hidden


def test_lists_only_visible_queues_and_filters(client, golden, cast, ops):
    mine, bulk, hidden = ops
    sign_in(client, cast["viewer"])
    html = client.get(reverse("operations:list")).content.decode()
    assert f'data-op="{mine.pk}"' in html and f'data-op="{bulk.pk}"' in html
    assert f'data-op="{hidden.pk}"' not in html
    assert "Retry 3 selected tasks" in html and "Delete archived tasks matching a search" in html
    html = client.get(reverse("operations:list"), {"status": "queued"}).content.decode()
    assert f'data-op="{bulk.pk}"' in html and f'data-op="{mine.pk}"' not in html
    bad = client.get(reverse("operations:list"), {"status": "bogus"})
    assert bad.status_code == 400 and "status: one of" in bad.content.decode()


def test_a_batch_page_says_selected_tasks_and_lists_them(client, golden, cast, ops):
    mine, _, _ = ops
    sign_in(client, cast["viewer"])
    html = client.get(reverse("operations:detail", args=[mine.pk])).content.decode()
    assert "Retry 3 selected tasks" in html and "every archived task" not in html
    for task_id in ARCHIVED[:3]:
        assert f'/queues/{Q}/tasks/{task_id}/' in html


def test_htmx_403_is_a_message_for_that_spot(client, golden, cast):
    sign_in(client, cast["viewer"])
    response = client.post(reverse("operations:batch", args=[Q]), {"action": "run", "ids": ARCHIVED[:1]},
                           headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/queues/{Q}/"})
    html = response.content.decode()
    assert response.status_code == 403 and "<html" not in html
    assert 'role="alert"' in html and f'href="/queues/{Q}/"' in html


def test_audit_rows_link_to_task_and_operation(client, golden, cast):
    from dlqadmin.audit.models import AuditEvent

    operator = sign_in(client, cast["operator"])
    operator.post(reverse("operations:batch", args=[Q]),
                  {"action": "run", "state": "archived", "ids": ARCHIVED[:1], "confirmed": "1"})
    operator.post(reverse("operations:run", args=[Q, ARCHIVED[1]]), {"state": "archived"})
    op = Operation.objects.get(kind=Operation.BATCH)
    assert AuditEvent.objects.filter(task_id=ARCHIVED[1]).exists()
    sign_in(client, make_user("auditor1", ("auditor",)))
    html = client.get(reverse("audit:review")).content.decode()
    assert f'href="/operations/{op.pk}/" class="op-link"' in html
    assert f'<a href="/queues/{Q}/tasks/{ARCHIVED[1]}/"><code>{ARCHIVED[1]}</code></a>' in html
