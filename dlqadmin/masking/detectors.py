"""Built-in detectors: find secrets and personal data in free text.

Each detector takes a string and returns a list of hits ``(start, end, replacement,
label)``: replace ``text[start:end]`` by ``replacement``; ``label`` says what it was
(for findings). Replacements keep a useful, non-secret shape, e.g.
``[card ••••1111]``, ``[email •••@example.com]``, ``postgres://app:[password]@db``.

Performance and safety rules for every pattern here (they run on every value shown):

* each detector has an RE2 *prefilter* (see ``BUILTIN``) matching every text it could
  hit; the engine runs all prefilters in one linear RE2 Set pass and calls only the
  detectors whose prefilter matched, so a clean value costs one pass;
* patterns are written so the backtracking ``re`` engine stays linear: no two adjacent
  quantified parts can match the same characters, variable-length runs are anchored
  where they start (a look-behind, or found backwards from a fixed character such as
  '@' or ':' on the reversed text), and long candidates are bounded;
* hits do not cross line breaks, so callers may join several values with ``"\n"`` and
  scan them in one pass; the exceptions (a PEM private-key block, a JSON object after
  a sensitive name) are rare and the engine masks every value such a hit touches.

Validation that a regex cannot express (Luhn for cards, mod-97 for IBANs, a TLD for
e-mail domains) is done in Python on the few candidates.

This module imports nothing from Django.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

Hit = tuple[int, int, str, str]
DOTS = "\u2022\u2022\u2022"  # •••


# --- private keys ------------------------------------------------------------------------

_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|\Z)",
    re.S,
)


def find_private_keys(text: str) -> list[Hit]:
    return [(m.start(), m.end(), "[private key]", "private key") for m in _PEM.finditer(text)]


# --- passwords in URLs / DSNs --------------------------------------------------------------

_SCHEME_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}\Z")
_AUTHORITY = re.compile(r"[^\s/?#\"'<>\\]{1,2048}")
# When a password contains an unescaped '/', '?' or '#' (it happens), the authority
# seems to end early; look further for the '@' up to the next space or quote.
_AUTHORITY_LOOSE = re.compile(r"[^\s\"'<>\\]{1,2048}")
_PORT_ONLY = re.compile(r"[^:]*:\d*\Z")


def find_url_credentials(text: str) -> list[Hit]:
    """``scheme://user:password@host`` → ``scheme://user:[password]@host``."""
    i = text.find("://")
    hits: list[Hit] = []
    while i != -1:
        if i > 0 and _SCHEME_BEFORE.search(text, max(0, i - 32), i):
            start = i + 3
            m = _AUTHORITY.match(text, start)
            if m:
                auth = m.group()
                at = auth.rfind("@")
                if at == -1 and ":" in auth and not _PORT_ONLY.match(auth):
                    m = _AUTHORITY_LOOSE.match(text, start)
                    auth = m.group()
                    at = auth.rfind("@")
                if at > 0:
                    colon = auth.find(":", 0, at)
                    if colon != -1 and colon < at - 1:
                        end = start + len(auth)
                        repl = auth[: colon + 1] + "[password]" + auth[at:]
                        hits.append((start, end, repl, "password"))
                        i = text.find("://", end)
                        continue
        i = text.find("://", i + 3)
    return hits


# --- tokens ------------------------------------------------------------------------------

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")


def find_jwts(text: str) -> list[Hit]:
    return [(m.start(), m.end(), "[jwt]", "jwt") for m in _JWT.finditer(text)]


_AUTH_SCHEME = re.compile(r"(?i)(?<![A-Za-z0-9])(bearer|basic)[ \t]+([A-Za-z0-9._~+/\-]{6,}=*)")
_BASIC_SHAPE = re.compile(r"[A-Z0-9+/=]")


def find_auth_schemes(text: str) -> list[Hit]:
    """``Bearer <token>`` / ``Basic <base64>``: the scheme stays, the credential goes."""
    hits = []
    for m in _AUTH_SCHEME.finditer(text):
        cred = m.group(2)
        if m.group(1).lower() == "basic":
            # "basic authentication required" is English, not a credential.
            if len(cred) < 8 or not _BASIC_SHAPE.search(cred):
                continue
            hits.append((m.start(2), m.end(2), "[credentials]", "credentials"))
        else:
            hits.append((m.start(2), m.end(2), "[token]", "bearer token"))
    return hits


