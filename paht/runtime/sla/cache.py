"""One engine per distinct calendar, shared by every use case of a process.

Services keep the calendar as data (dispatch its revisions, the others the copy dispatch published);
building an engine costs its day tables, so each distinct calendar gets one engine, found by the digest
of its data. `engine_for(None)` is the default calendar (public holidays, default working hours).
"""
from __future__ import annotations

import hashlib
import json
import threading

from paht.runtime.sla.data import CalendarData
from paht.runtime.sla.engine import SlaEngine, default_engine

_engines: dict[str, SlaEngine] = {}
_lock = threading.Lock()
KEEP = 16  # distinct calendars kept (a process sees one at a time, a few around a change)


def digest(data: dict) -> str:
    """Return the stable digest of a calendar's data (the key of its engine and of its stored revision)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def engine_for(data: dict | None, key: str | None = None) -> SlaEngine:
    """Return the engine of a calendar given as data (CalendarData.to_dict); None: the default calendar.
    `key`: the data's digest when the caller already has it (a stored revision), so it is not computed again."""
    if not data:
        return default_engine()
    key = key or digest(data)
    with _lock:
        found = _engines.get(key)
        if found is None:
            found = SlaEngine(CalendarData.from_dict(data))
            if len(_engines) >= KEEP:
                _engines.clear()
            _engines[key] = found
        return found
