"""The topics a report can be filed under, and the port intake reads them through (dispatch owns them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paht.runtime.errors import InvalidInput


@dataclass(frozen=True)
class Topic:
    """One topic of the taxonomy and the group (category) it belongs to."""

    code: str
    name: str
    group_code: str
    group_name: str = ""


class Taxonomy(Protocol):
    """Where use cases look topics up.

    find() returns None for a topic that does not exist, and raises Unavailable when it cannot
    tell (the owner does not answer and there is no copy to check against).
    """

    def find(self, code: str) -> Topic | None: ...


def known_topic(taxonomy: Taxonomy, code: str) -> Topic:
    """Return the topic with this code, or raise InvalidInput: an unknown topic is never stored."""
    topic = taxonomy.find(code)
    if topic is None:
        raise InvalidInput(f"Unknown topic '{code}'.", f"Lĩnh vực '{code}' không tồn tại.")
    return topic
