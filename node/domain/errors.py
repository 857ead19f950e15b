"""Domain errors. Each names the field and the problem in words a clerk understands.

They are mapped to HTTP status codes in one place (``node.api.errors``).
"""
from __future__ import annotations


class DomainError(Exception):
    """Base of all domain errors."""

    status = 400

    def __init__(self, message: str, field: str | None = None, *, location: str = "json", **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.location = location
        self.extra = extra

    def body(self) -> dict[str, object]:
        errors: dict[str, object] = {(self.field or "_schema"): [self.message]}
        out: dict[str, object] = {"message": self.message, "errors": {self.location: errors}}
        out.update(self.extra)
        return out


class InvalidInput(DomainError):
    """A value the rules do not allow (422)."""

    status = 422


class NotFound(DomainError):
    status = 404


class Unauthenticated(DomainError):
    status = 401


class PermissionDenied(DomainError):
    status = 403


class Conflict(DomainError):
    """The record changed or exists already (409)."""

    status = 409


class QuotaExceeded(DomainError):
    """A budget used up (429); ``retry_after`` is how many seconds until it allows the request again."""

    status = 429

    def __init__(self, message: str, retry_after: int, field: str | None = None, location: str = "json") -> None:
        super().__init__(message, field=field, location=location, retry_after=retry_after)
        self.retry_after = max(1, int(retry_after))
        self.extra["retry_after"] = self.retry_after


class IllegalTransition(Conflict):
    """An event not allowed in the case's current state; lists what is allowed."""

    def __init__(self, state: str, event: str, allowed: list[str]) -> None:
        super().__init__(
            f"event '{event}' is not allowed while the case is in state '{state}'; "
            f"allowed: {', '.join(allowed) if allowed else 'none'}",
            field="event",
            state=state,
            allowed_transitions=allowed,
        )


class WrongSecret(DomainError):
    """A secret that proves a right (the ID tail of a case, a password) did not match — or the
    record it would prove does not exist: both answer alike, so neither can be probed. Entry
    points count it towards a lock (``node.services.guard``)."""


class SecondFactorRefused(WrongSecret, NotFound):
    """The service code and the ID tail do not name a case (404)."""


class WrongPassword(WrongSecret, Unauthenticated):
    """The user name and the password do not name an active account (401)."""


class Locked(DomainError):
    """Too many failed attempts: the code, account or client is locked for a while (423)."""

    status = 423

    def __init__(self, message: str, field: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, field, retry_after=max(1, int(retry_after)))
        self.retry_after = max(1, int(retry_after))


class TooManyAttempts(Locked):
    """More attempts than the throttle allows in its window (429)."""

    status = 429
