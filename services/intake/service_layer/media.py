"""Photos and videos of reports (placeholder: the media work fills this module; the signatures are the contract)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from paht.runtime.errors import InvalidInput


def attach(session: Session, owner: str, media_ids: list[str], report_id: str) -> list:
    """Attach uploads of this owner to a report, in the caller's transaction; return them in order (rows with
    id, media_type, size_bytes, sha256, kind...). Refuses ids that are unknown, someone else's or already attached."""
    if media_ids:
        raise InvalidInput("Files cannot be attached yet.", "Chưa thể đính kèm tệp.")
    return []


def media_of(session: Session, report_id: str) -> list:
    """The files of a report, in order."""
    return []
