"""Every queue name / task id asynq accepts must survive a trip through our URLs."""

from urllib.parse import unquote

from django.urls import resolve, reverse
from hypothesis import given
from hypothesis import strategies as st

from dlqadmin.core.converters import decode_segment, encode_segment

names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)


@given(names)
def test_round_trip(name):
    encoded = encode_segment(name)
    assert "/" not in encoded and encoded not in (".", "..")
    assert decode_segment(encoded) == name


@given(names, names)
def test_reverse_then_resolve(queue, task_id):
    url = reverse("triage:task", args=[queue, task_id])
    # What the server sees after the WSGI layer percent-decodes the path.
    match = resolve(unquote(url))
    assert match.kwargs == {"queue": queue, "task_id": task_id}


def test_readable_names_stay_readable():
    assert reverse("triage:queue", args=["payments"]) == "/queues/payments/"
    assert reverse("triage:queue", args=["a:b"]) == "/queues/a:b/"
    assert reverse("triage:queue", args=["a/b"]) == "/queues/a~2Fb/"
    assert reverse("triage:queue", args=[".."]) == "/queues/~2E~2E/"
