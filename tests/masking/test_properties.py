"""Property-based: secrets planted anywhere in generated JSON never reach the output.

Documents are random nests of objects and arrays with random member names and filler
text. Secrets are planted at random places: as the value (or inside the value) of a
sensitive member name, and inside free-text strings. The masked text must contain no
planted secret, while filler stays readable and the output stays valid JSON.
"""

import base64
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlqadmin.masking.detectors import luhn_ok
from dlqadmin.masking.engine import Masker

M = Masker()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=120)

# Filler has no digits, '@', ':' or '=', so it can neither look like a secret nor
# collide with one.
WORDS = ["order", "shipped", "retry", "failed", "the", "customer", "warehouse", "blue", "queue", "later", "ok"]
SEPARATORS = [" ", ", ", "; ", "\n", " | ", " (", ") ", "\t", " - "]
DOMAINS = ["example.com", "mail.example.org", "shop.example.co.uk", "example.jp"]
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10).filter(
    lambda k: M._key_info(k)[0] is None
)
SENSITIVE_NAMES = [
    "password",
    "Password",
    "db_password",
    "passwd",
    "api_key",
    "apiKey",
    "X-Api-Key",
    "secret",
    "client_secret",
    "access_token",
    "refreshToken",
    "Authorization",
    "cookie",
    "Set-Cookie",
    "card_number",
    "cardNumber",
    "cvv",
    "CVC",
    "ssn",
    "iban",
    "pin",
    "session_id",
    "private_key",
    "signature",
]

filler = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
scalars = st.one_of(
    filler, st.integers(-(10**11), 10**11), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(NAMES, children, max_size=4)),
    max_leaves=25,
)


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError


@st.composite
def cards(draw):
    prefix, length = draw(
        st.sampled_from(
            [
                ("4", 16),
                ("51", 16),
                ("55", 16),
                ("2221", 16),
                ("34", 15),
                ("37", 15),
                ("6011", 16),
                ("4", 13),
                ("62", 19),
            ]
        )
    )
    body = prefix + "".join(
        draw(
            st.lists(
                st.sampled_from("0123456789"), min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1
            )
        )
    )
    number = _luhn_complete(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    shown = sep.join(number[i : i + 4] for i in range(0, len(number), 4)) if sep else number
    return shown, [shown, number]


token_chars = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", min_size=1, max_size=1)


def _alnum(draw, n_min, n_max):
    # Always mixes a digit in, so it cannot equal a filler word.
    body = draw(
        st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", min_size=n_min, max_size=n_max)
    )
    return body + str(draw(st.integers(10, 99)))


@st.composite
def emails(draw):
    local = draw(st.from_regex(r"[a-z]{2,6}[0-9]{2,4}([._+-][a-z0-9]{1,5})?", fullmatch=True))
    email = f"{local}@{draw(st.sampled_from(DOMAINS))}"
    return email, [email, local]


@st.composite
def jwts(draw):
    def seg(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg({'sub': _alnum(draw, 4, 10)})}.{_alnum(draw, 20, 40)}"
    return token, [token, token.split(".")[2]]


@st.composite
def dsns(draw):
    scheme = draw(st.sampled_from(["postgres", "postgresql", "mysql", "redis", "amqp", "mongodb+srv"]))
    password = draw(st.from_regex(r"[A-Za-z]{3,8}[0-9]{2,4}[!%*_~@-]?[a-z0-9]{0,3}", fullmatch=True))
    user = draw(st.sampled_from(["app", "reporter", "", "svc_user"]))
    url = f"{scheme}://{user}:{password}@{draw(st.sampled_from(['db.internal', 'cache', '10.0.0.5']))}:5432/x"
    return url, [password]


@st.composite
def bearers(draw):
    token = _alnum(draw, 16, 40) + draw(st.sampled_from(["", "._-", "~+/"])) + _alnum(draw, 2, 8)
    return f"{draw(st.sampled_from(['Bearer', 'bearer', 'BEARER']))} {token}", [token]


@st.composite
def api_keys(draw):
    kind = draw(st.sampled_from(["stripe", "github", "slack", "aws", "google"]))
    if kind == "stripe":
        key = draw(st.sampled_from(["sk_live_", "sk_test_", "rk_live_"])) + _alnum(draw, 20, 30)
    elif kind == "github":
        key = "ghp_" + _alnum(draw, 34, 36)
    elif kind == "slack":
        key = f"xoxb-{draw(st.integers(10**9, 10**10))}-{_alnum(draw, 20, 24)}"
    elif kind == "aws":
        key = "AKIA" + draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16))
    else:
        key = "AIza" + _alnum(draw, 33, 33)
    return key, [key]


