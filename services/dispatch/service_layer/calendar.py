"""The one seam through which dispatch's use cases get their deadlines: the SLA engine, and the organisation
path the engine resolves working hours, local holidays and shorter limits along."""
from __future__ import annotations

from paht.runtime.sla import SlaEngine, default_engine
from paht.runtime.uow import UnitOfWork
from services.dispatch.domain.directory import OrgUnit

MAX_DEPTH = 32  # deeper than any real tree: a parent cycle in bad data ends here instead of looping


def sla_engine(uow: UnitOfWork) -> SlaEngine:
    """Return the SLA engine for deadlines computed inside this unit of work.

    The engine of the business calendar the administrator keeps (service_layer/business_calendar.py);
    a unit of work without that repository (the unit tests' fake) gets the default calendar.
    """
    if not hasattr(uow, "calendar"):
        return default_engine()
    from services.dispatch.service_layer import business_calendar

    return business_calendar.engine(uow)


def org_path(uow: UnitOfWork, unit: OrgUnit) -> tuple[str, ...]:
    """Return the unit's id and its ancestors' ids, nearest first: the `org` the SLA engine resolves along."""
    path, seen = [unit.id], {unit.id}
    parent_id = unit.parent_id
    while parent_id and parent_id not in seen and len(path) < MAX_DEPTH:
        parent = uow.directory.unit(parent_id)
        if parent is None:
            break
        path.append(parent.id)
        seen.add(parent.id)
        parent_id = parent.parent_id
    return tuple(path)
