"""Errors a rule can raise; the HTTP and gRPC layers turn them into 4xx answers and status codes."""
from __future__ import annotations


class DomainError(Exception):
    """A request that the procedure does not allow; `key` names a bilingual message in the catalogs."""

    status = 400
    key = "error.validation"

    def __init__(self, detail_en: str, detail_vi: str | None = None, *, key: str | None = None, **params):
        super().__init__(detail_en)
        self.detail_en = detail_en
        self.detail_vi = detail_vi or detail_en
        if key:
            self.key = key
        self.params = params


class NotFound(DomainError):
    status = 404
    key = "error.not_found"


class Forbidden(DomainError):
    status = 403
    key = "error.forbidden"


class OutOfScope(Forbidden):
    key = "error.out_of_scope"


class StateConflict(DomainError):
    """The step is out of order for the report's current state."""

    status = 409
    key = "error.conflict_state"


class InvalidInput(DomainError):
    status = 422
    key = "error.validation"


class Unauthorized(DomainError):
    status = 401
    key = "error.unauthorized"
