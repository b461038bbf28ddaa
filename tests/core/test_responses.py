"""The API's JSON responses (core/responses.py) parse to what Django's JsonResponse gives,
for ordinary data and for what orjson refuses (hostile strings, huge integers)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.http import JsonResponse as DjangoJsonResponse
from hypothesis import given
from hypothesis import strategies as st

from dlqadmin.core.responses import JsonResponse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def parsed(response):
    return json.loads(response.content)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_same_value_as_djangos(data):
    assert parsed(JsonResponse(data)) == parsed(DjangoJsonResponse(data))


def test_types_orjson_refuses_are_encoded_as_django_does():
    data = {"lone": "a\udc80b", "big": 2**70, "when": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            "amount": Decimal("1.10"), 3: "an int key"}
    ours, django = JsonResponse(data), DjangoJsonResponse(data)
    assert parsed(ours) == parsed(django)
    assert ours["Content-Type"] == "application/json"


def test_datetimes_keep_djangos_format():
    data = {"at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)}
    assert parsed(JsonResponse(data)) == {"at": "2026-01-02T03:04:05.678Z"}


def test_status_and_objects_only():
    assert JsonResponse({"a": 1}, status=409).status_code == 409
    with pytest.raises(TypeError):
        JsonResponse([1, 2])
    with pytest.raises(TypeError):
        JsonResponse({"unknown": object()})
