"""Refusals and misses are pages in the app shell with the reason and a way back."""

import pytest

from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


def test_404_is_a_page_with_a_way_back(staff_client, golden):
    response = staff_client.get("/queues/no-such-queue/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in html and 'href="/">Back to the queues' in html
    assert 'class="topbar"' in html  # the app shell, with the navigation


def test_403_says_why(client, roles, golden):
    sign_in(client, make_user("v", ("viewer",)))
    response = client.get("/audit/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "You may not do this" in html and "You do not have the role this page needs." in html
    assert 'href="/">Back to the queues' in html


def test_favicon_is_linked(staff_client, golden):
    assert 'rel="icon" href="/static/favicon.svg"' in staff_client.get("/").content.decode()
