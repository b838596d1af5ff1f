"""Secrets the service must send on (a hospital server's bearer token), kept sealed at rest.

Unlike a password, such a secret cannot be hashed: it is encrypted (Fernet: AES-128-CBC with
an HMAC) under a key derived from SECRET_KEY, so a copy of the database alone does not hold
it. A secret sealed under one of SECRET_KEY_FALLBACKS still opens after the key is rotated;
saving it again seals it under the current key.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PURPOSE = b"prepapp sealed secrets v1"


class SealBroken(Exception):
    """The sealed text opens under none of the keys (SECRET_KEY changed without a fallback)."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(k) for k in keys])


def seal(plain: str) -> str:
    """The secret encrypted under the current key; an empty secret stays empty."""
    return _keys().encrypt(plain.encode()).decode() if plain else ""


def unseal(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return _keys().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SealBroken("the stored secret cannot be opened with SECRET_KEY or its fallbacks") from None
