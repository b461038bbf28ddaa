"""Masking rules: what an operator can add on top of the built-in detectors.

A :class:`Rule` is a plain, frozen, hashable value (so a compiled ``Masker`` can be
cached per rule set). It is validated when it is made: an invalid rule raises
:class:`RuleError` with a message fit to show next to the form field, so a bad rule is
rejected when it is saved, never discovered while a page renders.

Three kinds:

``key``
    A glob (``*``, ``?``, ``[...]``) on JSON member names. Names are compared after
    *normalisation*: lower-cased, with ``_``, ``-``, ``.`` and spaces removed, so
    ``api_key`` also matches ``apiKey``, ``API-KEY`` and ``Api.Key``. Over-matching
    is the safe failure of a masking tool; a rule that hides too much is visible and
    easy to narrow, a rule that misses a spelling leaks silently. The value of a
    matching member is masked whatever its type (objects and arrays entirely). Key
    rules also apply to ``key=value`` / ``key: value`` / ``"key": value`` pairs found
    in free text.
``path``
    A JSONPath subset: ``$``, ``.name``, ``['name']``, ``[n]``, ``[*]``, ``.*`` and
    ``..name`` (any depth). Names compare like keys (normalised, globs allowed), e.g.
    ``$.customer.email``, ``$.items[*].sku``, ``$..iban``.
``regex``
    A detector for free text and every string value, in RE2 syntax (Google's
    linear-time engine: no look-around, no back-references, and no catastrophic
    backtracking, so a rule cannot hang the server). Each match is replaced by
    ``[label]``; if the pattern has a capturing group, only group 1 is replaced, so
    ``order_note=(\\w+)`` keeps ``order_note=`` readable. ``^``/``$`` match at the
    start/end of each string value (and of each line in it). Patterns that can match
    empty text are rejected.

This module imports nothing from Django.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import re2

from dlqadmin.core.patterns import PatternError, glob_regex

KINDS = ("key", "path", "regex")
MAX_PATTERN_LENGTH = 500
MAX_LABEL_LENGTH = 40
DEFAULT_LABEL = "redacted"

# Labels end up inside "[...]" in masked output and in audit/finding lists: keep them
# short, printable and free of brackets so they can never look like data.
_LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.:/@#+-]*\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# RE2 with a bounded program size; errors are reported through RuleError, not logged.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 8 << 20
# A few strings a rule is tried on to catch patterns that match empty text anywhere.
_EMPTY_PROBES = ("", "a", " ", "a b\n1-2", "\n")

_NAME_SEPARATORS = str.maketrans("", "", "_-. ")


class RuleError(ValueError):
    """An invalid rule. ``field`` names what is wrong: kind, pattern or label."""

    def __init__(self, message: str, field: str = "pattern"):
        super().__init__(message)
        self.message = message
        self.field = field


def normalize_name(name: str) -> str:
    """The form member names (and key/path globs) are compared in."""
    return name.lower().translate(_NAME_SEPARATORS)


@dataclass(frozen=True, slots=True)
class Rule:
    """One masking rule; see the module docstring for the three kinds."""

    kind: str
    pattern: str
    label: str = DEFAULT_LABEL

    def __post_init__(self):
        if self.kind not in KINDS:
            raise RuleError(f"Unknown rule kind {self.kind!r}: use one of {', '.join(KINDS)}.", "kind")
        if not isinstance(self.pattern, str) or not isinstance(self.label, str):
            raise RuleError("Pattern and label must be text.")
        label = self.label.strip() or DEFAULT_LABEL
        object.__setattr__(self, "label", label)
        if len(label) > MAX_LABEL_LENGTH or not _LABEL_RE.match(label):
            raise RuleError(
                f"Label must be 1-{MAX_LABEL_LENGTH} characters: letters, digits, spaces and _ . : / @ # + -",
                "label",
            )
        if self.kind != "regex":  # whitespace around a regex may be meaningful
            object.__setattr__(self, "pattern", self.pattern.strip())
        if not self.pattern:
            raise RuleError("Pattern is empty.")
        if len(self.pattern) > MAX_PATTERN_LENGTH:
            raise RuleError(f"Pattern is longer than {MAX_PATTERN_LENGTH} characters.")
        if _CONTROL_RE.search(self.pattern) and self.kind != "regex":
            raise RuleError("Pattern contains control characters.")
        if self.kind == "key":
            compile_name_glob(self.pattern)
        elif self.kind == "path":
            compile_path(self.pattern)
        else:
            compile_regex(self.pattern)


# --- key globs ------------------------------------------------------------------------


def _normalize_glob(pattern: str) -> str:
    """Lower-case a glob and drop name separators outside ``[...]`` classes."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if j == -1:
                raise RuleError("Unclosed '[' in glob.")
            out.append(pattern[i : j + 1].lower())
            i = j + 1
            continue
        if c not in "_-. ":
            out.append(c.lower())
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def compile_name_glob(pattern: str) -> tuple[str | None, re.Pattern | None]:
    """Compile a key glob. Returns ``(literal, None)`` for a glob without wildcards
    (compared by equality, the fast common case) or ``(None, regex)``.

    The regex is RE2 (``dlqadmin.core.patterns``), like every user-supplied pattern, so
    matching is linear in the name's length even for globs like ``*a*a*a*b``.
    """
    norm = _normalize_glob(pattern)
    if not norm:
        raise RuleError("Glob is empty once separators (_ - . and spaces) are ignored.")
    if not any(ch in norm for ch in "*?["):
        return norm, None
    try:
        return None, glob_regex(norm)
    except PatternError as exc:
        raise RuleError(f"Invalid glob: {exc}.") from None


