"""Domain errors, each carrying a Twilio-style error code.

Only `api/` turns these into HTTP responses and only `cli.py` into exit codes; everything in
between raises and propagates them unchanged.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with the Twilio error code that names why."""

    code: int = 21000
    # Twilio answers most validation errors with 400; the API layer reads this.
    http_status: int = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidBody(DomainError):
    """The body holds something no SMS can carry (NUL, a lone surrogate)."""

    # No Twilio code names this. smsvia's own codes have six digits, so they never collide
    # with Twilio's five-digit ones.
    code = 100001


class BodyTooLong(DomainError):
    """The body is over Twilio's 1,600-character limit."""

    code = 21617


class InvalidPhoneNumber(DomainError):
    """A number that cannot be parsed or is not a valid number anywhere."""

    code = 21211


class UnpricedDestination(DomainError):
    """The price book has no entry for the destination country, so we will not send there."""

    # Twilio: "Permission to send an SMS has not been enabled for the region indicated by the
    # 'To' number".
    code = 21408


class PriceBookError(DomainError):
    """The price book file itself is malformed."""

    code = 100002
    http_status = 500


class UndecodableText(DomainError):
    """Bytes that are not valid in the data coding they claim."""

    code = 100003


class InvalidParameter(DomainError):
    """A request parameter is missing or malformed; `code` is Twilio's for that parameter."""

    def __init__(self, message: str, *, code: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


class NotFound(DomainError):
    code = 20404
    http_status = 404


class AuthenticationFailed(DomainError):
    code = 20003
    http_status = 401


class Forbidden(DomainError):
    """The credentials are good but may not do this (a restricted API key)."""

    code = 20403
    http_status = 403


class Conflict(DomainError):
    """The resource is in a state that does not allow the request."""

    code = 20009
    http_status = 409


class TooManyRequests(DomainError):
    """The credential is over its rate limit; `retry_after` says when to come back."""

    code = 20429
    http_status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
