"""Raw task messages at rest: Fernet tokens under DLQADMIN_VAULT_KEYS (MultiFernet).

The first key encrypts, every key decrypts: to rotate, put a new key in front, restart,
run `manage.py rotate_vault_keys` (re-encrypts in chunks), then drop the old key.
Without DLQADMIN_VAULT_KEYS the key is derived from SECRET_KEY (changing SECRET_KEY
then makes the vaulted messages unreadable: set the variable in production).
"""

import base64
import hashlib
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


class Unreadable(Exception):
    """The token cannot be decrypted with any configured key."""


# `cryptography` is imported at the first use: ~7 MB that a web worker which never
# reads a vaulted message does not carry (bench/README.md).
def _invalid_token():
    from cryptography.fernet import InvalidToken

    return InvalidToken


@lru_cache(maxsize=4)
def _multi(keys: tuple, secret: str):
    from cryptography.fernet import Fernet, MultiFernet

    if not keys:
        digest = hashlib.sha256(b"dlqadmin-vault:" + secret.encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    return MultiFernet([Fernet(k) for k in keys])


def _fernet():
    return _multi(tuple(k.strip() for k in settings.DLQADMIN_VAULT_KEYS if k.strip()), settings.SECRET_KEY)


def encrypt(raw: bytes) -> bytes:
    return _fernet().encrypt(raw)


def encryptor():
    """``encrypt`` with the keys looked up once, for a chunk of messages."""
    return _fernet().encrypt


def decrypt(token: bytes) -> bytes:
    fernet = _fernet()
    try:
        return fernet.decrypt(bytes(token))
    except _invalid_token():
        raise Unreadable("the vaulted message cannot be decrypted with DLQADMIN_VAULT_KEYS") from None


def rotate(token: bytes) -> bytes:
    """The token re-encrypted under the first key."""
    fernet = _fernet()
    try:
        return fernet.rotate(bytes(token))
    except _invalid_token():
        raise Unreadable("the vaulted message cannot be decrypted with DLQADMIN_VAULT_KEYS") from None


def check_keys(keys) -> None:
    """Raise ValueError naming the first key that is not a Fernet key."""
    from cryptography.fernet import Fernet

    for n, k in enumerate(keys, 1):
        try:
            Fernet(k.strip())
        except (ValueError, TypeError):
            raise ValueError(f"DLQADMIN_VAULT_KEYS: key {n} is not a Fernet key "
                             "(32 url-safe base64-encoded bytes)") from None


@receiver(setting_changed)
def _reset(setting, **kwargs):
    if setting in ("DLQADMIN_VAULT_KEYS", "SECRET_KEY"):
        _multi.cache_clear()
