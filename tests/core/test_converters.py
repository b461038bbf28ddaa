"""Every queue name / task id asynq accepts must survive a trip through our URLs."""

from urllib.parse import unquote

import pytest
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


# Any bytes asynq can hold, as the reader hands them over (surrogateescape).
any_bytes_names = st.binary(min_size=1, max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape"))


@given(any_bytes_names)
def test_any_bytes_round_trip(name):
    encoded = encode_segment(name)
    assert "/" not in encoded and "\x00" not in encoded and encoded not in (".", "..")
    encoded.encode("utf-8")  # no surrogates left: a URL can carry it
    assert decode_segment(encoded) == name


@given(any_bytes_names, any_bytes_names)
def test_any_bytes_reverse_then_resolve(queue, task_id):
    url = reverse("triage:task", args=[queue, task_id])
    match = resolve(unquote(url))
    assert match.kwargs == {"queue": queue, "task_id": task_id}


def test_nul_and_undecodable_bytes_are_escaped():
    bad = b"a\x00b\xffc".decode("utf-8", "surrogateescape")
    assert reverse("triage:queue", args=[bad]) == "/queues/a~00b~FFc/"
    # URLs made before keep resolving: only ~7E, ~2F and ~2E were ever generated.
    assert resolve("/queues/a~7E2Fb/").kwargs == {"queue": "a~2Fb"}


@pytest.mark.django_db
def test_long_queue_names_travel_as_their_key(settings):
    from dlqadmin.access import registry
    from dlqadmin.core.names import key

    settings.ASYNQ_REDIS_URL = "redis://127.0.0.1:1/0"  # the registry answers; Redis is not asked
    long_name = "q" * 600
    registry.ensure(long_name)
    url = reverse("triage:task", args=[long_name, "t1"])
    assert url == f"/queues/~h{key(long_name)}/tasks/t1/"
    assert resolve(url).kwargs == {"queue": long_name, "task_id": "t1"}
    assert resolve(f"/queues/{long_name}/").kwargs == {"queue": long_name}  # the long form still works
    assert reverse("triage:queue", args=["q" * 100]) == f"/queues/{'q' * 100}/"  # short names stay readable
