"""The masking engine: task payloads, error messages, headers and results → safe text.

Pure Python, no I/O and no Django: rules come in as plain :class:`Rule` values (the
Django side builds them from the database, see ``selectors.py``), so the engine can be
tested and benchmarked on its own.

API::

    from dlqadmin.masking.engine import Masker, Rule, MaskedValue, Finding, DEFAULT_RULES, RuleError

    masker = Masker(extra_rules=[Rule("key", "order_note", "note")])   # compiled once
    masker.mask_payload(raw_bytes, limit=65536, offset=0) -> MaskedValue | None
    masker.mask_result(raw_bytes, limit=65536, offset=0)  -> MaskedValue | None
    masker.mask_text(error_message, limit=65536, offset=0) -> MaskedValue | None
    masker.mask_headers({"authorization": "..."})         -> MaskedValue | None
    Masker.for_rules(rules)   # the same, cached per rule set (rules are hashable)

``None`` in gives ``None`` out. A ``Masker`` is immutable after construction apart from
an internal cache of member-name decisions, so one instance is safely shared between
threads and requests.

:class:`MaskedValue`:

``kind``
    ``"json"`` (payload parsed as JSON: structure-aware masking, pretty-printed with a
    two-space indent), ``"text"`` (detectors only) or ``"binary"`` (invalid UTF-8 or
    NUL bytes: a bounded hex dump, never decoded to text).
``text``
    Masked, display-ready text. It is *not* HTML-escaped: templates escape it. JSON
    strings keep their JSON escapes (``\\u0000``), and characters that could hide or
    reorder what is shown (C1 controls, bidi overrides, lone surrogates) are escaped in
    every kind.
``size``
    Size of the raw value in bytes.
``truncated`` / ``next_offset`` / ``offset``
    Output is paged: ``limit`` characters (default 64 KiB) starting at ``offset``.
    ``truncated`` is true when ``text`` is not the whole masked value; ``next_offset``
    is the ``offset`` to ask for the next page (``None`` on the last page). For
    json/text, offsets count characters of the *masked* output: masking always runs
    before the cut, so no page boundary can split a secret and show part of it. For
    binary they count raw bytes. Pass ``limit=None`` for no limit.
``findings``
    What was masked: ``Finding(path, label)``; ``path`` is a JSONPath for JSON
    (``$.card.card_number``) and ``None`` for text and binary.
``masked``
    True if anything was masked.

What gets masked:

* JSON members whose name matches a key rule (``DEFAULT_RULES`` plus extra ones) or
  whose location matches a path rule: the value, whatever its type, becomes
  ``"[label]"`` (``null`` stays ``null``: it carries nothing).
* In every string (and member name) and in free text, the built-in detectors of
  ``detectors.py`` — private keys, passwords in URLs/DSNs, JWTs, API keys, sensitive
  ``key=value`` pairs, bearer/basic credentials, card numbers (Luhn), IBANs (mod 97),
  e-mail addresses, phone numbers — and the extra ``regex`` rules. JSON numbers that
  are valid card numbers are masked too.

Bounds, so no payload or rule can make a page slow: JSON above ``MAX_JSON_BYTES`` is
treated as text (the detectors, including ``"key": value`` pairs, still apply); text
above ``FULL_SCAN_CHARS`` is masked in chunks cut at line breaks and only as far as the
requested page; binary is scanned only around the requested window; JSON nesting
deeper than ``MAX_DEPTH`` is replaced by ``"[nested too deep]"``. Built-in patterns are
linear-time by construction and extra regex rules run on RE2.

Speed (a DLQ page masks up to 100 payloads per request; see bench/bench_masking.py):
every detector has an RE2 prefilter and all of them run as one RE2 Set pass, so a clean
value costs a single linear scan; the strings of a JSON document are scanned together,
joined by newlines; names already known to be harmless skip the rule lookups; JSON is
parsed and pretty-printed by orjson when it is installed (optional: the stdlib path
gives the same text, slower). Masking is a pure function of the rule set, the value and
the window, so results for values up to ``MEMO_VALUE_BYTES`` are kept in a memo shared
by every Masker (``MEMO_BYTES`` in all, least recently used out first): the same dead
tasks shown again (a page reloaded, polled, paged back to, or seen through the API) are
masked once per process. A Masker's memo entries are keyed by a token of that Masker, so
a changed rule set (a new Masker) never sees another's results.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import OrderedDict
from bisect import bisect_right, insort
from itertools import accumulate
from json.encoder import encode_basestring as _encode_basestring
from typing import NamedTuple

import re2

from dlqadmin.core import patterns

from . import detectors as _d
from .rules import (
    DEFAULT_RULES,
    Rule,
    RuleError,
    _normalize_glob,
    compile_name_glob,
    compile_path,
    compile_regex,
    normalize_name,
)

try:  # the C encoder renders whole leaf containers; json.JSONEncoder is the fallback
    from json.encoder import c_make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

try:
    # Optional accelerator: parses ~2.5x faster than json and pretty-prints in C (the
    # stdlib path below renders the same text ~7x slower). Everything it cannot do
    # exactly like json (NaN, ints wider than 64 bits, lone surrogates) falls back.
    import orjson as _orjson

    _ORJSON_INDENT = _orjson.OPT_INDENT_2
except ImportError:  # pragma: no cover - exercised when orjson is not installed
    _orjson = None

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_RULES",
    "Finding",
    "MaskedValue",
    "Masker",
    "Rule",
    "RuleError",
    "default_masker",
]

DEFAULT_LIMIT = 64 * 1024
MAX_JSON_BYTES = 8 * 1024 * 1024
FULL_SCAN_CHARS = 1024 * 1024
CHUNK_CHARS = 256 * 1024
CHUNK_MARGIN = 16 * 1024
BINARY_SCAN_MARGIN = 4 * 1024
MAX_DEPTH = 200
MAX_FINDINGS = 1000
MEMO_BYTES = 4 * 1024 * 1024
MEMO_VALUE_BYTES = 16 * 1024
_KEY_CACHE_SIZE = 4096
_STEP_CACHE_SIZE = 4096


class Finding(NamedTuple):
    """One masked thing: where (JSONPath, or None for text/binary) and what (label)."""

    path: str | None
    label: str


class MaskedValue(NamedTuple):
    """A masked value ready for a template; see the module docstring.

    An immutable named tuple: cheap to build (a page builds hundreds of them).
    """

    kind: str
    text: str
    size: int
    truncated: bool = False
    next_offset: int | None = None
    findings: list[Finding] = []  # never mutated: the engine always passes its own list
    masked: bool = False
    offset: int = 0


# --- output escaping ------------------------------------------------------------------------

# Characters that can hide or reorder displayed text (bidi controls, C1 controls, BOM,
# line/paragraph separators) or cannot be encoded at all (lone surrogates).
_INVISIBLE = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff"
_JSON_UNSAFE = re.compile(f"[{_INVISIBLE}]")
# Text mode also escapes C0 controls other than tab, newline and carriage return.
_TEXT_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE}]")


def _u_escape(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def _json_escape(m: re.Match) -> str:
    return f"\\u{ord(m.group()):04x}"


def _json_str(s: str) -> str:
    """A JSON string literal, non-ASCII kept readable, dangerous characters escaped."""
    e = _encode_basestring(s)
    if not e.isascii():
        e = _JSON_UNSAFE.sub(_json_escape, e)
    return e


def _escape_text(s: str) -> str:
    return _TEXT_UNSAFE.sub(_u_escape, s)


_INDENTS = ["\n" + "  " * i for i in range(MAX_DEPTH + 2)]
_ITEM_SEPARATORS = ["," + ind for ind in _INDENTS[1:]]  # between members of a depth-d container
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,12}\Z")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NOT_JSON = object()
_FIRST_NON_SPACE = re.compile(r"\S")


def _apply(text: str, hits) -> str:
    """Replace non-overlapping, sorted hits in ``text``."""
    parts = []
    pos = 0
    for s, e, repl, _ in hits:
        parts.append(text[pos:s])
        parts.append(repl)
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def _resolve(batches: list[list]) -> list:
    """Merge hit lists given in priority order into sorted, non-overlapping hits.

    A hit inside an accepted one is dropped; a hit that only partly overlaps keeps its
    uncovered parts, each replaced by ``[label]``, so a lower-priority detector can
    never leave the rest of its secret visible.
    """
    if len(batches) == 1:
        return batches[0]
    accepted: list = []
    for batch in batches:
        for h in batch:
            s, e = h[0], h[1]
            overlaps = [a for a in accepted if a[0] < e and s < a[1]]
            if not overlaps:
                insort(accepted, h)
                continue
            cur = s
            for a in overlaps:  # accepted is sorted, so overlaps are too
                if a[0] > cur:
                    insort(accepted, (cur, a[0], f"[{h[3]}]", h[3]))
                cur = max(cur, a[1])
            if cur < e:
                insort(accepted, (cur, e, f"[{h[3]}]", h[3]))
    return accepted


def _page(full: str, limit: int | None, offset: int) -> tuple[str, bool, int | None]:
    if limit is None:
        text = full[offset:]
        return text, offset > 0, None
    end = offset + limit
    more = len(full) > end
    return full[offset:end], more or offset > 0, (end if more else None)


def _check_window(limit, offset) -> tuple[int | None, int]:
    if limit is not None:
        limit = int(limit)
        if limit < 1:
            raise ValueError("limit must be at least 1 (or None for no limit)")
    offset = int(offset or 0)
    if offset < 0:
        raise ValueError("offset cannot be negative")
    return limit, offset


class _Memo:
    """Recently masked values, bounded by an estimate of their size in bytes (LRU).

    Shared by threads: every access holds the lock (each is a few dict operations)."""

    _OVERHEAD = 400  # the key tuple, the MaskedValue, its findings: roughly, per entry

    def __init__(self, budget):
        self.budget = budget
        self._data: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            self._data.move_to_end(key)
            return entry[0]

    def put(self, key, value, cost):
        cost += len(value.text) * 2 + self._OVERHEAD
        with self._lock:
            if key in self._data or cost > self.budget:
                return
            self._data[key] = (value, cost)
            self._bytes += cost
            while self._bytes > self.budget:
                _, (_, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    def clear(self):
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self):
        return len(self._data)


_memo = _Memo(MEMO_BYTES)


def _memoized(method):
    """Memoize a public mask_* method for values up to MEMO_VALUE_BYTES (``None`` and
    invalid windows go straight through). ``key_of(value)`` is hashable and exact."""

    name = method.__name__

    def key_of(value):
        if isinstance(value, dict):
            return tuple(sorted((str(k), str(v)) for k, v in value.items()))
        return value

    @functools.wraps(method)
    def wrapper(self, value, *, limit=DEFAULT_LIMIT, offset=0):
        if value is None or not isinstance(value, (bytes, str, dict)):
            return method(self, value, limit=limit, offset=offset)
        raw = key_of(value)
        cost = len(value) if not isinstance(value, dict) else sum(len(k) + len(v) for k, v in raw)
        if cost > MEMO_VALUE_BYTES:
            return method(self, value, limit=limit, offset=offset)
        key = (self._memo_token, name, type(value), raw, limit, offset)
        found = _memo.get(key)
        if found is None:
            found = method(self, value, limit=limit, offset=offset)
            if found is not None:
                _memo.put(key, found, cost)
        return found

    return wrapper


class Masker:
    """Compiled masking rules; see the module docstring."""

    def __init__(self, extra_rules=(), *, defaults=DEFAULT_RULES):
        extra = tuple(extra_rules)
        defaults = tuple(defaults)
        for rule in extra + defaults:
            if not isinstance(rule, Rule):
                raise TypeError(f"expected Rule, got {type(rule).__name__}")
        self.rules = extra + defaults
        # Key rules in two tiers so an operator's rule wins over a built-in one; within
        # a tier exact names are looked up before globs are tried.
        self._key_tiers = []
        for tier in (extra, defaults):
            exact: dict[str, str] = {}
            globs = []
            for rule in tier:
                if rule.kind != "key":
                    continue
                literal, regex = compile_name_glob(rule.pattern)
                if literal is not None:
                    exact.setdefault(literal, rule.label)
                else:
                    globs.append((regex, rule.label))
            any_glob = patterns.union(rx.pattern for rx, _ in globs) if globs else None
            self._key_tiers.append((exact, globs, any_glob))
        self._paths = tuple((compile_path(r.pattern), r.label) for r in self.rules if r.kind == "path")
        self._regexes = tuple(
            (compile_regex(r.pattern), r.label, f"[{r.label}]") for r in self.rules if r.kind == "regex"
        )
        self._key_cache: dict[str, tuple] = {}
        # Names this Masker's entries in the shared memo; an object, never reused while
        # the memo holds it (an id() could be, after this Masker is gone).
        self._memo_token = object()
        # Member names seen that no rule matches and that cannot hold data themselves:
        # an object whose names are all in here needs no per-name work. Grown only
        # between documents (a set must not change while another thread iterates it,
        # so it is replaced, never mutated).
        self._safe_keys: frozenset[str] = frozenset()
        self._safe_keys_source = 0
        self._step_cache: dict = {}
        self._path_cache: dict = {}
        self._unsafe_names = False
        self._root_states = self._closure({(i, 0) for i in range(len(self._paths))}) if self._paths else None
        self._build_prefilter()

    def _build_prefilter(self):
        """One RE2 Set over every detector's prefilter (and every regex rule), in
        priority order: a single linear pass tells which detectors can hit a text."""
        finders = []
        patterns = []
        for regex, label, repl in self._regexes:
            patterns.append(regex.pattern)
            finders.append(functools.partial(_regex_hits, regex, label=label, repl=repl))
        key_globs = [_normalize_glob(r.pattern) for r in self.rules if r.kind == "key"]
        for _, prefilter, finder in _d.BUILTIN:
            if finder is _d.find_key_values:
                prefilter = _d.key_value_prefilter(key_globs)
                finder = functools.partial(_d.find_key_values, key_info=self._key_info)
            patterns.append(prefilter)
            finders.append(finder)
        options = re2.Options()
        options.log_errors = False
        options.max_mem = 64 << 20
        prefilter_set = re2.Set.SearchSet(options)
        for pattern in patterns:
            prefilter_set.Add(pattern)
        prefilter_set.Compile()
        self._prefilter = prefilter_set
        # The binding under re2.Set.Match (which only adds a str check): called for
        # every value shown, so the wrapper's frame is worth skipping.
        binding = getattr(prefilter_set, "_set", None)
        self._prefilter_match = binding.Match if binding is not None else prefilter_set.Match
        self._finders = tuple(finders)

    @classmethod
    def for_rules(cls, extra_rules=()) -> "Masker":
        """A shared, cached Masker for this rule set (defaults + ``extra_rules``)."""
        return _cached_masker(tuple(extra_rules))

    # --- public API ----------------------------------------------------------------------

    @_memoized
    def mask_payload(
        self, raw: bytes | None, *, limit: int | None = DEFAULT_LIMIT, offset: int = 0
    ) -> MaskedValue | None:
        """A task payload (or result): JSON, text or binary, masked and paged."""
        if raw is None:
            return None
        limit, offset = _check_window(limit, offset)
        raw = bytes(raw)
        size = len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._mask_binary(raw, limit, offset)
        if "\x00" in text:
            return self._mask_binary(raw, limit, offset)
        if text.startswith("\ufeff"):
            text = text[1:]
        head = text[:1]
        if head.isspace():
            m = _FIRST_NON_SPACE.search(text)
            head = m.group() if m else ""
        if head in ("{", "[", '"') and size <= MAX_JSON_BYTES:
            doc = _parse_json(raw, text)
            if doc is not _NOT_JSON:
                try:
                    return self._json_value(doc, size, limit, offset, strict=_orjson is not None)
                except _Reparse:
                    return self._json_value(_parse_json(raw, text, fast=False), size, limit, offset)
        if _looks_binary(text):
            return self._mask_binary(raw, limit, offset)
        return self._text_value(text, size, limit, offset)

    def mask_result(
        self, raw: bytes | None, *, limit: int | None = DEFAULT_LIMIT, offset: int = 0
    ) -> MaskedValue | None:
        """A task result; the same rules as payloads."""
        return self.mask_payload(raw, limit=limit, offset=offset)

    @_memoized
    def mask_text(self, text: str | None, *, limit: int | None = DEFAULT_LIMIT, offset: int = 0) -> MaskedValue | None:
        """Free text such as an error message: detectors only, kind ``"text"``."""
        if text is None:
            return None
        limit, offset = _check_window(limit, offset)
        size = len(text.encode("utf-8", "surrogatepass"))
        return self._text_value(text, size, limit, offset)

    @_memoized
    def mask_headers(
        self, headers: dict[str, str] | None, *, limit: int | None = DEFAULT_LIMIT, offset: int = 0
    ) -> MaskedValue | None:
        """Task headers as a JSON object sorted by name, masked like a payload."""
        if headers is None:
            return None
        limit, offset = _check_window(limit, offset)
        items = sorted((str(k), str(v)) for k, v in headers.items())
        size = sum(len(k.encode("utf-8", "surrogatepass")) + len(v.encode("utf-8", "surrogatepass")) for k, v in items)
        return self._json_value(dict(items), size, limit, offset)

    def mask_fragment(self, text: str) -> str:
        """Mask a short piece of text (a name, a label) and return it; no paging."""
        hits = self._scan(text)
        return _escape_text(_apply(text, hits) if hits else text)

    # --- member names and paths -------------------------------------------------------------

    def _key_info(self, name: str) -> tuple:
        """``(label or None, normalised name, needs scanning)`` for a member name."""
        info = self._key_cache.get(name)
        if info is None:
            norm = normalize_name(name)
            label = None
            for exact, globs, any_glob in self._key_tiers:
                label = exact.get(norm)
                if label is None and any_glob is not None and any_glob.match(norm):
                    for rx, lab in globs:
                        if rx.match(norm):
                            label = lab
                            break
                if label is not None:
                    break
            # A name needs scanning only if some detector could hit it (an e-mail
            # address or an API key used as a map key); decided once per name.
            needs_scan = not _PLAIN_KEY.match(name) and bool(
                self._prefilter.Match(name.encode("utf-8", "surrogatepass"))
            )
            if not name.isascii() and _JSON_UNSAFE.search(name):
                # Rare: a name with bidi controls or lone surrogates. From now on every
                # rendered document gets the escaping pass (cheap, and always correct).
                self._unsafe_names = True
            info = (label, norm, needs_scan)
            cache = self._key_cache
            if len(cache) >= _KEY_CACHE_SIZE:
                cache.clear()
            cache[name] = info
        return info

    def _learn_safe_keys(self) -> None:
        """Rebuild ``_safe_keys`` when new member names were seen (rare once warm)."""
        cache = self._key_cache
        if len(cache) != self._safe_keys_source:
            self._safe_keys_source = len(cache)
            self._safe_keys = frozenset(k for k, info in list(cache.items()) if info[0] is None and not info[2])

    def _closure(self, states) -> frozenset:
        """Add the states reachable by letting a '..' match zero levels."""
        todo = list(states)
        out = set(states)
        while todo:
            r, p = todo.pop()
            segs = self._paths[r][0]
            if p < len(segs) and segs[p][0] == "desc" and (r, p + 1) not in out:
                out.add((r, p + 1))
                todo.append((r, p + 1))
        return frozenset(out)

    def _step(self, states: frozenset, key, norm: str | None):
        """Path-rule states after descending into member ``key`` (``norm`` = its
        normalised name) or array index ``key`` (``norm`` None): ``(states, label)``."""
        ck = (states, key, norm is None)
        hit = self._step_cache.get(ck)
        if hit is not None:
            return hit
        nxt = set()
        for r, p in states:
            segs = self._paths[r][0]
            if p >= len(segs):
                continue
            seg = segs[p]
            kind = seg[0]
            if kind == "desc":
                nxt.add((r, p))
            elif kind == "any":
                nxt.add((r, p + 1))
            elif kind == "index":
                if norm is None and key == seg[1]:
                    nxt.add((r, p + 1))
            elif norm is not None:  # name
                literal, regex = seg[1], seg[2]
                if (norm == literal) if regex is None else bool(regex.match(norm)):
                    nxt.add((r, p + 1))
        label = None
        result_states = self._closure(nxt) if nxt else None
        if result_states:
            for r, p in sorted(result_states):
                if p == len(self._paths[r][0]):
                    label = self._paths[r][1]
                    break
        result = (result_states, label)
        if len(self._step_cache) >= _STEP_CACHE_SIZE:
            self._step_cache.clear()
        self._step_cache[ck] = result
        return result

    def _format_path(self, path: tuple, key=None) -> str:
        """JSONPath of a member, for findings; names that hold data are masked too."""
        ck = (path, key)
        hit = self._path_cache.get(ck)
        if hit is not None:
            return hit
        text = self._format_path_uncached(path, key)
        if len(self._path_cache) >= _KEY_CACHE_SIZE:
            self._path_cache.clear()
        self._path_cache[ck] = text
        return text

    def _format_path_uncached(self, path: tuple, key) -> str:
        parts = ["$"]
        for seg in path + ((key,) if key is not None else ()):
            if isinstance(seg, int):
                parts.append(f"[{seg}]")
                continue
            if self._key_info(seg)[2]:  # a name that might itself hold data
                seg = self.mask_fragment(seg)
            if _IDENT.match(seg):
                parts.append("." + seg)
            else:
                quoted = seg.replace("\\", "\\\\").replace("'", "\\'")
                parts.append("['" + _escape_text(quoted) + "']")
        return "".join(parts)

    # --- scanning -------------------------------------------------------------------------------

    def _scan(self, text: str) -> list:
        """Every hit of the regex rules and the built-in detectors, resolved."""
        which = self._prefilter_match(text.encode("utf-8", "surrogatepass"))
        if not which:
            return []
        finders = self._finders
        if len(which) == 1:
            return finders[which[0]](text)
        batches = []
        for i in sorted(which):
            hits = finders[i](text)
            if hits:
                batches.append(hits)
        if not batches:
            return []
        return _resolve(batches)

    # --- JSON -----------------------------------------------------------------------------------

    def _json_value(self, doc, size: int, limit, offset, strict: bool = False) -> MaskedValue:
        full, findings = self._render_json(doc, strict)
        text, truncated, next_offset = _page(full, limit, offset)
        return MaskedValue("json", text, size, truncated, next_offset, findings[:MAX_FINDINGS], bool(findings), offset)

    def _render_json(self, doc, strict: bool = False) -> tuple[str, list[Finding]]:
        """Mask and pretty-print a parsed document (which is modified in place).

        1. ``_prepare`` walks it once: members matched by key/path rules are replaced
           right away, every other string is collected;
        2. all collected strings are scanned in one pass, joined by newlines (no
           detector hit crosses a newline), far cheaper than one scan per string;
        3. strings with hits are replaced in place, and the document is rendered with
           a two-space indent: containers without nested containers ("leaves", most of
           a typical payload) by the C JSON encoder in one call each.
        """
        findings: list[Finding] = []
        root_label = None
        if self._root_states is not None:
            for r, p in sorted(self._root_states):
                if p == len(self._paths[r][0]):
                    root_label = self._paths[r][1]
                    break
        if root_label is not None and doc is not None:
            findings.append(Finding("$", root_label))
            return _json_str(f"[{root_label}]"), findings

        t = type(doc)
        if t is str:
            hits = self._scan(doc)
            if hits:
                findings.extend(Finding("$", h[3]) for h in hits)
                doc = _apply(doc, hits)
            return _json_str(doc), findings
        if t is not dict and t is not list:
            return self._scalar(doc, findings, (), None), findings

        strs: list[str] = []
        owners: list = []
        paths: dict[int, tuple] = {}
        inner: dict[int, list] = {}
        self._prepare(doc, strs, owners, paths, inner, findings, strict)
        unsafe = False
        if strs:
            joined = "\n".join(strs)
            hits = self._scan(joined)
            if hits:
                self._apply_joined(joined, hits, strs, owners, paths, findings)
            # Every string value is in ``joined`` and every name that could need it was
            # routed through the slow path (see _key_info), so this small check decides
            # whether the output needs the escaping pass.
            unsafe = not joined.isascii() and _JSON_UNSAFE.search(joined) is not None
        self._learn_safe_keys()
        full = None
        if _orjson is not None:
            try:
                full = _orjson.dumps(doc, option=_ORJSON_INDENT).decode()
            except TypeError:  # ints wider than 64 bits, lone surrogates
                full = None
        if full is None:
            full = self._render(doc, 0, inner) if doc else ("{}" if t is dict else "[]")
        if (unsafe or self._unsafe_names) and not full.isascii():
            full = _JSON_UNSAFE.sub(_json_escape, full)
        return full, findings

    def _scalar(self, v, findings, path, key) -> str:
        """Render a scalar outside a leaf container; a card number as an int is masked."""
        t = type(v)
        if t is str:
            return _encode_basestring(v)
        if t is int:
            if v > 999_999_999_999:
                masked = _masked_card_int(v)
                if masked is not None:
                    if findings is not None:
                        findings.append(Finding(self._format_path(path, key), "card"))
                    return _encode_basestring(masked)
            return int.__repr__(v)
        if t is float:
            if v != v:
                return "NaN"
            if v in (_INF, _NINF):
                return "Infinity" if v > 0 else "-Infinity"
            return float.__repr__(v)
        if v is True:
            return "true"
        if v is False:
            return "false"
        return "null"

    def _masked_member(self, label: str, value) -> str:
        if label == "card" and isinstance(value, (str, int)) and not isinstance(value, bool):
            digits = str(value).replace(" ", "").replace("-", "")
            if digits.isascii() and digits.isdigit() and _d.is_card_number(digits):
                return _d.card_replacement(digits)
        return f"[{label}]"

    def _prepare(self, doc, strs, owners, paths, inner, findings, strict: bool = False) -> None:
        """Pass 1: mask rule-matched members in place and collect string values.

        Fills ``strs`` (every string value; ``owners[i]`` is the container of
        ``strs[i]``), ``paths`` (id → JSONPath tuple) and ``inner`` (id → keys of the
        non-empty child containers; absent = a leaf). With ``strict`` (the document
        came from orjson), a float of 2**63 or more raises ``_Reparse``: it may be an
        integer orjson could not hold exactly.

        This runs on every member of every payload shown, so the common case is a
        tight loop: when every name in an object is known to be harmless
        (``_safe_keys``, a set test in C) no per-name rule lookup happens.
        """
        safe = self._safe_keys
        slow = self._prepare_slow
        check_names = self._check_names
        mask_int = self._mask_card_int_member
        fmt = self._format_path
        sapp = strs.append
        oapp = owners.append
        card_min = _CARD_MIN
        big_float = _BIG_FLOAT

        def walk(c, depth, path, states):
            paths[id(c)] = path
            child_keys = None
            if states is not None:
                for k, v, cstates in slow(c, path, states, sapp, oapp, findings, strict):
                    if v:
                        if child_keys is None:
                            child_keys = []
                        descend(c, k, v, depth, path, cstates, child_keys)
            else:
                if type(c) is dict:
                    members = c.items()
                    if not c.keys() <= safe:
                        skip = check_names(c, path, sapp, oapp, findings)
                        if skip:  # members masked just now are not scanned
                            members = [(k, v) for k, v in members if k not in skip]
                else:
                    members = enumerate(c)
                for k, v in members:
                    t = type(v)
                    if t is str:
                        sapp(v)
                        oapp(c)
                    elif t is dict or t is list:
                        if v:  # {} and [] render inline, like scalars
                            if child_keys is None:
                                child_keys = []
                            descend(c, k, v, depth, path, None, child_keys)
                    elif t is int:
                        if v > card_min:
                            mask_int(c, k, v, path, findings)
                    elif t is float and strict and (v >= big_float or v <= -big_float):
                        raise _Reparse
            if child_keys:
                inner[id(c)] = child_keys

        def descend(c, k, v, depth, path, states, child_keys):
            # Assigning to c[k] while the caller iterates c is fine: no resize.
            if depth >= MAX_DEPTH:
                c[k] = "[nested too deep]"
                findings.append(Finding(fmt(path, k), "nested too deep"))
            else:
                child_keys.append(k)
                walk(v, depth + 1, path + (k,), states)

        walk(doc, 0, (), self._root_states)

    def _check_names(self, c: dict, path, sapp, oapp, findings) -> set | None:
        """The names of ``c`` not known to be harmless: mask the members that rules
        match (returns their names, so pass 1 does not scan the masks) and queue
        names that could hold data for scanning."""
        key_cache = self._key_cache
        masked = None
        marker = None
        for k in c.keys() - self._safe_keys:
            info = key_cache.get(k)
            if info is None:
                info = self._key_info(k)
            if info[2]:
                if marker is None:
                    marker = _KeyOf(c)  # a hit in a name renames the member
                sapp(k)
                oapp(marker)
            label = info[0]
            if label is not None:
                if masked is None:
                    masked = set()
                masked.add(k)
                v = c[k]
                if v is not None:
                    c[k] = self._masked_member(label, v)
                    findings.append(Finding(self._format_path(path, k), label))
        return masked

    def _prepare_slow(self, c, path, states, sapp, oapp, findings, strict=False) -> list:
        """Per-member pass 1 for a container with unknown or sensitive names or active
        path rules. Returns ``[(key, child container, path states)]``."""
        key_cache = self._key_cache
        key_info = self._key_info
        step = self._step
        step_cache = self._step_cache
        children = []
        if type(c) is dict:
            keys_to_scan = None
            for k, v in c.items():
                info = key_cache.get(k)
                if info is None:
                    info = key_info(k)
                if info[2]:
                    if keys_to_scan is None:
                        keys_to_scan = []
                    keys_to_scan.append(k)
                label = info[0]
                cstates = None
                if states is not None:
                    moved = step_cache.get((states, k, False))  # inlined _step cache hit
                    cstates, plabel = moved if moved is not None else step(states, k, info[1])
                    if label is None:
                        label = plabel
                if label is not None:
                    if v is not None:
                        c[k] = self._masked_member(label, v)
                        findings.append(Finding(self._format_path(path, k), label))
                    continue
                t = type(v)
                if t is str:
                    sapp(v)
                    oapp(c)
                elif t is dict or t is list:
                    children.append((k, v, cstates))
                elif t is int and v > _CARD_MIN:
                    self._mask_card_int_member(c, k, v, path, findings)
                elif t is float and strict and abs(v) >= _BIG_FLOAT:
                    raise _Reparse
            if keys_to_scan:
                marker = _KeyOf(c)  # a hit in a name renames the member
                for k in keys_to_scan:
                    sapp(k)
                    oapp(marker)
        else:
            for i, v in enumerate(c):
                cstates = None
                if states is not None:
                    cstates, label = step(states, i, None)
                    if label is not None:
                        if v is not None:
                            c[i] = self._masked_member(label, v)
                            findings.append(Finding(self._format_path(path, i), label))
                        continue
                t = type(v)
                if t is str:
                    sapp(v)
                    oapp(c)
                elif t is dict or t is list:
                    children.append((i, v, cstates))
                elif t is int and v > _CARD_MIN:
                    self._mask_card_int_member(c, i, v, path, findings)
                elif t is float and strict and abs(v) >= _BIG_FLOAT:
                    raise _Reparse
        return children

    def _mask_card_int_member(self, c, k, v, path, findings) -> None:
        masked = _masked_card_int(v)
        if masked is not None:
            c[k] = masked
            findings.append(Finding(self._format_path(path, k), "card"))

    def _apply_joined(self, joined, hits, strs, owners, paths, findings) -> None:
        """Map hits in the newline-joined strings back to each string; replace those
        values in place (found by identity in their container), and rename member
        names that held data (keeping member order)."""
        n = len(strs)
        if joined.count("\n") == n - 1:
            # No string holds a newline: a string's index is the number of newlines
            # before a position, counted in C.
            count = joined.count
            rfind = joined.rfind

            def locate(pos):
                i = count("\n", 0, pos)
                return i, rfind("\n", 0, pos) + 1

            starts = None
        else:
            starts = list(accumulate([len(x) + 1 for x in strs], initial=0))

            def locate(pos):
                i = bisect_right(starts, pos) - 1
                return i, starts[i]

        per: dict[int, list] = {}
        for s, e, repl, label in hits:
            i, base = locate(s)
            while i < n:
                end_i = base + len(strs[i])
                if s < end_i:
                    per.setdefault(i, []).append((s - base, min(e, end_i) - base, repl, label))
                if e <= end_i + 1:
                    break
                # The hit runs on into the next string (only regex rules and PEM blocks
                # can): mask that part too, with the plain label.
                i += 1
                base = s = end_i + 1
                repl = f"[{label}]"
        renames: dict[int, tuple] = {}
        for i, hs in per.items():
            owner = owners[i]
            original = strs[i]
            masked = _apply(original, hs)
            if type(owner) is _KeyOf:
                container = owner.container
                where = self._format_path(paths[id(container)])
                findings.extend([Finding(where, h[3]) for h in hs])
                renames.setdefault(id(container), (container, {}))[1][original] = masked
                continue
            # Replacing a value does not resize the container, so iterating is safe.
            for key, value in owner.items() if type(owner) is dict else enumerate(owner):
                if value is original:
                    owner[key] = masked
                    where = self._format_path(paths[id(owner)], key)
                    findings.extend([Finding(where, h[3]) for h in hs])
                    break
        for container, mapping in renames.values():
            items = list(container.items())
            container.clear()
            for k, v in items:
                new = mapping.get(k, k)
                while new in container:  # two names masked alike: keep both members
                    new += " "
                container[new] = v

    def _render(self, c, depth: int, inner: dict) -> str:
        """Pretty-print a non-empty container like ``json.dumps(indent=2)`` does.

        The fallback when orjson is missing or cannot encode the document (ints wider
        than 64 bits, lone surrogates). Containers of scalars ("leaves", most of a
        typical payload) are one call to the C encoder each: its item separator carries
        the newline and indent for ``depth``. Only containers holding containers are
        walked member by member.
        """
        if id(c) not in inner:
            s = _LEAF_ENCODERS[depth](c, 0)[0]
            return f"{s[0]}{_INDENTS[depth + 1]}{s[1:-1]}{_INDENTS[depth]}{s[-1]}"
        enc = _encode_basestring
        fmt = _SCALAR_FORMAT
        parts = []
        app = parts.append
        if type(c) is dict:
            for k, v in c.items():
                t = type(v)
                if t is str:
                    app(f"{enc(k)}: {enc(v)}")
                elif t is dict or t is list:
                    app(f"{enc(k)}: {self._render(v, depth + 1, inner) if v else ('{}' if t is dict else '[]')}")
                else:
                    app(f"{enc(k)}: {fmt[t](v)}")
            return f"{{{_INDENTS[depth + 1]}{_ITEM_SEPARATORS[depth].join(parts)}{_INDENTS[depth]}}}"
        for v in c:
            t = type(v)
            if t is str:
                app(enc(v))
            elif t is dict or t is list:
                app(self._render(v, depth + 1, inner) if v else ("{}" if t is dict else "[]"))
            else:
                app(fmt[t](v))
        return f"[{_INDENTS[depth + 1]}{_ITEM_SEPARATORS[depth].join(parts)}{_INDENTS[depth]}]"

    # --- text -------------------------------------------------------------------------------------

    def _text_value(self, text: str, size: int, limit, offset) -> MaskedValue:
        if len(text) <= FULL_SCAN_CHARS:
            hits = self._scan(text)
            full = _escape_text(_apply(text, hits) if hits else text)
            findings = [Finding(None, h[3]) for h in hits[:MAX_FINDINGS]]
            page, truncated, next_offset = _page(full, limit, offset)
            return MaskedValue("text", page, size, truncated, next_offset, findings, bool(hits), offset)
        return self._long_text_value(text, size, limit, offset)

    def _long_text_value(self, text: str, size: int, limit, offset) -> MaskedValue:
        """Mask a long text chunk by chunk, only as far as the requested page needs.

        Chunks are cut at a line break (else a space) where no hit is open, so every
        secret is seen whole by exactly one chunk.
        """
        need = None if limit is None else offset + limit + 1
        parts: list[str] = []
        produced = 0
        findings: list[Finding] = []
        pos, n = 0, len(text)
        while pos < n and (need is None or produced < need):
            if n - pos <= CHUNK_CHARS + CHUNK_MARGIN:
                seg = text[pos:]
                hits = self._scan(seg)
                cut = len(seg)
            else:
                seg = text[pos : pos + CHUNK_CHARS + CHUNK_MARGIN]
                hits = self._scan(seg)
                cut = _choose_cut(seg, hits)
                hits = [h for h in hits if h[1] <= cut]
            piece = _escape_text(_apply(seg[:cut], hits) if hits else seg[:cut])
            parts.append(piece)
            produced += len(piece)
            if len(findings) < MAX_FINDINGS:
                findings.extend(Finding(None, h[3]) for h in hits)
            pos += cut
        full = "".join(parts)
        page, truncated, next_offset = _page(full, limit, offset)
        if pos < n and next_offset is None and limit is not None:
            next_offset = offset + len(page)
            truncated = True
        return MaskedValue("text", page, size, truncated, next_offset, findings[:MAX_FINDINGS], bool(findings), offset)

    # --- binary -----------------------------------------------------------------------------------

    def _mask_binary(self, raw: bytes, limit, offset) -> MaskedValue:
        """A hex dump of a window of ``raw``; bytes that detectors flag (the value seen
        as Latin-1, e.g. a card number inside msgpack) are shown as ``••``."""
        size = len(raw)
        start = min(offset // 16 * 16, max(0, (size - 1) // 16 * 16))
        if limit is None:
            end = size
        else:
            end = min(size, start + max(1, limit // _HEX_LINE_CHARS) * 16)
        lo = max(0, start - BINARY_SCAN_MARGIN)
        hi = min(size, end + BINARY_SCAN_MARGIN)
        hits = self._scan(raw[lo:hi].decode("latin-1"))
        masked = set()
        findings = []
        for s, e, _, label in hits:
            a, b = max(s + lo, start), min(e + lo, end)
            if a < b:
                masked.update(range(a, b))
                findings.append(Finding(None, label))
        lines = []
        for line_start in range(start, end, 16):
            chunk = raw[line_start : min(line_start + 16, end)]
            cells = [f"{byte:02x}" for byte in chunk]
            if masked:
                for k in range(len(cells)):
                    if line_start + k in masked:
                        cells[k] = "\u2022\u2022"
            left = " ".join(cells[:8])
            right = " ".join(cells[8:])
            lines.append(f"{line_start:08x}  {left:<23}  {right}".rstrip())
        text = "\n".join(lines)
        more = end < size
        return MaskedValue(
            "binary",
            text,
            size,
            more or start > 0,
            end if more else None,
            findings[:MAX_FINDINGS],
            bool(findings),
            start,
        )


class _KeyOf:
    """Marks a collected string as a member name of ``container`` (not a value)."""

    __slots__ = ("container",)

    def __init__(self, container):
        self.container = container


def _masked_card_int(v: int) -> str | None:
    s = int.__repr__(v)
    return _d.card_replacement(s) if len(s) <= 19 and _d.is_card_number(s) else None


def _float_repr(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (_INF, _NINF):
        return "Infinity" if v > 0 else "-Infinity"
    return float.__repr__(v)


# Scalars inside inner containers (ints there were checked for card numbers in pass 1).
_SCALAR_FORMAT = {
    int: int.__repr__,
    float: _float_repr,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
}


def _no_default(obj):
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _leaf_encoder(depth: int):
    """Encoder for a container at ``depth`` whose members are all scalars: the item
    separator carries the newline and indent, so one C call renders it pretty."""
    item_separator = "," + _INDENTS[depth + 1]
    if _c_make_encoder is not None:
        return _c_make_encoder(None, _no_default, _encode_basestring, None, ": ", item_separator, False, False, True)
    encoder = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(item_separator, ": "))
    return lambda obj, _level: (encoder.encode(obj),)


_LEAF_ENCODERS = [_leaf_encoder(d) for d in range(MAX_DEPTH + 1)]
_CARD_MIN = 999_999_999_999  # ints above this may be card numbers (13+ digits)
_HEX_LINE_CHARS = 60  # "00000000  " + 16 cells and spaces + newline
_INF = float("inf")
_NINF = float("-inf")

_SURROGATE = re.compile("[\ud800-\udfff]")


def _regex_hits(regex, text: str, label: str, repl: str) -> list:
    """Hits of one RE2 rule; group 1 if the pattern has groups, zero-length matches skipped.

    Calls the RE2 binding on UTF-8 bytes directly: re2's Python ``finditer`` spends
    most of its time converting offsets in a generator, and regex rules run on every
    document. Byte offsets are converted to str offsets only for non-ASCII text.
    """
    if _SURROGATE.search(text):  # RE2 needs valid UTF-8; same length, so offsets hold
        text = _SURROGATE.sub("\ufffd", text)
    group = 1 if regex.groups else 0
    binding = getattr(regex, "_regexp", None)
    if binding is None or _RE2_UNANCHORED is None:  # pragma: no cover - other re2 builds
        return [(s, e, repl, label) for m in regex.finditer(text) for s, e in [m.span(group)] if 0 <= s < e]
    data = text.encode("utf-8")
    n = len(data)
    spans = []
    pos = 0
    while pos <= n:
        found = binding.Match(_RE2_UNANCHORED, data, pos, n)
        start, end = found[0]
        if start < 0:
            break
        s, e = found[group]
        if 0 <= s < e:
            spans.append((s, e))
        if end > start:
            pos = end
        else:  # an empty match: step over one character
            pos = end + 1
            while pos < n and data[pos] & 0xC0 == 0x80:
                pos += 1
    if n != len(text) and spans:  # non-ASCII: byte offsets -> str offsets, one pass
        chars = {}
        last_byte = last_char = 0
        for off in sorted({off for span in spans for off in span}):
            last_char += len(data[last_byte:off].decode("utf-8"))
            chars[off] = last_char
            last_byte = off
        spans = [(chars[s], chars[e]) for s, e in spans]
    return [(s, e, repl, label) for s, e in spans]


try:
    _RE2_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
except AttributeError:  # pragma: no cover - other re2 builds
    _RE2_UNANCHORED = None


def _choose_cut(seg: str, hits) -> int:
    """Where to end a chunk: after a newline (else a space) past CHUNK_CHARS, never
    inside a hit; a hit running to the chunk's end moves the cut before it."""
    lo, hi = CHUNK_CHARS, CHUNK_CHARS + CHUNK_MARGIN // 2
    nl = seg.rfind("\n", lo, hi)
    if nl != -1:
        cut = nl + 1
    else:
        sp = seg.rfind(" ", lo, hi)
        cut = sp + 1 if sp != -1 else lo
    for s, e, _, _ in hits:
        if s < cut < e:
            cut = e if e < len(seg) else (s if s > 0 else len(seg))
            break
    return cut


def _parse_json(raw: bytes, text: str, fast: bool = True):
    """Parse a JSON document, or return _NOT_JSON.

    orjson reads integers wider than 64 bits as floats, losing digits; pass 1 notices
    such a float (``_BIG_FLOAT``) and asks for a re-parse with ``fast=False``.
    """
    if fast and _orjson is not None:
        try:
            return _orjson.loads(text if raw.startswith(b"\xef\xbb\xbf") else raw)  # text has no BOM
        except _orjson.JSONDecodeError:
            pass  # not JSON, or JSON that only json accepts (NaN, lone surrogates)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


class _Reparse(Exception):
    """Pass 1 met a float that may be an integer orjson could not hold."""


_BIG_FLOAT = float(2**63)


def _looks_binary(text: str) -> bool:
    """Valid UTF-8 that is mostly control characters (e.g. a small protobuf)."""
    sample = text[:4096]
    if not sample:
        return False
    return len(_CONTROLS.findall(sample)) * 10 > len(sample)


@functools.lru_cache(maxsize=64)
def _cached_masker(extra_rules: tuple) -> Masker:
    return Masker(extra_rules)


def default_masker() -> Masker:
    """The shared Masker with only the built-in rules."""
    return _cached_masker(())
