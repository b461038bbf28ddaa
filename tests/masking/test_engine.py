"""Masker behaviour: JSON structure, paths, findings, text, binary, paging and bounds."""

import json
import threading

import pytest

from dlqadmin.masking import engine
from dlqadmin.masking.engine import Finding, MaskedValue, Masker, Rule

M = Masker()


def pj(doc, masker=M, **kw) -> MaskedValue:
    return masker.mask_payload(json.dumps(doc).encode(), **kw)


@pytest.fixture(params=["orjson", "stdlib"])
def both_json_paths(request, monkeypatch):
    """Run a test with and without the optional orjson accelerator."""
    if request.param == "stdlib":
        monkeypatch.setattr(engine, "_orjson", None)
    return request.param


# --- JSON --------------------------------------------------------------------------------


def test_clean_json_is_pretty_printed_like_json_dumps(both_json_paths):
    doc = {"order_id": "ORD-1", "n": [1, 2.5, True, None, {}], "nested": {"a": [], "b": {"c": "d"}}, "e": "é <b>"}
    v = pj(doc)
    assert v.kind == "json" and not v.masked and v.findings == []
    assert v.text == json.dumps(doc, indent=2, ensure_ascii=False)
    assert v.size == len(json.dumps(doc).encode()) and not v.truncated and v.next_offset is None


def test_values_of_sensitive_names_are_masked_whatever_their_type(both_json_paths):
    v = pj(
        {"password": {"a": [1, 2]}, "api_key": ["x", "y"], "token": 12345, "secret": None, "cvv": "123", "ok": "yes"}
    )
    assert json.loads(v.text) == {
        "password": "[password]",
        "api_key": "[api key]",
        "token": "[token]",
        "secret": None,
        "cvv": "[cvv]",
        "ok": "yes",
    }
    assert {(f.path, f.label) for f in v.findings} == {
        ("$.password", "password"),
        ("$.api_key", "api key"),
        ("$.token", "token"),
        ("$.cvv", "cvv"),
    }
    assert v.masked


def test_card_number_member_keeps_last_four():
    v = pj({"card": {"card_number": "4111 1111 1111 1111", "cvv": 123}, "pan": 5555555555554444})
    assert json.loads(v.text) == {"card": {"card_number": "[card ••••1111]", "cvv": "[cvv]"}, "pan": "[card ••••4444]"}


def test_card_numbers_as_json_numbers_are_masked(both_json_paths):
    v = pj({"n": 4111111111111111, "list": [5555555555554444, 12], "small": 1767225600000})
    assert json.loads(v.text) == {"n": "[card ••••1111]", "list": ["[card ••••4444]", 12], "small": 1767225600000}
    assert Finding("$.list[0]", "card") in v.findings


def test_detectors_run_on_every_string_and_report_paths(both_json_paths):
    doc = {
        "customer": {"email": "alice@example.com", "notes": ["call +14155552671", "ok"]},
        "db": "postgres://u:pw@h/x",
    }
    v = pj(doc)
    assert json.loads(v.text) == {
        "customer": {"email": "[email •••@example.com]", "notes": ["call [phone •••71]", "ok"]},
        "db": "postgres://u:[password]@h/x",
    }
    assert set(v.findings) == {
        Finding("$.customer.email", "email"),
        Finding("$.customer.notes[0]", "phone"),
        Finding("$.db", "password"),
    }


def test_member_names_that_hold_data_are_masked(both_json_paths):
    v = pj({"by_email": {"alice@example.com": 1, "bob@example.org": 2, "n": 3}})
    assert json.loads(v.text) == {"by_email": {"[email •••@example.com]": 1, "[email •••@example.org]": 2, "n": 3}}
    assert Finding("$.by_email", "email") in v.findings
    assert "alice" not in v.text


