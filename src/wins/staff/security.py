"""Passwords (argon2) and signed staff tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

STAFF_TOKEN_PURPOSE = "staff-token"  # the signing salt of staff bearer tokens (made by staff.service, read by auth)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist: a login for an unknown name takes as long as one
    for a known name. Made on first use: an
    argon2 hash costs ~0.2 s of CPU, which every server process, worker and command paid at import."""
    return PasswordHasher().hash("wins-no-such-user")  # the parameters of _hasher


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"wins-{purpose}")


def sign(secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(secret_key, purpose).dumps(payload)


def unsign(secret_key: str, purpose: str, token: str, *, max_age: int) -> dict[str, Any] | None:
    try:
        data = _serializer(secret_key, purpose).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    return data if isinstance(data, dict) else None


def new_device_token() -> str:
    return "wdt_" + secrets.token_urlsafe(32)


def hash_device_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_tracking_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits: unguessable, and reveals nothing about the ticket
