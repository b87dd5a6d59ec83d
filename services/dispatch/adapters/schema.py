"""The one MetaData of dispatch's tables; each table module (orm, orm_step2, orm_clocks) adds to it."""
from __future__ import annotations

from sqlalchemy import MetaData

from paht.runtime.events.tables import add_event_tables

metadata = MetaData()
event_tables = add_event_tables(metadata)


def load_all() -> MetaData:
    """Import every table module (so that metadata knows every table) and return the metadata."""
    from services.dispatch.adapters import orm, orm_clocks, orm_emergency, orm_step2  # noqa: F401

    return metadata