# --- JSON paths -------------------------------------------------------------------------

# Segments of a compiled path (tuples, so compiled paths are hashable and cheap):
#   ("name", literal, regex|None)  a member name (normalised; regex when it is a glob)
#   ("index", n)                   an array element
#   ("any",)                       any member or element ([*] and .*)
#   ("desc",)                      any number (zero or more) of levels: the ".." operator
_PATH_NAME = re.compile(r"[^.\[\]\s]+")
_PATH_INDEX = re.compile(r"\[\s*(-?\d+|\*)\s*\]")
_PATH_QUOTED = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")


def _name_segment(name: str):
    literal, regex = compile_name_glob(name)
    if name.strip() == "*":
        return ("any",)
    return ("name", literal, regex)


@functools.lru_cache(maxsize=1024)
def compile_path(pattern: str) -> tuple:
    """Parse a JSONPath subset into segments; RuleError with the position on error."""
    p = pattern.strip()
    if not p.startswith("$"):
        raise RuleError("A JSON path starts with '$', e.g. $.customer.email or $.items[*].sku")
    i, n = 1, len(p)
    segs: list[tuple] = []
    while i < n:
        if p.startswith("..", i):
            i += 2
            segs.append(("desc",))
            if i < n and p[i] == "[":
                continue
            m = _PATH_NAME.match(p, i)
            if not m:
                raise RuleError(f"Expected a name after '..' at position {i}.")
            segs.append(_name_segment(m.group()))
            i = m.end()
        elif p[i] == ".":
            m = _PATH_NAME.match(p, i + 1)
            if not m:
                raise RuleError(f"Expected a name after '.' at position {i}.")
            segs.append(_name_segment(m.group()))
            i = m.end()
        elif p[i] == "[":
            m = _PATH_INDEX.match(p, i)
            if m:
                segs.append(("any",) if m.group(1) == "*" else ("index", int(m.group(1))))
                i = m.end()
                continue
            m = _PATH_QUOTED.match(p, i)
            if not m:
                raise RuleError(f"Expected [n], [*] or ['name'] at position {i}.")
            raw = m.group(1) if m.group(1) is not None else m.group(2)
            name = re.sub(r"\\(.)", r"\1", raw)
            if not normalize_name(name):
                raise RuleError(f"Empty name at position {i}.")
            literal = normalize_name(name)
            segs.append(("name", literal, None))
            i = m.end()
        else:
            raise RuleError(f"Unexpected {p[i]!r} at position {i}.")
    if segs and segs[-1] == ("desc",):
        raise RuleError("A path cannot end with '..'.")
    return tuple(segs)


