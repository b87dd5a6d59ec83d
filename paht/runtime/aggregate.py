"""What every aggregate of every service shares: its version counter and its one transition guard."""
from __future__ import annotations

from enum import Enum
from typing import Callable, Iterable

from paht.runtime.errors import StateConflict


class Versioned:
    """An aggregate whose every change announces an event with the next version of the report."""

    version: int

    def next_version(self) -> int:
        self.version = (self.version or 0) + 1
        return self.version


def require_state(current: str, allowed: Iterable[Enum], action: str, describe: Callable[[str], tuple[str, str]],
                  explain: Callable[[str, str], tuple[str, str] | None] | None = None) -> None:
    """Refuse a step that the current state does not allow, in the procedure's words.

    `describe(status)` gives (English, Vietnamese) for a status; `explain(current, action)` may give a
    more specific reason (e.g. "the lead unit refused the case") before the generic one.
    """
    if current in {s.value for s in allowed}:
        return
    specific = explain(current, action) if explain else None
    if specific is None:
        en, vi = describe(current)
        specific = (f"This step is not possible now: the report is {en}.", f"Không thể thực hiện bước này: phản ánh {vi}.")
    raise StateConflict(specific[0], specific[1], current=current, action=action)
