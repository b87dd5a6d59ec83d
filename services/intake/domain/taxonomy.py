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
    keywords: tuple[str, ...] = ()  # words citizens use for it (the taxonomy's), for suggestions


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


def _phrases(t: Topic) -> list[tuple[list[str], float]]:
    """A topic's telling phrases with their weight: its name and keywords fully, its group's name by half."""
    return [(_words(t.name), 1.0), *((_words(k), 1.0) for k in t.keywords), (_words(t.group_name), 0.5)]


def suggest(topics: Iterable[Topic], text: str, limit: int = 3) -> list[Topic]:
    """Return the topics whose names and keywords share the most telling words (and word pairs) with a report's text, best first.

    Vietnamese words are mostly syllables ("ô nhiễm" is two): a pair of adjacent syllables of a phrase that
    also stands in the text counts double. A word found in many topics tells less (weighted by its inverse
    frequency); the group's name counts half (every topic of the group shares it). Only a suggestion: the
    reporter picks, and the IOC confirms at step 1.
    """
    topics = list(topics)
    said = _words(text)
    if not said or not topics:
        return []
    said_words, said_pairs = set(said), set(zip(said, said[1:]))
    phrases = {t.code: _phrases(t) for t in topics}
    spread: dict[str, int] = {}
    for items in phrases.values():
        for w in {w for words, _ in items for w in words}:
            spread[w] = spread.get(w, 0) + 1

    def idf(word: str) -> float:
        return math.log(1 + len(topics) / spread[word])

    scored = []
    for t in topics:
        best: dict[str, float] = {}
        pairs: dict[tuple[str, str], float] = {}
        for words, weight in phrases[t.code]:
            for w in words:
                if w in said_words:
                    best[w] = max(best.get(w, 0.0), weight)
            for pair in zip(words, words[1:]):
                if pair in said_pairs:
                    pairs[pair] = max(pairs.get(pair, 0.0), weight)
        score = sum(weight * idf(w) for w, weight in best.items())
        score += sum(2 * weight * min(idf(a), idf(b)) for (a, b), weight in pairs.items())
        if score > 0:
            scored.append((score, t.code, t))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [t for _, _, t in scored[:limit]]