free_text_secrets = st.one_of(emails(), cards(), jwts(), dsns(), bearers(), api_keys())


@st.composite
def sensitive_values(draw):
    """A value for a sensitive member: any JSON type, with a distinctive secret inside."""
    secret = "pw-" + _alnum(draw, 6, 12)
    shape = draw(st.sampled_from(["str", "obj", "list", "deep"]))
    value = {"str": secret, "obj": {"inner": secret}, "list": [1, secret], "deep": {"a": [{"b": secret}]}}[shape]
    return value, [secret]


def _containers(doc):
    out = [doc] if isinstance(doc, (dict, list)) else []
    for child in doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else ():
        out.extend(_containers(child))
    return out


def _insert(rnd, doc, name, value):
    if not isinstance(doc, (dict, list)):
        doc = {"root": doc}
    target = rnd.choice(_containers(doc))
    if isinstance(target, dict):
        if name in target or not name:  # never overwrite filler: nest under a fresh name
            fresh = "nest" + "q" * len(target)
            target[fresh] = {name: value} if name else value
        else:
            target[name] = value
    else:
        target.insert(rnd.randint(0, len(target)), {name: value} if name else value)
    return doc


def _strings(doc):
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)


@st.composite
def planted(draw):
    doc = draw(documents)
    rnd = random.Random(draw(st.integers(0, 2**32)))
    fillers = [s for s in _strings(doc) if s]
    forbidden = []
    for _ in range(draw(st.integers(1, 4))):  # under sensitive names
        value, secrets = draw(sensitive_values())
        doc = _insert(rnd, doc, draw(st.sampled_from(SENSITIVE_NAMES)), value)
        forbidden += secrets
    for _ in range(draw(st.integers(1, 5))):  # inside free text
        shown, secrets = draw(free_text_secrets)
        text = (
            draw(filler) + draw(st.sampled_from(SEPARATORS)) + shown + draw(st.sampled_from(SEPARATORS)) + draw(filler)
        )
        doc = _insert(rnd, doc, draw(st.one_of(NAMES, st.just(""))), text)
        forbidden += secrets
    return doc, forbidden, fillers


@SETTINGS
@given(planted())
def test_no_planted_secret_reaches_masked_json(case):
    doc, forbidden, fillers = case
    raw = json.dumps(doc, ensure_ascii=False).encode()
    v = M.mask_payload(raw, limit=None)
    assert v.kind == "json" and v.masked
    for secret in forbidden:
        assert secret not in v.text, secret
    json.loads(v.text)  # still valid JSON
    for text in fillers:  # filler is not over-masked
        assert json.dumps(text, ensure_ascii=False) in v.text


@FEWER
@given(planted())
def test_no_planted_secret_reaches_masked_json_paged(case):
    doc, forbidden, _ = case
    raw = json.dumps(doc).encode()  # ASCII escapes this time
    pages, offset = [], 0
    while offset is not None:
        v = M.mask_payload(raw, limit=97, offset=offset)
        pages.append(v.text)
        offset = v.next_offset
    whole = "".join(pages)
    assert whole == M.mask_payload(raw, limit=None).text
    for secret in forbidden:
        assert secret not in whole


@SETTINGS
@given(st.lists(st.tuples(filler, free_text_secrets, st.sampled_from(SEPARATORS)), min_size=1, max_size=6))
def test_no_planted_secret_reaches_masked_text(items):
    text = "".join(f + sep + shown + sep for f, (shown, _), sep in items)
    v = M.mask_text(text)
    assert v.kind == "text" and v.masked
    for _, (_, secrets), _ in items:
        for secret in secrets:
            assert secret not in v.text, secret
    for f, _, _ in items:
        assert f in v.text
