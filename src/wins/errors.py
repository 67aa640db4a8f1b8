"""Domain errors. Services raise these; one handler turns them into JSON (API) or a page (web UI)."""

from __future__ import annotations


class WinsError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(WinsError):
    status_code = 404
    code = "not_found"


class NoBranch(NotFound):
    """The site has no branch yet (a fresh production install): `wins setup` or the first-run page creates it."""

    code = "no_branch"


class Conflict(WinsError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class ValidationFailed(WinsError):
    status_code = 422
    code = "invalid_input"


class NotAuthenticated(WinsError):
    status_code = 401
    code = "not_authenticated"


class PermissionDenied(WinsError):
    status_code = 403
    code = "permission_denied"


class TooManyAttempts(WinsError):
    status_code = 429
    code = "too_many_attempts"
