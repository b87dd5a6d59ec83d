"""Errors a rule can raise. They say what went wrong in the procedure's words, in Vietnamese and
English; they carry no transport status: the HTTP and gRPC entrypoints map each kind (and its
subclasses) to one (`paht.runtime.http.http_status`, `paht.runtime.grpcx.grpc_status`)."""
from __future__ import annotations


class DomainError(Exception):
    """A request that the procedure does not allow; `key` names a bilingual message in the catalogs."""

    key = "error.validation"

    def __init__(self, detail_en: str, detail_vi: str | None = None, *, key: str | None = None, **params):
        super().__init__(detail_en)
        self.detail_en = detail_en
        self.detail_vi = detail_vi or detail_en
        if key:
            self.key = key
        self.params = params

    @property
    def detail(self) -> dict[str, str]:
        """The specific reason in both languages, as pages and APIs show it."""
        return {"vi": self.detail_vi, "en": self.detail_en}


def by_kind(error: BaseException, table: dict[type, object], default: object) -> object:
    """Return what `table` gives the error's kind, walking its class hierarchy (a subclass takes its nearest ancestor's)."""
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return default


class NotFound(DomainError):
    key = "error.not_found"


class Forbidden(DomainError):
    key = "error.forbidden"


class OutOfScope(Forbidden):
    key = "error.out_of_scope"


class StateConflict(DomainError):
    """The step is out of order for the report's current state."""

    key = "error.conflict_state"


class ConcurrentChange(StateConflict):
    """Someone else changed the same record at the same moment; the loser reloads and decides again."""

    key = "error.concurrent_change"


class InvalidInput(DomainError):
    key = "error.validation"


class Unauthorized(DomainError):
    key = "error.unauthorized"


class TooManyRequests(DomainError):
    """Refused for now to protect an account or the service; `retry_after_s` says when to try again."""

    key = "error.too_many_requests"

    def __init__(self, detail_en: str, detail_vi: str | None = None, *, retry_after_s: int = 1, **params):
        super().__init__(detail_en, detail_vi, **params)
        self.retry_after_s = max(1, int(retry_after_s))


class Unavailable(DomainError):
    """A service this one depends on did not answer, so the request cannot be checked now."""

    key = "error.unavailable"