# Well-known key shapes. The prefix is public (it says which provider and whether live
# or test) and is kept; everything after it goes.
_API_KEY = re.compile(
    r"(?:"
    r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"
    r"|whsec_[A-Za-z0-9+/=]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[bpars]-[A-Za-z0-9-]{8,}"
    r"|xapp-[A-Za-z0-9-]{8,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|AIza[A-Za-z0-9_-]{30,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|npm_[A-Za-z0-9]{30,}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
    r"|hf_[A-Za-z0-9]{30,}"
    r"|shp(?:at|ss|ca|pa)_[A-Fa-f0-9]{20,}"
    r"|(?<![A-Za-z0-9])sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
    r")"
)
_API_KEY_PREFIX = re.compile(
    r"(?:sk|pk|rk)_(?:live|test)_|whsec_|gh[pousr]_|github_pat_|xox[bpars]-|xapp-|AKIA|ASIA|AIza"
    r"|glpat-|npm_|SG\.|hf_|shp(?:at|ss|ca|pa)_|sk-(?:proj-|ant-)?"
)


def find_api_keys(text: str) -> list[Hit]:
    hits = []
    for m in _API_KEY.finditer(text):
        prefix = _API_KEY_PREFIX.match(m.group()).group()
        hits.append((m.start(), m.end(), f"[api key {prefix}{DOTS}]", "api key"))
    return hits


# --- key = value pairs in free text ----------------------------------------------------------

# A name followed by ':' or '=' (optionally closing a quote, possibly JSON-escaped):
# password=..., "api_key": "...", Authorization: ..., {\"token\":\"...\"}. Found from
# each separator backwards (on the reversed text), which is far cheaper than trying a
# name pattern at every word: most text has few separators.
KEY_CHARS = r"A-Za-z0-9_.\-"
_KV_SEP = re.compile(r"[:=](?!//)")
# On the reversed text: spaces, an optional (escaped) quote, then the name: its last
# 128 characters at most, starting with a letter ("1password=x" still finds "password").
_REV_KEY = re.compile(r"[ \t]*(?:[\"']\\?)?([A-Za-z0-9_.\-]{0,127}[A-Za-z_])")
_SPACES = re.compile(r"[ \t]*")
_JSON_STRING_BODY = re.compile(r"(?:[^\"\\\r\n]|\\.){0,8192}")
_BARE_VALUE = re.compile(r"[^\s,;&\"'<>\\\]}]{1,4096}")
_ESCAPED_DQ_END = re.compile(r'(?<!\\)(?:\\\\\\\\)*\\"')
_ESCAPED_SQ_END = re.compile(r"(?<!\\)(?:\\\\\\\\)*\\'")
_SCHEME_WORD = re.compile(r"(?i)(?:bearer|basic|digest|token|negotiate|ntlm|apikey)[ \t]+")
_REST_OF_LINE = re.compile(r"[^\r\n]{1,4096}")
_REST_OF_LINE_KEYS = frozenset({"cookie", "setcookie", "authorization", "proxyauthorization"})
# "Key-ish" names whose value is masked when it looks like a generated secret
# (long hex or base64), even though the name itself is not a sensitive key.
WEAK_KEY_ENDINGS = ("key", "auth", "hash", "hmac", "salt", "nonce", "seed", "sig", "digest")
_HEX_SECRET = re.compile(r"[A-Fa-f0-9]{24,}\Z")
_B64_SECRET = re.compile(r"[A-Za-z0-9+/_\-]{32,}={0,2}\Z")
_HAS_DIGIT = re.compile(r"\d")
_HAS_ALPHA = re.compile(r"[A-Za-z]")
_json_decoder = json.JSONDecoder()


def _looks_generated(value: str) -> bool:
    if _HEX_SECRET.match(value):
        return True
    return bool(_B64_SECRET.match(value) and _HAS_DIGIT.search(value) and _HAS_ALPHA.search(value))


