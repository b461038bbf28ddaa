"""Queue names (and task ids, types, groups) as the bytes asynq holds, in Postgres and on pages.

asynq accepts any bytes as a name. The reader hands them to us as ``str`` decoded with
``surrogateescape`` (see asynq/keys.py), which can hold what neither Postgres text nor
an HTML page can: NUL, and lone surrogates standing for bytes that are not UTF-8. So:

- ``raw(name)`` are the exact bytes (stored in a BinaryField where the name must be
  recovered, e.g. the Queue registry);
- ``key(name)`` is the sha256 hex of those bytes: a fixed-size identity for unique
  constraints, indexes and short URLs, whatever the length of the name;
- ``display(name)`` is what pages, logs and text columns show: the name itself, except
  that NUL and undecodable bytes are written ``\\x00`` / ``\\xff``. Two names can share a
  display form; the key tells them apart.
"""

import base64
import binascii
import hashlib
import re

from dlqadmin.asynq import keys

_UNSHOWABLE = re.compile("[\x00\ud800-\udfff]")


def raw(name: str) -> bytes:
    return keys.encode_name(name)


def from_raw(value: bytes) -> str:
    return keys.decode_name(bytes(value))


def key(name: str) -> str:
    return hashlib.sha256(raw(name)).hexdigest()


def _show(match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    if code == 0:
        return "\\x00"
    return f"\\u{code:04x}"


def display(name: str) -> str:
    """The name as text any page, log line or Postgres text column can hold."""
    if name.isascii() and "\x00" not in name:
        return name
    return _UNSHOWABLE.sub(_show, name)


def showable(text: str) -> str:
    """`display` for whole rendered texts (pages): identical for any ordinary text.

    Checked without the regex first: a regex scan of a 100 KB page took ~1 ms, while a
    NUL search is a memchr, and encoding to UTF-16 (a copy, for Python's 1- and 2-byte
    strings) fails only on a lone surrogate."""
    if "\x00" not in text:
        if text.isascii():
            return text
        try:
            text.encode("utf-16-le")
            return text
        except UnicodeEncodeError:
            pass
    return _UNSHOWABLE.sub(_show, text)


_FORM_PREFIX = "~b64:"


def form_value(name: str) -> str:
    """A name as an HTML form value that posts back exactly: itself, or for a name a page
    cannot carry (NUL, undecodable bytes) "~b64:" + base64 of its bytes."""
    if display(name) == name and not name.startswith(_FORM_PREFIX):
        return name
    return _FORM_PREFIX + base64.b64encode(raw(name)).decode()


def is_form_encoded(value: str) -> bool:
    """Whether `value` is an odd name as forms carry it (~b64:<bytes>)."""
    return value.startswith(_FORM_PREFIX)


def from_form_value(value: str) -> str:
    if value.startswith(_FORM_PREFIX):
        try:
            return from_raw(base64.b64decode(value[len(_FORM_PREFIX):], validate=True))
        except (binascii.Error, ValueError):
            return value
    return value
