"""URL path converter for asynq queue names and task ids.

asynq accepts almost any string as a queue name or task id, including '/', '%',
spaces and unicode. WSGI servers decode %2F to '/' before routing, so a name with a
slash cannot travel percent-encoded alone. We escape the few characters that routing
would misread with '~XX' (like percent-encoding, with '~' as the escape) and leave
the rest to normal URL quoting, so ordinary names stay readable in the address bar.
"""

import re

_ESCAPE = {"~": "~7E", "/": "~2F"}
_UNESCAPE = re.compile(r"~(7E|2F|2E)")
_UNESCAPE_MAP = {"7E": "~", "2F": "/", "2E": "."}


def encode_segment(value: str) -> str:
    out = "".join(_ESCAPE.get(ch, ch) for ch in value)
    # Browsers and proxies collapse the dot segments '.' and '..'.
    if out in (".", ".."):
        out = out.replace(".", "~2E")
    return out


def decode_segment(value: str) -> str:
    return _UNESCAPE.sub(lambda m: _UNESCAPE_MAP[m.group(1)], value)


class NameConverter:
    regex = r"[^/]+"

    def to_python(self, value):
        return decode_segment(value)

    def to_url(self, value):
        if not value:
            raise ValueError("empty name")
        return encode_segment(str(value))
