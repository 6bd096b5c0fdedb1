"""Secrets at rest: the social-network credentials agents connect.

The key is ``RELAIS_ENCRYPTION_KEY`` (a Fernet key, or any passphrase; several
comma-separated, newest first, to rotate), else one derived from ``SECRET_KEY``
so the demo needs no set-up.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_INFO = b"relais social credentials"


class CredentialsError(ValueError):
    """Stored credentials that this key cannot read (the key changed)."""


def _derive(secret: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


def _as_fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except (ValueError, binascii.Error):
        # Not a Fernet key: a passphrase, stretched into one.
        return Fernet(_derive(key))


def _fernet() -> MultiFernet:
    configured = (
        current_app.config.get("RELAIS_ENCRYPTION_KEY")
        or os.environ.get("RELAIS_ENCRYPTION_KEY")
        or ""
    )
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    if keys:
        return MultiFernet([_as_fernet(k) for k in keys])
    return MultiFernet([Fernet(_derive(current_app.config["SECRET_KEY"]))])


def encrypt_credentials(credentials: dict) -> bytes:
    """Encrypt a dict of credentials for the ``credentials_encrypted`` column."""
    return _fernet().encrypt(json.dumps(credentials, sort_keys=True).encode())


def decrypt_credentials(token: bytes) -> dict:
    """The dict ``encrypt_credentials`` was given; CredentialsError if unreadable."""
    try:
        return json.loads(_fernet().decrypt(bytes(token)))
    except (InvalidToken, ValueError) as exc:
        raise CredentialsError("stored credentials cannot be decrypted with this key") from exc
