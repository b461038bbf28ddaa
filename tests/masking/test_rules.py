"""Rule validation: a bad rule is rejected with a clear message, and no rule can make
masking slow (regex rules run on RE2, which is linear-time)."""

import time

import pytest

from dlqadmin.masking.engine import DEFAULT_RULES, Masker, Rule, RuleError
from dlqadmin.masking.rules import compile_path, normalize_name


@pytest.mark.parametrize(
    "kind,pattern,message",
    [
        ("regex", "(a", "missing )"),
        ("regex", r"(?<=x)y", "look-around"),
        ("regex", r"(a)\1", "back-references"),
        ("regex", "a*", "empty"),
        ("regex", r"\b", "empty"),
        ("regex", "x|", "empty"),
        ("path", "customer.email", "starts with '$'"),
        ("path", "$.items[", "position"),
        ("path", "$..", "after '..'"),
        ("path", "$.a b", "Unexpected"),
        ("key", "___", "empty"),
        ("key", "a[bc", "Unclosed"),
        ("key", "", "empty"),
        ("key", "x" * 501, "longer than 500"),
        ("kind", "x", "Unknown rule kind"),
    ],
)
def test_invalid_rules_are_rejected_with_a_reason(kind, pattern, message):
    with pytest.raises(RuleError) as exc:
        Rule(kind, pattern, "x")
    assert message in str(exc.value)
    assert exc.value.field == ("kind" if kind == "kind" else "pattern")


@pytest.mark.parametrize("label", ["", "  "])
def test_empty_label_defaults(label):
    assert Rule("key", "note", label).label == "redacted"


@pytest.mark.parametrize("label", ["a]b", "[x", "x" * 41, "tab\there", "<b>"])
def test_bad_labels(label):
    with pytest.raises(RuleError) as exc:
        Rule("key", "note", label)
    assert exc.value.field == "label"


def test_rules_are_hashable_values():
    assert Rule("key", " note ", "n") == Rule("key", "note", "n")
    assert len({Rule("key", "note", "n"), Rule("key", "note", "n")}) == 1


def test_catastrophic_regex_runs_in_linear_time():
    # (a+)+$ takes exponential time on a backtracking engine; RE2 does not backtrack.
    masker = Masker([Rule("regex", r"(a+)+$", "aaa")])
    text = "a" * 50_000 + "!"
    t0 = time.perf_counter()
    masker.mask_text(text)
    assert time.perf_counter() - t0 < 2.0


def test_regex_rule_masks_group_one_only():
    masker = Masker([Rule("regex", r"order_note=(\w+)", "note")])
    assert masker.mask_text("order_note=fragile x").text == "order_note=[note] x"


def test_regex_rule_applies_to_json_strings_not_names():
    masker = Masker([Rule("regex", r"ORD-\d+", "order")])
    out = masker.mask_payload(b'{"ORD-1": "see ORD-2 and ORD-3"}').text
    assert out == '{\n  "ORD-1": "see [order] and [order]"\n}'


def test_glob_names_are_normalised():
    masker = Masker([Rule("key", "order_note", "note")], defaults=())
    for name in ("order_note", "orderNote", "ORDER-NOTE", "order.note", "Order Note"):
        assert masker.mask_payload(f'{{"{name}": "fragile"}}'.encode()).text.endswith('"[note]"\n}'), name
    assert "fragile" in masker.mask_payload(b'{"order_notes": "fragile"}').text


def test_glob_wildcards():
    masker = Masker([Rule("key", "x_*_secret?", "s"), Rule("key", "[ab]key", "k")], defaults=())
    doc = b'{"x_db_secret1": 1, "x_secret": 2, "akey": 3, "ckey": 4}'
    assert (
        masker.mask_payload(doc).text
        == '{\n  "x_db_secret1": "[s]",\n  "x_secret": 2,\n  "akey": "[k]",\n  "ckey": 4\n}'
    )


def test_custom_rule_wins_over_a_default():
    masker = Masker([Rule("key", "password", "pw")])
    assert '"[pw]"' in masker.mask_payload(b'{"password": "x"}').text


def test_normalize_name():
    assert normalize_name("X-Api.Key Id") == "xapikeyid"


def test_compile_path():
    assert compile_path("$.items[*].sku") == (("name", "items", None), ("any",), ("name", "sku", None))
    assert compile_path("$['odd key'][0]") == (("name", "oddkey", None), ("index", 0))
    assert compile_path("$..iban")[0] == ("desc",)


def test_default_rules_cover_the_issue_examples():
    masker = Masker()
    for name in (
        "password",
        "api_token",
        "refresh_token",
        "secret_key",
        "card_number",
        "cvv",
        "Authorization",
        "api_key",
        "x-api-key",
        "db_password",
        "client_secret",
        "cookie",
        "Set-Cookie",
        "ssn",
        "iban",
    ):
        label = masker._key_info(name)[0]
        assert label is not None, name
    for name in ("order_id", "amount_cents", "sku", "email", "currency", "idempotency_key", "classname", "shipping"):
        assert masker._key_info(name)[0] is None, name
    assert all(r.kind == "key" for r in DEFAULT_RULES)


def test_regex_rule_offsets_in_non_ascii_text():
    masker = Masker([Rule("regex", r"ORD-\d+", "order"), Rule("regex", r"ref=(\d+)", "ref")])
    assert masker.mask_text("Zoë ORD-12 x ref=77 é ORD-3 🚀").text == "Zoë [order] x ref=[ref] é [order] 🚀"
    out = masker.mask_payload('{"a": "Łukasz ORD-1", "b": ["ünï ORD-22 ref=5"]}'.encode()).text
    assert out == '{\n  "a": "Łukasz [order]",\n  "b": [\n    "ünï [order] ref=[ref]"\n  ]\n}'


def test_anchors_apply_to_each_value():
    masker = Masker([Rule("regex", r"^ref-\d+$", "ref")])
    out = masker.mask_payload(b'{"a": "ref-1", "b": "x ref-2", "c": ["ref-3"]}').text
    assert out == '{\n  "a": "[ref]",\n  "b": "x ref-2",\n  "c": [\n    "[ref]"\n  ]\n}'
    assert masker.mask_text("ref-4\nnot ref-5\nref-6").text == "[ref]\nnot ref-5\n[ref]"
