"""The customer's phone number: checked and written as E.164, and encrypted before it reaches the database.

The key is derived (HKDF-SHA256) from the server's secret key (WINS_SECRET_KEY, or `<data_dir>/secret_key` in
development), which is *not* in the database: a copy of the database file or a backup alone reveals no number.
(The VAPID keys live in the database because every worker must sign alike and they protect nothing stored; here
the point is the opposite.) Changing the secret key makes stored numbers unreadable, which is acceptable: a number
lives only until its ticket ends, and the sender drops one it cannot read."""

from __future__ import annotations

import base64
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from wins.errors import ValidationFailed

_SEPARATORS = re.compile(r"[\s().\-/]")


def normalise(raw: str, *, default_country_code: str = "") -> str:
    """ "+44 7700 900123", "0044…" or, with a default country code, "07700 900123" → "+447700900123"."""
    number = _SEPARATORS.sub("", raw.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    elif number.startswith("0") and default_country_code:
        number = default_country_code + number[1:]
    if not number.startswith("+"):
        raise ValidationFailed(
            "Write your mobile number with its country code, starting with + (for example +44 7700 900123)."
        )
    digits = number[1:]
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0") or not 8 <= len(digits) <= 15:
        raise ValidationFailed(
            "This is not a mobile number: use + and the country code, then 7 to 14 digits (for example "
            "+44 7700 900123)."
        )
    return "+" + digits


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"wins sms phone number v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(phone: str, *, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(phone.encode()).decode()


def decrypt(token: str, *, secret_key: str) -> str | None:
    """The number, or None when it was encrypted under another secret key."""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
