"""Errors a person can act on. Services raise these; the API and pages turn them into 4xx."""

from __future__ import annotations


class ApplicationError(Exception):
    """A refusal with a message for a person. ``code`` is stable for clients; ``fields`` maps an
    input field to its own message. Raising one inside a service's transaction rolls it back,
    so a refused request changes nothing."""

    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"


class Conflict(ApplicationError):
    """The request is well-formed but conflicts with the current state (duplicate, full, ...)."""

    status_code = 409
    default_code = "conflict"


class InsufficientFunds(ApplicationError):
    default_code = "insufficient_funds"
