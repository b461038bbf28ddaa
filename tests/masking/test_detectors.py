"""The built-in detectors, one by one: what they catch, what they leave alone, and the
shape of the replacement (what was masked stays recognisable, the secret does not)."""

import pytest

from dlqadmin.masking import detectors as d
from dlqadmin.masking.engine import Masker

M = Masker()


def mask(text: str) -> str:
    return M.mask_text(text).text


# --- cards ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
        "378282246310005",  # Amex, 15 digits
        "3782 822463 10005",
        "6011111111111117",
        "4000056655665556",
        "4222222222222",  # 13-digit Visa
    ],
)
def test_cards_are_masked_keeping_last_four(card):
    out = mask(f"charge failed for card {card} (expired)")
    digits = card.replace(" ", "").replace("-", "")
    assert card not in out and digits not in out
    assert f"[card \u2022\u2022\u2022\u2022{digits[-4:]}]" in out
    assert out.startswith("charge failed for card ") and out.endswith(" (expired)")


def test_card_after_a_short_number_in_the_same_digit_run():
    out = mask("qty 2 4111 1111 1111 1111 shipped")
    assert "4111 1111 1111" not in out and "[card ••••1111]" in out and "qty 2 " in out


def test_two_cards_in_one_run():
    out = mask("4111111111111111 5555555555554444")
    assert out == "[card ••••1111] [card ••••4444]"


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 failed",  # Luhn fails
        "ts=1767225600000",  # 13-digit ms timestamp starting with 1
        "id 0000000000000000",  # starts with 0
        "trace 12345678901234567890123",  # a long id: no 13-19 digit card inside a single run
        "2026-11-22 17:00:00",
        "amount 1234.56",
    ],
)
def test_non_cards_stay(text):
    assert mask(text) == text


def test_luhn():
    assert d.luhn_ok("79927398713")
    assert not d.luhn_ok("79927398710")


# --- e-mail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email,domain",
    [
        ("alice@example.com", "example.com"),
        ("carla.rossi+billing@example.org", "example.org"),
        ("d.volkov@mail.example.co.uk", "mail.example.co.uk"),
        ("\u00fcn\u00efc\u00f8d\u00e9@ex\u00e4mple.org", "ex\u00e4mple.org"),
        ("rene\u0301@example.fr", "example.fr"),  # combining accent in the local part
        ("a@b.io", "b.io"),
    ],
)
def test_emails_keep_only_the_domain(email, domain):
    local = email.split("@")[0]
    out = mask(f"smtp: 550 <{email}>: rejected")
    assert f"{local}@" not in out and (len(local) < 3 or local not in out)
    assert out == f"smtp: 550 <[email •••@{domain}]>: rejected"


def test_email_in_query_string_and_mailto():
    out = mask("https://x.example/?to=bob.k@example.net&x=1 mailto:eve@example.org")
    assert "bob.k" not in out and "eve@" not in out
    assert "https://x.example/?to=[email •••@example.net]&x=1 mailto:[email •••@example.org]" == out


@pytest.mark.parametrize("text", ["root@10.20.3.17", "see @mention", "a @ b.com", "user@localhost"])
def test_not_emails(text):
    assert mask(text) == text


# --- URLs and DSNs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgres://app:s3cret@db:5432/x", "postgres://app:[password]@db:5432/x"),
        ("redis://:hunter2@cache.internal:6379/0", "redis://:[password]@cache.internal:6379/0"),
        ("mongodb+srv://u:p%40ss@cluster0.example.net/db", "mongodb+srv://u:[password]@cluster0.example.net/db"),
        ("amqp://guest:pa@ss@mq.example.com:5672/", "amqp://guest:[password]@mq.example.com:5672/"),
        ("s3://key:secret@bucket/path", "s3://key:[password]@bucket/path"),
        ("redis://:ab/cd@host:6379", "redis://:[password]@host:6379"),  # unescaped '/' in the password
    ],
)
def test_url_passwords(url, expected):
    assert mask(f"connect {url} failed") == f"connect {expected} failed"


@pytest.mark.parametrize(
    "text",
    ["https://example.com:8443/a?b=c", "https://user@example.com/", "s3://mixed-uploads/u/142/IMG_1100.HEIC"],
)
def test_urls_without_password_stay(text):
    assert mask(text) == text


# --- tokens and keys ---------------------------------------------------------------------

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def test_jwt():
    assert mask(f"token {JWT} expired") == "token [jwt] expired"


