"""Who owns a report's handling steps, fenced by an epoch so a stale hub can never overwrite. No I/O."""
from __future__ import annotations

from dataclasses import dataclass

from paht.runtime import roles
from paht.runtime.aggregate import Versioned

PROVINCE = "province"


@dataclass
class Ownership(Versioned):
    report_id: str
    node_id: str = PROVINCE
    epoch: int = 0
    lead_agency_id: str = ""
    version: int = 0

    def follow_dispatch(self, hub_node: str, lead_agency_id: str) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
        """Move ownership to the lead agency's node; return (recalled (node, epoch), granted (node, epoch))."""
        target = hub_node or PROVINCE
        recalled = granted = None
        if self.node_id != PROVINCE and (self.node_id != target or self.lead_agency_id != lead_agency_id):
            recalled = (self.node_id, self.epoch)
        if target != PROVINCE and (recalled is not None or self.node_id == PROVINCE):
            self.epoch += 1
            granted = (target, self.epoch)
        elif recalled is not None:
            self.epoch += 1  # back at the province: the old hub's epoch is dead
        self.node_id = target
        self.lead_agency_id = lead_agency_id
        return recalled, granted

    def recall(self) -> tuple[str, int] | None:
        """The IOC took the report back from its lead agency: a hub's epoch ends now (its later writes are refused),
        the province holds it until the next dispatch. Return the (node, epoch) recalled, if a hub had it."""
        recalled = (self.node_id, self.epoch) if self.node_id != PROVINCE else None
        if recalled is not None:
            self.epoch += 1
        self.node_id = PROVINCE
        self.lead_agency_id = ""
        return recalled

    def accepts(self, node_id: str, epoch: int) -> bool:
        """Fencing: only the current owner at the current epoch may write."""
        return node_id == self.node_id and epoch == self.epoch

    def visible_to(self, user) -> bool:
        """Whether a person may see who owns the report: the IOC, or a person of its lead agency."""
        return user.has(*roles.IOC) or (bool(self.lead_agency_id) and user.org_unit == self.lead_agency_id)
