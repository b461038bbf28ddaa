"""row_path / absolute give exactly what reverse() / build_absolute_uri() give, for any bytes."""

import pytest
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse, set_script_prefix
from hypothesis import given, settings
from hypothesis import strategies as st

from dlqadmin.core.links import MENU, absolute, menu, row_path, row_url

# Any bytes asynq can hold, as the reader hands them over (surrogateescape), and any text.
names = st.one_of(
    st.binary(min_size=1, max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
    st.sampled_from([".", "..", "~", "/", "%2F", "dlqadminrowmark", "a dlqadminrowmark b", "x" * 600]),
)


# No deadline: the first example of a run fills the resolver's caches, and CI machines are shared.
@settings(deadline=None, max_examples=100)
@given(names, names)
def test_row_path_is_reverse(queue, task_id):
    for view in ("api:task", "triage:task", "api:task_run"):
        assert row_path(view, queue, task_id) == reverse(view, args=[queue, task_id])


@settings(deadline=None, max_examples=100)
@given(names, names)
def test_absolute_is_build_absolute_uri(queue, task_id):
    request = RequestFactory().get("/api/v1/queues", HTTP_HOST="testserver")
    path = row_path("api:task", queue, task_id)
    assert absolute(request, path) == request.build_absolute_uri(path)
    assert row_url(request, "api:task", queue, task_id) == request.build_absolute_uri(path)
    assert row_url(request, "api:task", queue, task_id + "2") == request.build_absolute_uri(
        reverse("api:task", args=[queue, task_id + "2"]))  # the same request's kept parts
    assert absolute(request, "//evil.example/x") == request.build_absolute_uri("//evil.example/x")


def test_empty_last_segment_fails_as_reverse_does():
    with pytest.raises(NoReverseMatch):
        row_path("api:task", "payments", "")


def test_long_queue_names_are_not_kept():
    from dlqadmin.core.links import _around

    long_name = "q" * 5000
    before = _around.cache_info().currsize
    assert row_path("api:task", long_name, "t") == reverse("api:task", args=[long_name, "t"])
    request = RequestFactory().get("/", HTTP_HOST="testserver")
    assert row_url(request, "api:task", long_name, "t") == request.build_absolute_uri(
        reverse("api:task", args=[long_name, "t"]))
    assert _around.cache_info().currsize == before


def test_script_prefix_is_part_of_the_key():
    try:
        set_script_prefix("/dlq/")
        assert row_path("api:task", "q", "t") == "/dlq/api/v1/queues/q/tasks/t/"
    finally:
        set_script_prefix("/")
    assert row_path("api:task", "q", "t") == "/api/v1/queues/q/tasks/t/"


def test_menu_is_reverse_under_any_script_prefix():
    assert menu() == {key: reverse(view) for key, view in MENU.items()}
    try:
        set_script_prefix("/dlq/")
        assert menu() == {key: reverse(view) for key, view in MENU.items()}
        assert menu()["servers"].startswith("/dlq/")
    finally:
        set_script_prefix("/")
    assert not menu()["servers"].startswith("/dlq/")


@settings(deadline=None, max_examples=50)
@given(names, names)
def test_row_url_tag_renders_what_the_url_tag_renders(queue, task_id):
    from django.template import Context, Template

    context = Context({"q": queue, "t": task_id})
    ours = Template("{% load dlq %}<a href=\"{% row_url 'triage:task' q t %}\">").render(context)
    django_s = Template("<a href=\"{% url 'triage:task' q t %}\">").render(context)
    assert ours == django_s
