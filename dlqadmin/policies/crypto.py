"""Secrets at rest: channel webhook URLs and routing keys are Fernet-encrypted.

The key is DLQADMIN_ENCRYPTION_KEY (a Fernet key: 32 url-safe base64 bytes) or, when
unset, derived from SECRET_KEY, so rotating SECRET_KEY without setting
DLQADMIN_ENCRYPTION_KEY makes stored channel secrets unreadable (re-enter them).
"""

import base64
import hashlib
from urllib.parse import urlsplit

from django.conf import settings

# `cryptography` is imported where a secret is first read or written: ~7 MB that a web
# worker which never touches a channel secret does not carry (bench/README.md).


class SecretUnreadable(Exception):
    pass


def _fernet():
    from cryptography.fernet import Fernet

    key = settings.DLQADMIN_ENCRYPTION_KEY
    if not key:
        digest = hashlib.sha256(b"dlqadmin-channel-secrets:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest)
    return Fernet(key)


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("stored secret cannot be decrypted (encryption key changed?)") from None


def mask_url(url: str) -> str:
    """https://hooks.slack.com/services/T0/B0/abcd1234 -> https://hooks.slack.com/…1234"""
    if not url:
        return ""
    parts = urlsplit(url)
    tail = url[-4:] if len(url) > 24 else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}/…{tail}"


def mask_secret(value: str) -> str:
    if not value:
        return ""
    return "…" + value[-4:] if len(value) > 8 else "…"
