"""Transport: turns a notification (plain facts, already masked) into one delivery.

A transport either returns (delivered) or raises TransportError. `permanent` errors are
not retried; `disable_channel` ones (the endpoint is gone: 403/404/410) also switch the
channel off and show why in the UI; `retry_after` (seconds) overrides the backoff.
"""

import re
from abc import ABC, abstractmethod

from django.core.exceptions import ValidationError


# Characters that can forge lines, hide or reorder text in a message: C0/C1 controls,
# bidi controls, zero-width/line separators, BOM, lone surrogates (a name that was not
# UTF-8). Queue names and error texts come from any producer.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ud800-\udfff\ufeff]")


def _visible(m):
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def plain(value):
    """One line of task- or queue-derived text, safe in any message: every character
    that could start a new line, hide or reorder text is shown as an escape (\\n, \\u202e)."""
    return _UNSAFE.sub(_visible, str(value))


class TransportError(Exception):
    def __init__(self, message, *, permanent=False, disable_channel=False, retry_after=None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent or disable_channel
        self.disable_channel = disable_channel
        self.retry_after = retry_after


class Transport(ABC):
    def __init__(self, channel):
        self.channel = channel

    @abstractmethod
    def notify(self, payload):
        """Deliver one notification, or raise TransportError."""

    def checked_url(self):
        """The channel's webhook URL, re-validated against the allow-list at send time
        (the list may have changed since the channel was saved)."""
        from dlqadmin.policies.services import channel_target, validate_outbound_url

        url = channel_target(self.channel)
        try:
            validate_outbound_url(url)
        except ValidationError as exc:
            raise TransportError(f"webhook URL refused: {exc.messages[0]}", permanent=True) from None
        return url


def retry_after_seconds(headers, default=30):
    for k, v in (headers or {}).items():
        if k.lower() == "retry-after":
            try:
                return max(0, int(float(str(v if not isinstance(v, list) else v[0]).strip())))
            except ValueError:
                return default
    return default


def classify_http(status, body, headers):
    """Raise the right TransportError for a non-2xx HTTP answer."""
    snippet = (body or "")[:200]
    if status == 429:
        raise TransportError(f"HTTP 429 rate limited: {snippet}", retry_after=retry_after_seconds(headers))
    if status in (403, 404, 410):
        raise TransportError(f"HTTP {status}: {snippet} (endpoint gone or revoked)", disable_channel=True)
    if 400 <= status < 500:
        raise TransportError(f"HTTP {status}: {snippet}", permanent=True)
    raise TransportError(f"HTTP {status}: {snippet}")
