"""URL path converters for asynq queue names and task ids.

asynq accepts any bytes as a queue name or task id, including '/', '%', spaces,
unicode, NUL and bytes that are not UTF-8. WSGI servers decode %2F to '/' before
routing, so a name with a slash cannot travel percent-encoded alone. We escape what
routing would misread with '~XX' (like percent-encoding, with '~' as the escape):
'~', '/', NUL, each byte that is not UTF-8, and the dot segments '.' and '..'. The
rest is left to normal URL quoting, so ordinary names stay readable in the address bar.

A queue name whose URL form would be long (gunicorn refuses request lines over 4 KB)
travels as '~h' + the sha256 of its bytes instead, resolved through the Queue
registry; the long form still resolves, so links made before keep working.
"""

import re
from urllib.parse import quote

from dlqadmin.asynq import keys

_ESCAPE = {"~": "~7E", "/": "~2F", "\x00": "~00"}
_UNESCAPE = re.compile(r"~([0-9A-Fa-f]{2})")
_HASHED = re.compile(r"~h([0-9a-f]{64})")
_NEEDS_ESCAPE = re.compile("[~/\x00]")
# Longest percent-quoted queue segment we put in a URL; longer ones use the hash form.
MAX_SEGMENT = 512


def _escape_char(ch: str) -> str:
    esc = _ESCAPE.get(ch)
    if esc is not None:
        return esc
    if "\udc80" <= ch <= "\udcff":  # a byte that is not UTF-8 (surrogateescape)
        return f"~{ord(ch) - 0xDC00:02X}"
    return ch


def encode_segment(value: str) -> str:
    if value.isascii() and not _NEEDS_ESCAPE.search(value):
        out = value
    else:
        out = "".join(_escape_char(ch) for ch in value)
    # Browsers and proxies collapse the dot segments '.' and '..'.
    if out in (".", ".."):
        out = out.replace(".", "~2E")
    return out


def decode_segment(value: str) -> str:
    if "~" not in value:
        return value
    parts = _UNESCAPE.split(value)
    out = bytearray()
    for i, part in enumerate(parts):
        out += bytes([int(part, 16)]) if i % 2 else keys.encode_name(part)
    return keys.decode_name(bytes(out))


class NameConverter:
    """Task ids and group names."""

    regex = r"[^/]+"

    def to_python(self, value):
        return decode_segment(value)

    def to_url(self, value):
        if not value:
            raise ValueError("empty name")
        return encode_segment(str(value))


class QueueConverter(NameConverter):
    """Queue names: as NameConverter, with the short '~h<sha256>' form for long names."""

    def to_python(self, value):
        match = _HASHED.fullmatch(value)
        if match:
            from dlqadmin.access.registry import name_for_key

            name = name_for_key(match.group(1))
            if name is None:
                raise ValueError("unknown queue key")
            return name
        return decode_segment(value)

    def to_url(self, value):
        out = super().to_url(value)
        if len(out) > MAX_SEGMENT // 3 and len(quote(out, safe="")) > MAX_SEGMENT:
            from dlqadmin.core.names import key

            return "~h" + key(str(value))
        return out