def test_path_rules():
    masker = Masker(
        [
            Rule("path", "$.customer.email", "customer email"),
            Rule("path", "$.items[*].sku", "sku"),
            Rule("path", "$..iban_like", "bank"),
            Rule("path", "$.rows[1]", "row"),
        ]
    )
    doc = {
        "customer": {"email": "alice@example.com", "name": "A"},
        "email": "bob@example.com",
        "items": [{"sku": "S1", "qty": 1}, {"sku": {"x": 1}, "qty": 2}],
        "deep": {"a": [{"iban_like": "X"}], "IBAN-like": "Y"},
        "rows": [1, 2, 3],
    }
    v = pj(doc, masker)
    assert json.loads(v.text) == {
        "customer": {"email": "[customer email]", "name": "A"},
        "email": "[email •••@example.com]",
        "items": [{"sku": "[sku]", "qty": 1}, {"sku": "[sku]", "qty": 2}],
        "deep": {"a": [{"iban_like": "[bank]"}], "IBAN-like": "[bank]"},
        "rows": [1, "[row]", 3],
    }
    assert Finding("$.items[1].sku", "sku") in v.findings


def test_root_path_masks_everything():
    v = pj({"a": 1}, Masker([Rule("path", "$", "all")]))
    assert v.text == '"[all]"' and v.findings == [Finding("$", "all")]


def test_top_level_scalars():
    assert M.mask_payload(b'"alice@example.com"').text == '"[email •••@example.com]"'
    assert M.mask_payload(b"  [1]").kind == "json"
    assert M.mask_payload(b"42").kind == "text"


def test_json_string_with_nul_and_control_characters(both_json_paths):
    v = M.mask_payload(b'{"nul_inside": "x\\u0000y", "bell": "\\u0007", "del": "a\\u007fb", "rtl": "a\\u202eb"}')
    assert v.kind == "json"
    assert json.loads(v.text) == {"nul_inside": "x\x00y", "bell": "\x07", "del": "a\x7fb", "rtl": "a\u202eb"}
    assert "\\u0000" in v.text and "\\u007f" in v.text and "\\u202e" in v.text
    assert "\x00" not in v.text and "\u202e" not in v.text


def test_lone_surrogates_never_reach_the_output():
    v = M.mask_payload(b'{"s": "a\\ud800b", "\\udfff": 1}')
    assert v.kind == "json"
    v.text.encode("utf-8")  # would raise on a lone surrogate
    assert "\\ud800" in v.text and "\\udfff" in v.text


def test_nan_big_ints_and_duplicate_keys(both_json_paths):
    v = M.mask_payload(b'{"a": NaN, "b": 123456789012345678901234567890, "c": 1, "c": 2, "d": -0.0, "e": 1e16}')
    assert v.text == '{\n  "a": NaN,\n  "b": 123456789012345678901234567890,\n  "c": 2,\n  "d": -0.0,\n  "e": 1e+16\n}'


def test_output_is_not_html_escaped():
    v = pj({"comment": "<script>alert(1)</script>&amp;"})
    assert "<script>alert(1)</script>&amp;" in v.text


def test_deep_nesting_is_cut():
    doc = current = {}
    for _ in range(engine.MAX_DEPTH + 50):
        current["k"] = {}
        current = current["k"]
    current["password"] = "hunter2"
    v = pj(doc)
    assert "[nested too deep]" in v.text and "hunter2" not in v.text
    assert any(f.label == "nested too deep" for f in v.findings)


def test_invalid_json_is_text():
    v = M.mask_payload(b'{"password": "hunter2", oops')
    assert v.kind == "text" and "hunter2" not in v.text and '"password": "[password]"' in v.text


def test_json_above_the_parse_limit_is_masked_as_text(monkeypatch):
    monkeypatch.setattr(engine, "MAX_JSON_BYTES", 100)
    doc = {"pad": "x" * 200, "password": "hunter2", "card": "4111111111111111", "who": "alice@example.com"}
    v = pj(doc)
    assert v.kind == "text"
    for secret in ("hunter2", "4111111111111111", "alice@"):
        assert secret not in v.text


# --- headers, text, binary ------------------------------------------------------------------