def test_bearer_and_basic():
    assert mask("Authorization: Bearer abc.DEF-123_456") == "Authorization: Bearer [credentials]"
    assert mask("got bearer Zm9vYmFyYmF6cXV4 from proxy") == "got bearer [token] from proxy"
    assert mask("use Basic dXNlcjpwYXNzd29yZA==") == "use Basic [credentials]"
    assert mask("basic authentication required") == "basic authentication required"


@pytest.mark.parametrize(
    "key,prefix",
    [
        ("sk_live_51HqLyjWDarjtT1zdp7dcXxXo", "sk_live_"),
        ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_"),
        ("pk_live_00000000000000005eed0066", "pk_live_"),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123", "github_pat_"),
        ("xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-"),
        ("AKIAIOSFODNN7EXAMPLE", "AKIA"),
        ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIza"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz012345", "sk-proj-"),
    ],
)
def test_api_keys_keep_the_provider_prefix(key, prefix):
    out = mask(f"auth failed with {key}.")
    assert key not in out
    assert out == f"auth failed with [api key {prefix}•••]."


# --- key = value pairs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("login failed user=bob password=hunter2!", "login failed user=bob password=[password]"),
        ("PASSWORD: 'hunter 2' rejected", "PASSWORD: '[password]' rejected"),
        ('{"api_key": "abc123", "n": 1}', '{"api_key": "[api key]", "n": 1}'),
        ('body={\\"password\\":\\"p\\\\\\"w\\"}', 'body={\\"password\\":\\"[password]\\"}'),
        ("GET /reset?token=rst_f3051c11deadbe8e&lang=en", "GET /reset?token=[token]&lang=en"),
        ("https://r.example/a.pdf?sig=abc123&exp=1767225600", "https://r.example/a.pdf?sig=[signature]&exp=1767225600"),
        ("Cookie: session=abc; theme=dark", "Cookie: [cookie]"),
        ("card_number=4111111111111111 cvv=123", "card_number=[card] cvv=[cvv]"),
        (
            '{"card": {"number": "x", "cvv": 1}, "password": {"a": [1, 2]}}',
            '{"card": {"number": "x", "cvv": [cvv]}, "password": [password]}',
        ),
        ("cache_key=5f4dcc3b5aa765d61d8327deb882cf99abcd", "cache_key=[secret]"),  # key-ish + generated value
    ],
)
def test_key_values_in_text(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "cache_key=user:42:profile",  # key-ish name, ordinary value
        "decline_code=do_not_honor",
        "Your password reset code (868143)",
        "error: connection refused",
        "Key (number)=(INV-2025-000123) already exists.",
    ],
)
def test_harmless_key_values_stay(text):
    assert mask(text) == text


# --- IBAN and phone ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iban,shape",
    [
        ("DE89370400440532013000", "[iban DE••••3000]"),
        ("DE89 3704 0044 0532 0130 00", "[iban DE••••3000]"),
        ("GB82WEST12345698765432", "[iban GB••••5432]"),
        ("NL91ABNA0417164300", "[iban NL••••4300]"),
    ],
)
def test_iban(iban, shape):
    assert mask(f"refund to {iban} EUR") == f"refund to {shape} EUR"


def test_iban_with_bad_checksum_stays():
    assert mask("ref DE89370400440532013001 x") == "ref DE89370400440532013001 x"


@pytest.mark.parametrize(
    "phone", ["+14155552671", "+1 415 555 2671", "+44 20 7946 0958", "+49-30-1234567", "+1 (415) 555-2671"]
)
def test_phones(phone):
    out = mask(f"call {phone} now")
    assert phone not in out and out.startswith("call [phone •••") and out.endswith("] now")


def test_plus_numbers_that_are_not_phones_stay():
    assert mask("delta +12.5% and +100") == "delta +12.5% and +100"


def test_private_key_block():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----"
    assert mask(f"key:\n{pem}\nend") == "key:\n[private key]\nend"


# --- the prefilter is a superset of every finder ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a@b.io",
        "x rene\u0301@example.fr",
        "s3://k:s@b",
        "eyJab.cd.ef",
        "sk_live_abcdefgh",
        "AKIAIOSFODNN7EXAMPLE",
        "Bearer abcdefgh",
        "4111111111111111",
        "DE89370400440532013000",
        "+14155552671",
        "-----BEGIN PRIVATE KEY-----",
        "password=x",
        '"token": "y"',
        "x_hmac=" + "ab" * 20,
    ],
)
def test_prefilter_admits_every_text_a_finder_hits(text):
    # Each finder on its own must find something, and the prefilter must let it run.
    which = M._prefilter_match(text.encode())
    hit_by = [i for i, f in enumerate(M._finders) if f(text)]
    assert hit_by, text
    assert which and set(hit_by) <= set(which), (text, hit_by, which)
