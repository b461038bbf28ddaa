"""JSON nested deeper than the parser goes is hostile data, never a 500: the reveal shows
it as text and the editor treats it as text."""

from dlqadmin.operations.services import _is_json, editable_payload
from dlqadmin.triage.presenters import Sensitive

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_a_revealed_deeply_nested_payload_is_shown_as_text():
    value = Sensitive(kind="text", text=DEEP.decode(), size=len(DEEP), masked=False)
    assert value.shown == value.text and not value.is_json


def test_the_editor_takes_deeply_nested_json_as_text():
    assert not _is_json(DEEP)
    assert editable_payload(DEEP) == DEEP.decode()
    assert _is_json(b'{"a": [1, 2]}') and editable_payload(b'{"a":1}') == '{\n  "a": 1\n}'