def test_headers():
    v = M.mask_headers(
        {"x-request-id": "req-1", "Authorization": "Bearer abc.def.ghi", "Cookie": "s=1", "to": "a@b.io"}
    )
    assert v.kind == "json"
    assert json.loads(v.text) == {
        "Authorization": "[credentials]",
        "Cookie": "[cookie]",
        "to": "[email •••@b.io]",
        "x-request-id": "req-1",
    }
    assert M.mask_headers(None) is None and M.mask_headers({}).text == "{}"


def test_text_keeps_lines_and_escapes_invisible_characters():
    v = M.mask_text("line1\n\tline2 \x1b[31mred\x1b[0m \u202eevil \x00 \x85 ok")
    assert v.kind == "text"
    assert v.text == "line1\n\tline2 \\x1b[31mred\\x1b[0m \\u202eevil \\x00 \\x85 ok"
    assert v.size == len("line1\n\tline2 \x1b[31mred\x1b[0m \u202eevil \x00 \x85 ok".encode())


def test_none_in_none_out():
    assert M.mask_payload(None) is None and M.mask_text(None) is None and M.mask_result(None) is None


def test_empty_payload():
    v = M.mask_payload(b"")
    assert v == MaskedValue("text", "", 0, False, None, [], False, 0)


def test_binary_is_a_hex_dump_never_text():
    raw = bytes(range(256))
    v = M.mask_payload(raw)
    assert v.kind == "binary" and v.size == 256 and not v.truncated
    lines = v.text.split("\n")
    assert lines[0] == "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f"
    assert len(lines) == 16 and "ABC" not in v.text


def test_secrets_inside_binary_are_blanked_in_the_hex():
    raw = b"\x82\xa4card\xb04111111111111111\xa5email\xb1alice@example.com\xff\xfe"
    v = M.mask_payload(raw)
    assert v.kind == "binary" and v.masked
    assert "34 31 31 31" not in v.text  # "4111" never shown, even as hex
    assert "\u2022\u2022" in v.text
    assert {f.label for f in v.findings} == {"card", "email"}


def test_valid_utf8_with_nul_or_mostly_controls_is_binary():
    assert M.mask_payload(b"abc\x00def").kind == "binary"
    assert M.mask_payload(b"\n\x05hello\x12\x03abc\x1a\x02\x08\x01").kind == "binary"
    assert M.mask_payload(b"plain text\nwith lines").kind == "text"


def test_binary_paging():
    raw = bytes(200) + b"\xff" * 5000
    first = M.mask_payload(raw, limit=600)
    assert first.truncated and first.next_offset == 160
    assert first.text.count("\n") == 9
    second = M.mask_payload(raw, limit=600, offset=first.next_offset)
    assert second.offset == 160 and second.text.startswith("000000a0  ")


# --- paging and bounds --------------------------------------------------------------------------


def test_large_json_is_bounded_and_pages_concatenate(both_json_paths):
    doc = {"rows": [{"n": i, "email": f"user{i}@example.com", "note": "x" * 50} for i in range(3000)]}
    full = pj(doc, limit=None).text
    assert len(full) > 3 * engine.DEFAULT_LIMIT
    first = pj(doc)
    assert len(first.text) == engine.DEFAULT_LIMIT and first.truncated and first.next_offset == engine.DEFAULT_LIMIT
    pages, offset = [], 0
    while offset is not None:
        page = pj(doc, offset=offset)
        pages.append(page.text)
        offset = page.next_offset
    assert "".join(pages) == full
    assert "user1@" not in full


def test_masking_happens_before_the_cut():
    # A card that would straddle the page boundary is masked whole, never half shown.
    prefix = '{"a": "' + "x" * (100 - 10 - 7)
    for shift in range(0, 20):
        text = prefix + "y" * shift + ' 4111111111111111 "}'
        v = M.mask_payload(text.encode(), limit=100)
        both = v.text + M.mask_payload(text.encode(), limit=100, offset=100).text
        assert "1111111111" not in both and "4111" not in both.replace("••••1111", "")