# --- regex detectors -------------------------------------------------------------------


def _re2_message(exc: Exception) -> str:
    msg = exc.args[0] if exc.args else str(exc)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return str(msg)


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str):
    """Compile an RE2 pattern; RuleError with a readable reason if it is unusable.

    The compiled form is multi-line (``(?m)``): values are scanned joined by newlines,
    and ``^``/``$`` should mean the start/end of a value (or of a line in one).
    """
    try:
        re2.compile(pattern, _RE2_OPTIONS)  # errors are reported on the rule as written
        compiled = re2.compile("(?m)" + pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = _re2_message(exc)
        hint = ""
        if "invalid perl operator" in reason or "invalid escape" in reason:
            hint = " (RE2 syntax: no look-around, no back-references)"
        raise RuleError(f"Invalid regular expression: {reason}{hint}.") from None
    except (TypeError, ValueError, UnicodeError) as exc:
        raise RuleError(f"Invalid regular expression: {exc}.") from None
    for probe in _EMPTY_PROBES:
        for m in compiled.finditer(probe):
            if m.end() == m.start():
                raise RuleError("Pattern can match empty text; it must match at least one character.")
    return compiled


# --- the built-in rule set ---------------------------------------------------------------

# Member names whose values are masked by default (compared normalised, see above, so
# "card_number" also covers cardNumber and card-number). Detectors (e-mail, cards, JWTs,
# DSN passwords...) run on every other string, so e-mail fields are deliberately not
# here: the detector keeps the domain, which helps triage.
_DEFAULT_KEYS = (
    # credentials and secrets
    ("*passw*", "password"), ("pwd", "password"), ("*_pwd", "password"), ("pass", "password"),
    ("passphrase", "password"),
    ("*secret*", "secret"), ("salt", "secret"), ("*signing_key*", "secret"),
    ("*encryption_key*", "secret"), ("*master_key*", "secret"),
    ("*token*", "token"), ("jwt", "jwt"), ("*_jwt", "jwt"),
    ("*api_key*", "api key"), ("*access_key*", "api key"),
    ("*private_key*", "private key"),
    ("*credential*", "credentials"), ("auth", "credentials"), ("authorization", "credentials"),
    ("proxy-authorization", "credentials"),
    ("*cookie*", "cookie"),
    ("session", "session"), ("*session_id*", "session"), ("*session_key*", "session"), ("sid", "session"),
    ("sig", "signature"), ("*signature*", "signature"),
    ("otp", "otp"), ("totp", "otp"), ("otp_code", "otp"), ("mfa_code", "otp"),
    ("*verification_code*", "otp"), ("pin", "pin"), ("pin_code", "pin"), ("card_pin", "pin"),
    # payment
    ("*card_number*", "card"), ("card_no", "card"), ("cc_number", "card"), ("ccnum", "card"),
    ("pan", "card"), ("primary_account_number", "card"),
    ("*cvv*", "cvv"), ("*cvc*", "cvv"), ("*security_code*", "cvv"),
    ("iban", "iban"), ("*_iban", "iban"), ("*account_number*", "account"),
    ("routing_number", "account"), ("sort_code", "account"), ("*bank_account*", "account"),
    # identity
    ("ssn", "ssn"), ("*_ssn", "ssn"), ("social_security*", "ssn"), ("national_id*", "id number"),
    ("tax_id", "id number"), ("*passport*", "id number"), ("drivers_licen*", "id number"),
    ("dob", "birth date"), ("date_of_birth", "birth date"), ("birth_date", "birth date"),
    # contact
    ("phone", "phone"), ("*_phone", "phone"), ("*phone_number*", "phone"), ("mobile", "phone"),
    ("mobile_number", "phone"), ("msisdn", "phone"), ("telephone", "phone"),
)  # fmt: skip

DEFAULT_RULES: tuple[Rule, ...] = tuple(Rule("key", pattern, label) for pattern, label in _DEFAULT_KEYS)