def _value_span(text: str, pos: int, norm_key: str) -> tuple[int, int] | None:
    """Where the value starting at ``pos`` is: ``(start, end)``, quotes excluded."""
    c = text[pos : pos + 1]
    if not c or c in "\r\n":
        return None
    if c == "\\" and text[pos + 1 : pos + 2] in ('"', "'"):  # JSON inside a JSON string
        # The closing quote is \" after 4n backslashes (escaped backslashes); \\\" is
        # a quote inside the value.
        m = (_ESCAPED_DQ_END if text[pos + 1] == '"' else _ESCAPED_SQ_END).search(text, pos + 2)
        eol = text.find("\n", pos + 2)
        end = m.end() - 2 if m else -1  # the escaped backslashes belong to the value
        if end == -1 or (eol != -1 and eol < end):
            end = eol if eol != -1 else len(text)
        return (pos + 2, end) if end > pos + 2 else None
    if c == '"':
        end = _JSON_STRING_BODY.match(text, pos + 1).end()
        if text[end : end + 1] != '"':  # unterminated: to the end of the line
            end = (
                _REST_OF_LINE.match(text, pos + 1).end() if text[pos + 1 : pos + 2] not in ("", "\n", "\r") else pos + 1
            )
        return (pos + 1, end) if end > pos + 1 else None
    if c == "'":
        end = text.find("'", pos + 1)
        eol = text.find("\n", pos + 1)
        if end == -1 or (eol != -1 and eol < end):
            end = eol if eol != -1 else len(text)
        return (pos + 1, end) if end > pos + 1 else None
    if c in "{[":
        try:
            _, end = _json_decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            end = _REST_OF_LINE.match(text, pos).end()
        return (pos, end)
    # An auth scheme word ("Bearer", "Basic") is not secret and stays readable.
    scheme = _SCHEME_WORD.match(text, pos)
    start = scheme.end() if scheme else pos
    if norm_key in _REST_OF_LINE_KEYS:  # header-style values run to the end of the line
        m = _REST_OF_LINE.match(text, start)
        return (start, m.end()) if m else None
    m = _BARE_VALUE.match(text, start)
    return (start, m.end()) if m else None


def find_key_values(text: str, key_info: Callable[[str], tuple]) -> list[Hit]:
    """Values of sensitive names in ``name=value`` / ``name: value`` / ``"name": value``.

    ``key_info(name)`` returns ``(label or None, normalised name, ...)``: the masker's
    key rules decide which names are sensitive. Names ending in a key-ish word
    (``..._key``, ``hmac``, ``nonce``...) are masked only when their value looks
    generated (long hex or base64), e.g. ``cache_key=user:42`` stays readable.
    """
    hits = []
    rev = None
    n = len(text)
    last_end = 0
    for m in _KV_SEP.finditer(text):
        p = m.start()
        if p < last_end:
            continue
        if rev is None:
            rev = text[::-1]
        r = _REV_KEY.match(rev, n - p)
        if r is None:
            continue
        info = key_info(r.group(1)[::-1])
        label = info[0]
        norm = info[1]
        if label is None and not norm.endswith(WEAK_KEY_ENDINGS):
            continue
        span = _value_span(text, _SPACES.match(text, m.end()).end(), norm)
        if span is None:
            continue
        start, end = span
        if label is None:
            if not _looks_generated(text[start:end]):
                continue
            label = "secret"
        hits.append((start, end, f"[{label}]", label))
        last_end = end
    return hits


# --- payment cards -------------------------------------------------------------------------