def test_long_text_is_masked_in_chunks_only_as_far_as_needed(monkeypatch):
    monkeypatch.setattr(engine, "FULL_SCAN_CHARS", 10_000)
    monkeypatch.setattr(engine, "CHUNK_CHARS", 2_000)
    monkeypatch.setattr(engine, "CHUNK_MARGIN", 400)
    secrets = ["alice@example.com", "4111 1111 1111 1111", "postgres://u:hunter2@db/x", "password=s3cr3t!"]
    parts = []
    for i in range(3000):  # secrets land on and around every chunk boundary
        parts.append(("w" * (i % 37)) + " " + secrets[i % 4] + ("\n" if i % 5 == 0 else " "))
    text = "".join(parts)
    full = M.mask_text(text, limit=None)
    for leak in ("alice@", "4111 1111", "hunter2", "s3cr3t"):
        assert leak not in full.text
    first = M.mask_text(text, limit=5000)
    assert first.truncated and first.next_offset == 5000 and full.text.startswith(first.text)
    second = M.mask_text(text, limit=5000, offset=5000)
    assert full.text[5000:10000] == second.text


def test_bad_window():
    with pytest.raises(ValueError):
        M.mask_payload(b"{}", limit=0)
    with pytest.raises(ValueError):
        M.mask_text("x", offset=-1)


# --- sharing -------------------------------------------------------------------------------------


def test_for_rules_is_cached_per_rule_set():
    a = Masker.for_rules([Rule("key", "note", "n")])
    assert Masker.for_rules((Rule("key", "note", "n"),)) is a
    assert Masker.for_rules([Rule("key", "note", "m")]) is not a


def test_a_masker_is_safe_to_share_between_threads():
    masker = Masker()
    docs = [json.dumps({f"k{i}_{j}": f"user{i}.{j}@example.com" for j in range(20)}).encode() for i in range(40)]
    expected = [Masker().mask_payload(d).text for d in docs]
    results = {}

    def work(n):
        results[n] = [masker.mask_payload(d).text for d in docs]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


# --- the memo of masked values ------------------------------------------------------------

def test_memo_gives_the_same_result_as_masking_afresh_and_never_crosses_rule_sets():
    from dlqadmin.masking import engine

    raw = b'{"email": "ann@example.com", "order_note": "call 4111 1111 1111 1111"}'
    plain, with_rule = Masker(), Masker([Rule("key", "order_note", "note")])
    first = plain.mask_payload(raw, limit=400)
    assert plain.mask_payload(bytes(raw), limit=400) is first  # served from the memo
    engine._memo.clear()
    assert plain.mask_payload(raw, limit=400) == first  # what masking afresh gives
    ruled = with_rule.mask_payload(raw, limit=400)
    assert '"[note]"' in ruled.text and '"[note]"' not in first.text
    assert plain.mask_payload(raw, limit=400) is not ruled
    # The window is part of the key; so is the kind of value (bytes vs str vs headers).
    assert plain.mask_payload(raw, limit=20).text != first.text
    text = plain.mask_text(raw.decode(), limit=400)
    assert text.kind == "text" and first.kind == "json"
    headers = plain.mask_headers({"authorization": "Bearer abc.def.ghi"}, limit=400)
    assert headers is plain.mask_headers({"authorization": "Bearer abc.def.ghi"}, limit=400)
    other = plain.mask_headers({"x-trace": "abc"}, limit=400)
    assert other.size != headers.size and "abc" in other.text


def test_memo_stays_within_its_byte_budget_and_skips_large_values():
    from dlqadmin.masking import engine

    memo = engine._Memo(20_000)
    masker = Masker()
    for i in range(200):
        value = masker.mask_text(f"n={i}")
        memo.put(("k", i), value, 100)
    assert memo._bytes <= 20_000 and 0 < len(memo) < 200
    assert memo.get(("k", 199)) is not None and memo.get(("k", 0)) is None  # oldest out first
    before = len(engine._memo)
    big = b'{"a": "' + b"x" * (engine.MEMO_VALUE_BYTES + 1) + b'"}'
    masker.mask_payload(big, limit=100)
    assert len(engine._memo) == before
