"""How alike two reports' texts are, and how far apart two places are: the measures behind duplicate suggestions. No I/O.

Texts are compared as sets of words (Vietnamese words are syllables), folded the one way PAHT folds text
(lower case, no diacritics, đ as d: a report typed without accents matches one typed with them). Words
that say nothing about the problem (function words and address words: "đường", "số", "phường"...) are
left out, and names (a capitalised word inside a sentence: a street, a ward) count for less, because one
reporter's different problems in the same street share them. The score is the mean of the weighted
Jaccard index (shared / all words) and the weighted overlap (shared / the shorter text's words): Jaccard
alone misses a short resend of a long report, overlap alone matches any short text inside a long one.
Measured on the examples of tests/unit/test_duplicates.py, duplicates score 0.5 or more and different
problems less: SIMILAR_TEXT.
"""
from __future__ import annotations

import math
import re
import unicodedata

from paht.runtime.text import fold

SIMILAR_TEXT = 0.5
NAME_WEIGHT = 0.3
EARTH_RADIUS_M = 6_371_008.8  # mean radius
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180

# Folded words that tell nothing about the problem: function words, "report"/"people", and address words.
STOP_WORDS = frozenset("""
va hoac cua cac nhung mot co khong duoc da dang se rat nay do tai tren duoi trong ngoai voi cho den tu la thi ma nen
vi bi o khac viec van de phan anh nguoi dan khu vuc gan truoc sau nhieu it toi chung xin nghi ong ba anh chi em
duong pho so nha phuong xa thon to ngo hem quan huyen thanh tp tinh doan khoang
""".split())
_TOKEN = re.compile(r"\w+|[.!?;:\n]")
_SENTENCE_END = frozenset(".!?;:\n")


def words(text: str) -> dict[str, float]:
    """The telling words of a text (folded) with their weight: 1, or NAME_WEIGHT for a name."""
    weights: dict[str, float] = {}
    sentence_start = True
    for token in _TOKEN.findall(unicodedata.normalize("NFC", text or "")):
        if token in _SENTENCE_END:
            sentence_start = True
            continue
        # a capitalised word inside a sentence is a name; a word in capitals throughout is emphasis
        weight = NAME_WEIGHT if token[:1].isupper() and not token.isupper() and not sentence_start else 1.0
        sentence_start = False
        word = fold(token)
        if word in STOP_WORDS or (word.isdigit() and len(word) < 2):
            continue
        weights[word] = max(weights.get(word, 0.0), weight)
    return weights


def text_similarity(a: str, b: str) -> float:
    """0 (nothing in common) to 1 (the same words): the mean of weighted Jaccard and weighted overlap."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    keys = wa.keys() | wb.keys()
    shared = sum(min(wa.get(k, 0.0), wb.get(k, 0.0)) for k in keys)
    every = sum(max(wa.get(k, 0.0), wb.get(k, 0.0)) for k in keys)
    shorter = min(sum(wa.values()), sum(wb.values()))
    return (shared / every + shared / shorter) / 2


def similar_text(a: str, b: str) -> bool:
    return text_similarity(a, b) >= SIMILAR_TEXT


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def box_around(lat: float, lon: float, radius_m: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """A latitude/longitude box holding every point within radius_m (a cheap first filter before distance_m)."""
    dlat = radius_m / METRES_PER_DEGREE
    dlon = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    return (lat - dlat, lat + dlat), (lon - dlon, lon + dlon)
