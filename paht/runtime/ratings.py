"""The reporter's rating of a published answer: the three words the procedure names, one home for every service
(publication takes the rating, handling shows it to the lead unit, statistics count it).

proto: paht.publication.v1.Rating, RATING_<NAME>.
"""
from __future__ import annotations

from enum import Enum

from paht.runtime.text import Label


class Score(str, Enum):
    """The three ratings the procedure names (proto: paht.publication.v1.Rating, RATING_<NAME>)."""

    SATISFIED = "satisfied"
    ACCEPTABLE = "acceptable"
    UNSATISFIED = "unsatisfied"

    @property
    def label(self) -> Label:
        return SCORE_WORDING[self]


SCORE_WORDING = {
    Score.SATISFIED: Label("Satisfied", "Hài lòng"),
    Score.ACCEPTABLE: Label("Acceptable", "Chấp nhận"),
    Score.UNSATISFIED: Label("Not satisfied", "Không hài lòng"),
}


def from_proto(number: int, enum) -> Score:
    """The Score of a proto Rating number (KeyError for UNSPECIFIED or an unknown one)."""
    return Score[enum.Name(number).removeprefix("RATING_")]
