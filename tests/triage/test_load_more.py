"""'Load more' on a huge JSON payload slices one masked rendering instead of masking the
whole document again for every chunk (a 200,000-member payload took seconds per chunk)."""

import json
import re
import time
from html import unescape

import pytest

from dlqadmin.asynq import keys
from dlqadmin.asynq.messages import TaskMessage, encode_task_message
from dlqadmin.masking.engine import Masker
from dlqadmin.triage import chunks, selectors

pytestmark = pytest.mark.django_db

QUEUE, TASK = "bulky", "huge-json"
MORE = re.compile(r'hx-get="([^"]+\?offset=\d+)"')


@pytest.fixture
def huge(asynq_redis):
    chunks.clear()
    doc = {f"member_{i}": (f"write to user{i}@example.com" if i % 100 == 0 else i) for i in range(200_000)}
    raw = json.dumps(doc).encode()
    msg = encode_task_message(TaskMessage(type="bulk:import", payload=raw, id=TASK, queue=QUEUE, retry=0,
                                          retried=0, error_msg="boom", timeout=1800, last_failed_at=1_900_000_000))
    asynq_redis.sadd(keys.ALL_QUEUES, QUEUE.encode())
    asynq_redis.hset(keys.task(QUEUE, TASK), mapping={b"msg": msg, b"state": b"archived"})
    asynq_redis.zadd(keys.archived(QUEUE), {TASK.encode(): 1_900_000_000})
    yield raw
    chunks.clear()


@pytest.fixture
def mask_calls(monkeypatch):
    calls = []
    original = Masker.mask_payload

    def counting(self, raw, **kwargs):
        calls.append(len(raw or b""))
        return original(self, raw, **kwargs)

    monkeypatch.setattr(Masker, "mask_payload", counting)
    return calls


def test_load_more_slices_one_masked_rendering(staff_client, huge, mask_calls):
    page = staff_client.get(f"/queues/{QUEUE}/tasks/{TASK}/")
    assert page.status_code == 200
    assert len([n for n in mask_calls if n == len(huge)]) == 1
    url = unescape(MORE.search(page.content.decode()).group(1))
    for _ in range(3):
        started = time.monotonic()
        chunk = staff_client.get(url)
        assert chunk.status_code == 200
        assert time.monotonic() - started < 1.0
        html = unescape(chunk.content.decode())
        assert "@example.com" in html and not re.search(r"user\d+@example\.com", html)  # masked
        url = unescape(MORE.search(chunk.content.decode()).group(1))
    # The page and three chunks: the document was masked once.
    assert len([n for n in mask_calls if n == len(huge)]) == 1


def test_chunks_are_exactly_the_masked_document(huge):
    full = Masker.for_rules(()).mask_payload(huge, limit=None).text
    pieces, offset = [], 0
    while offset is not None and len(pieces) < 1000:
        value = selectors.task_field(QUEUE, TASK, "payload", reveal=False, offset=offset)
        pieces.append(value.text)
        offset = value.next_offset
    assert "".join(pieces) == full


def test_a_changed_rule_set_masks_afresh(huge, mask_calls):
    from dlqadmin.masking.models import MaskingRule

    selectors.task_field(QUEUE, TASK, "payload", reveal=False, offset=65536)
    MaskingRule.objects.create(kind="key", pattern="member_5", label="five")
    value = selectors.task_field(QUEUE, TASK, "payload", reveal=False, offset=0)
    assert '"member_5": "[five]"' in value.text
    assert len([n for n in mask_calls if n == len(huge)]) == 2