# Candidate regions: runs of digits, spaces and dashes at least 13 long (a plain first
# character class lets the regex engine skip quickly). Within a region, groups of digits
# separated by single spaces/dashes are combined into 13-19 digit candidates.
_DIGIT_REGION = re.compile(r"[0-9][0-9 \-]{11,}[0-9]")
_GROUP = re.compile(r"[0-9]+")
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a string of ASCII digits."""
    total = sum(map(int, digits[-1::-2]))
    total += sum(_LUHN_DOUBLE[int(d)] for d in digits[-2::-2])
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """13-19 digits, Luhn-valid, and not one of the obvious non-cards.

    Card numbers never start with 0; a 13-digit number starting with 1 is a
    millisecond Unix time, far more common in payloads than a 13-digit card.
    """
    n = len(digits)
    if n < 13 or n > 19 or digits[0] == "0":
        return False
    if n == 13 and digits[0] == "1":
        return False
    return luhn_ok(digits)


def card_replacement(digits: str) -> str:
    return f"[card \u2022\u2022\u2022\u2022{digits[-4:]}]"


def _cards_in_run(groups: list, hits: list) -> None:
    """Longest Luhn-valid 13-19 digit spans of whole groups, left to right, so
    "qty 2 4111 1111 1111 1111" still finds the card after the "2"."""
    i, n = 0, len(groups)
    while i < n:
        best = None
        total = 0
        digits = ""
        for j in range(i, n):
            total += len(groups[j][2])
            if total > 19:
                break
            digits += groups[j][2]
            if total >= 13 and is_card_number(digits):
                best = (j, digits)
        if best is None:
            i += 1
            continue
        j, digits = best
        hits.append((groups[i][0], groups[j][1], card_replacement(digits), "card"))
        i = j + 1


def find_cards(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for region in _DIGIT_REGION.finditer(text):
        # Runs of groups joined by exactly one separator; a digit right before the
        # region is impossible (the region would have started there).
        run: list = []
        prev_end = -2
        for g in _GROUP.finditer(text, region.start(), region.end()):
            if g.start() != prev_end + 1 and run:
                if sum(len(x[2]) for x in run) >= 13:
                    _cards_in_run(run, hits)
                run = []
            run.append((g.start(), g.end(), g.group()))
            prev_end = g.end()
        if run and sum(len(x[2]) for x in run) >= 13:
            _cards_in_run(run, hits)
    return hits


# --- IBAN ----------------------------------------------------------------------------------

_IBAN = re.compile(r"[A-Z][A-Z][0-9][0-9](?: ?[A-Z0-9]){11,32}")
# Lengths by country (ISO 13616 registry); unknown countries try every length.
_IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}


def iban_ok(compact: str) -> bool:
    """ISO 7064 mod-97 check of an IBAN without spaces."""
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
    except ValueError:
        return False


def find_ibans(text: str) -> list[Hit]:
    hits = []
    for m in _IBAN.finditer(text):
        if m.start() and text[m.start() - 1].isascii() and text[m.start() - 1].isalnum():
            continue  # inside a longer word
        s = m.group()
        # Positions of the alphanumerics, so a valid prefix maps back to a span.
        pos = [k for k, ch in enumerate(s) if ch != " "]
        compact = s.replace(" ", "")
        known = _IBAN_LENGTHS.get(compact[:2])
        lengths = [known] if known else []
        lengths += [n for n in range(min(34, len(compact)), 14, -1) if n != known]
        for n in lengths:
            if n <= len(compact) and iban_ok(compact[:n]):
                end = m.start() + pos[n - 1] + 1
                hits.append(
                    (m.start(), end, f"[iban {compact[:2]}\u2022\u2022\u2022\u2022{compact[n - 4 : n]}]", "iban")
                )
                break
    return hits


# --- e-mail ----------------------------------------------------------------------------------

# Local part: any run of characters that are not delimiters, so Unicode letters and
# combining marks are covered; the domain: letters, digits, marks and '-' between dots.
# Found from each '@': the local part backwards (on the reversed text), the domain
# forwards. ('/', '=', '?' and quotes are legal in local parts but so rare there, and so
# common around addresses in URLs and quoted text, that they delimit here.)
_EMAIL_DELIMS = r"\s@<>()\[\]{},;:\"'`/\\=?|"
_REV_LOCAL = re.compile(rf"[^{_EMAIL_DELIMS}]+")
_DOMAIN_CHARS = r"\w\-\u0300-\u036f\u200c\u200d"
_DOMAIN = re.compile(rf"[{_DOMAIN_CHARS}]+(?:\.[{_DOMAIN_CHARS}]+)+")
_HAS_LETTER = re.compile(r"[^\W\d_]")


def find_emails(text: str) -> list[Hit]:
    at = text.find("@")
    if at == -1:
        return []
    hits = []
    rev = text[::-1]
    n = len(text)
    while at != -1:
        local = _REV_LOCAL.match(rev, n - at) if at else None
        if local and text.startswith("://", at - local.end() + local.start() - 3):
            local = None  # the user name of a URL ("https://user@host"), not an address
        dom = _DOMAIN.match(text, at + 1) if local else None
        if dom:
            labels = dom.group().split(".")
            # Trailing labels without a letter are not a TLD ("root@10.0.0.1" is no address).
            while len(labels) >= 2 and not _HAS_LETTER.search(labels[-1]):
                labels.pop()
            if len(labels) >= 2 and labels[0]:
                domain = ".".join(labels)
                end = at + 1 + len(domain)
                hits.append((at - (local.end() - local.start()), end, f"[email {DOTS}@{domain}]", "email"))
                at = text.find("@", end)
                continue
        at = text.find("@", at + 1)
    return hits


# --- phone numbers ---------------------------------------------------------------------------

# E.164-ish: a '+', a non-zero country digit, then 6-14 more digits with common separators.
_PHONE = re.compile(r"\+(?<![\w+]\+)[1-9](?:[ .\-]?\(?[0-9]\)?){6,14}(?![0-9])")


def find_phones(text: str) -> list[Hit]:
    hits = []
    for m in _PHONE.finditer(text):
        digits = [ch for ch in m.group() if ch.isdigit()]
        hits.append((m.start(), m.end(), f"[phone {DOTS}{''.join(digits[-2:])}]", "phone"))
    return hits


# --- registry ----------------------------------------------------------------------------------

# (label, RE2 prefilter, finder) in priority order: when hits overlap, the earlier
# detector's replacement wins. Each prefilter matches every text its finder could hit
# (a superset), so one RE2 Set pass over the text tells which finders to run; most text
# needs none or one. RE2 syntax: no look-around; \w is ASCII there, so Unicode-aware
# parts use \pL/\pN.
BUILTIN = (
    ("private key", r"PRIVATE KEY-----", find_private_keys),
    ("password", r"[A-Za-z0-9+.\-]://[^\s\"'<>\\]*@", find_url_credentials),
    ("jwt", r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.", find_jwts),
    (
        "api key",
        r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8}|whsec_|gh[pousr]_[A-Za-z0-9]{20}|github_pat_|xox[bpars]-"
        r"|xapp-|(?:AKIA|ASIA)[A-Z0-9]{16}|AIza[A-Za-z0-9_-]{30}|glpat-|npm_[A-Za-z0-9]{30}|SG\.|hf_[A-Za-z0-9]{30}"
        r"|shp(?:at|ss|ca|pa)_|sk-[A-Za-z0-9_-]{20}",
        find_api_keys,
    ),
    # key=value pairs: the prefilter depends on the key rules, see key_value_prefilter().
    ("key value", None, find_key_values),
    ("credentials", r"(?i)(?:bearer|basic)[ \t]+[A-Za-z0-9._~+/\-]{6}", find_auth_schemes),
    ("card", r"[0-9](?:[ \-]?[0-9]){12}", find_cards),
    ("iban", r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11}", find_ibans),
    (
        "email",
        r"[^\s@<>()\[\]{},;:\"'`/\\=?|]@[\pL\pN\pM_\-\x{200c}\x{200d}]+\.[\pL\pN\pM_\-\x{200c}\x{200d}]",
        find_emails,
    ),
    ("phone", r"\+[1-9](?:[ .\-]?\(?[0-9]\)?){6}", find_phones),
)

_SEP_RUN = r"[_.\-]*"


def _glob_prefilter(norm_glob: str) -> str:
    """RE2 text matching every spelling of a (normalised) key glob inside free text:
    separators may appear between any two characters, ``*`` is any run of name
    characters, ``?`` and ``[...]`` one name character."""
    out = []
    i, n = 0, len(norm_glob)
    while i < n:
        c = norm_glob[i]
        if c == "*":
            out.append(f"[{KEY_CHARS}]*")
        elif c == "?":
            out.append(f"[A-Za-z0-9]{_SEP_RUN}")
        elif c == "[":
            j = norm_glob.find("]", i + 2 if norm_glob[i + 1 : i + 2] in ("!", "]") else i + 1)
            out.append(f"[A-Za-z0-9]{_SEP_RUN}")
            i = j if j != -1 else n
        else:
            out.append(re.escape(c) + _SEP_RUN)
        i += 1
    return "".join(out)


def key_value_prefilter(norm_globs) -> str:
    """RE2 prefilter for find_key_values: a sensitive (or key-ish) name, then an
    optional closing quote, then ':' or '='."""
    names = [_glob_prefilter(g) for g in norm_globs]
    names += [_glob_prefilter(w) for w in WEAK_KEY_ENDINGS]
    return rf"(?i)(?:{'|'.join(names)}){_SEP_RUN}(?:\\?[\"'])?[ \t]*[:=]"
