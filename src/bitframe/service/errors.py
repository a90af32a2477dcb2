"""Errors of the allocation service, each with the HTTP status it maps to.

Every refusal the service makes is one of these: the web layer turns it into a 4xx
response ``{"error": {"code", "message", "details"}}`` (or the same message on the page),
the CLI into a message and exit code 1. Messages never reveal allocations, block sizes
or counts to someone not entitled to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class ServiceError(Exception):
    """Base class: ``status`` (HTTP), stable ``code``, human ``message``, optional ``details``."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = list(details)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(ServiceError):
    status = 422
    code = "invalid_input"


class NotAuthenticated(ServiceError):
    status = 401
    code = "not_authenticated"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class TooManyAttempts(ServiceError):
    """Too many failed sign-in attempts from this client (:mod:`bitframe.service.ratelimit`)."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many failed sign-in attempts from your address; try again in {self.retry_after} s")


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Unavailable(ServiceError):
    """Fail closed: no allocation can be made (e.g. the sealed list is exhausted)."""

    status = 503
    code = "unavailable"


class SetupError(ServiceError):
    """The service cannot start with this protocol/database/settings."""

    status = 500
    code = "setup"
