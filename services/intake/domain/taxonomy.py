"""The topics a report can be filed under, and the port intake reads them through (dispatch owns them)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Protocol

from paht.runtime.errors import InvalidInput
from paht.runtime.text import fold


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

    def topics(self, on: date | None = None) -> dict[str, Topic]: ...


def known_topic(taxonomy: Taxonomy, code: str) -> Topic:
    """Return the topic with this code, or raise InvalidInput: an unknown topic is never stored."""
    topic = taxonomy.find(code)
    if topic is None:
        raise InvalidInput(f"Unknown topic '{code}'.", f"Lĩnh vực '{code}' không tồn tại.")
    return topic


# Words that say nothing about a topic (folded): they would match every report.
_STOP = frozenset("""
va hoac cua cac nhung mot co khong duoc da dang se rat nay do tai tren duoi trong ngoai voi cho den tu
la thi ma nen vi bi o khac viec van de phan anh nguoi dan khu vuc gan truoc sau nhieu it
""".split())
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if w not in _STOP and len(w) > 1]


def suggest(topics: Iterable[Topic], text: str, limit: int = 3) -> list[Topic]:
    """Return the topics whose names share the most telling words (and word pairs) with a report's text, best first.

    Vietnamese words are mostly syllables ("ô nhiễm" is two): a pair of adjacent syllables that also
    stands in a topic's name counts double. A word found in many topics' names tells less (weighted by
    its inverse frequency). Only a suggestion: the reporter picks, and the IOC confirms at step 1.
    """
    topics = list(topics)
    said = _words(text)
    if not said or not topics:
        return []
    said_words, said_pairs = set(said), set(zip(said, said[1:]))
    names = {t.code: _words(f"{t.name} {t.group_name}") for t in topics}
    spread: dict[str, int] = {}
    for words in names.values():
        for w in set(words):
            spread[w] = spread.get(w, 0) + 1
    scored = []
    for t in topics:
        words = names[t.code]
        score = sum(math.log(1 + len(topics) / spread[w]) for w in set(words) if w in said_words)
        score += sum(2 * math.log(1 + len(topics) / max(spread[a], spread[b])) for a, b in set(zip(words, words[1:])) if (a, b) in said_pairs)
        if score > 0:
            scored.append((score, t.code, t))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [t for _, _, t in scored[:limit]]
