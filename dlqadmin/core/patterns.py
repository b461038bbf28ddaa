"""User-supplied name patterns (policy queue patterns, masking-rule scopes) on RE2.

Python's `re` backtracks: `re:(a+)+$` against a 29-character queue name took seconds,
and a saved pattern would run in every check round. RE2 matches in linear time, so no
pattern anyone can save can stall a page or a round. Pure Python (no Django).

    compile_regex("(a+)+$")   -> Pattern, full match (raises PatternError)
    compile_glob("payments:*") -> Pattern, fnmatch semantics: * ? [...] [!...]
    pattern.matches(name)      -> bool
"""

from __future__ import annotations

import functools
import re

import re2

__all__ = ["Pattern", "PatternError", "compile_glob", "compile_regex", "GLOB_CHARS"]

GLOB_CHARS = frozenset("*?[")
_SURROGATES = re.compile("[\ud800-\udfff]")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.dot_nl = True  # like fnmatch: '*' and '?' match any character, newlines too
_OPTIONS.max_mem = 8 << 20  # a pattern that needs more is refused, not run


class PatternError(ValueError):
    """The pattern cannot be used; the message says why."""


class Pattern:
    """A compiled full-match pattern over names (str)."""

    __slots__ = ("source", "_rx")

    def __init__(self, source, rx):
        self.source = source
        self._rx = rx

    def matches(self, name: str) -> bool:
        try:
            return self._rx.fullmatch(name) is not None
        except UnicodeEncodeError:  # lone surrogates (a name that was not UTF-8): RE2 needs UTF-8
            return self._rx.fullmatch(_utf8_safe(name)) is not None

    def __repr__(self):
        return f"Pattern({self.source!r})"


def _message(exc: Exception) -> str:
    msg = exc.args[0] if exc.args else str(exc)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    msg = str(msg)
    if "invalid perl operator" in msg or "invalid escape" in msg:
        msg += " (RE2 syntax: no look-around, no back-references)"
    return msg


def _compile(source: str, expression: str) -> Pattern:
    try:
        return Pattern(source, re2.compile(expression, _OPTIONS))
    except re2.error as exc:
        raise PatternError(_message(exc)) from None
    except (TypeError, ValueError, UnicodeError) as exc:
        raise PatternError(str(exc)) from None


@functools.lru_cache(maxsize=512)
def compile_regex(expression: str) -> Pattern:
    """An RE2 regular expression that must match the whole name."""
    return _compile(expression, expression)


def glob_to_re2(glob: str) -> str:
    """fnmatch's glob syntax as an RE2 expression (same meaning as fnmatch.translate)."""
    out = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            if not out or out[-1] != ".*":  # '**' is '*'
                out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:  # no closing ']': a literal '['
                out.append(r"\[")
                continue
            body = glob[i:j]
            i = j + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            # Inside a class only '\', '^' (first) and '[' need care; ranges are kept.
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            if not negate and body.startswith("^"):
                body = "\\" + body
            out.append(f"[{'^' if negate else ''}{body}]")
        else:
            out.append(re2.escape(c))
    return "".join(out)


def _utf8_safe(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text)


try:
    _ANCHOR_START = re2._re2.RE2.Anchor.ANCHOR_START
except AttributeError:  # pragma: no cover - other re2 builds
    _ANCHOR_START = None


class Regex:
    """An RE2 object with ``.match`` (anchored at the start; a bool) and ``.pattern``; text that is not valid UTF-8 (lone surrogates) is matched with
    U+FFFD in their place, since RE2 reads UTF-8."""

    __slots__ = ("pattern", "_rx", "_binding")

    def __init__(self, expression: str):
        self.pattern = expression
        try:
            self._rx = re2.compile(expression, _OPTIONS)
        except re2.error as exc:
            raise PatternError(_message(exc)) from None
        self._binding = getattr(self._rx, "_regexp", None) if _ANCHOR_START is not None else None

    def match(self, text: str) -> bool:
        """Whether the expression matches at the start of ``text``. Called once per
        member name of a payload: the RE2 binding on UTF-8 bytes directly (the
        wrapper's offset bookkeeping costs several times the match itself)."""
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            data = _utf8_safe(text).encode("utf-8")
        if self._binding is None:  # pragma: no cover - other re2 builds
            return self._rx.match(data.decode("utf-8")) is not None
        return self._binding.Match(_ANCHOR_START, data, 0, len(data))[0][0] >= 0


def glob_regex(glob: str) -> Regex:
    """A glob as a Regex anchored at the end (``.match`` is then a full match), for
    callers that combine many globs (``.pattern``) into one with ``union``."""
    return Regex(glob_to_re2(glob) + r"\z")


def union(expressions) -> Regex:
    """One Regex matching any of ``expressions`` (RE2 syntax)."""
    return Regex("|".join(f"(?:{e})" for e in expressions))


@functools.lru_cache(maxsize=512)
def compile_glob(glob: str) -> Pattern:
    """A glob (`*`, `?`, `[...]`, `[!...]`), matching the whole name, case-sensitive."""
    return _compile(glob, glob_to_re2(glob))
