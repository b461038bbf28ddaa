"""Transport: turns a notification (plain facts, already masked) into one delivery.

A transport either returns (delivered) or raises TransportError. `permanent` errors are
not retried; `disable_channel` ones (the endpoint is gone: 403/404/410) also switch the
channel off and show why in the UI; `retry_after` (seconds) overrides the backoff.
"""

from abc import ABC, abstractmethod

from django.core.exceptions import ValidationError


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
