"""What the public may see of a report's photos and videos: the IOC's choice for each file (shown or withheld, and
the regions to blur in a photo), and the rule that says when any of it may be public at all. No I/O here.

The rule is intake's because its facts are intake's: the reporter's wish that the result go to them only
(`private_result`), the IOC's state-secret flag, and step 1's acceptance. Publication's read model derives its own
privacy rule (`PublicReport.is_public` / `is_listed`) from the same facts, carried by intake's events; a test
(tests/integration/test_public_photos.py) checks that the two agree for every combination.
"""
from __future__ import annotations

from dataclasses import dataclass

from paht.runtime.errors import InvalidInput
from paht.runtime.media import Region, regions_from
from services.intake.domain.vocabulary import MediaKind, Status

# While intake may still change what of a report's files is public: before and at step 1, and after acceptance too,
# for as long as the photos are shown (a face noticed late must still be blurred). A refused or cancelled report's
# files are never public: nothing to change.
REDACTABLE: tuple[Status, ...] = (Status.SUBMITTED, Status.EDIT_REQUESTED, Status.ACCEPTED)


def shown_by_default(kind: str) -> bool:
    """A photo is shown until the IOC withholds it; a video is withheld until the IOC shows it (it cannot be blurred)."""
    return kind == MediaKind.PHOTO.value


def may_be_public(status: str, private_result: bool, state_secret: bool) -> bool:
    """The one rule for a report's files at intake: public only once step 1 accepted the report, never when its
    reporter asked for a private result, never under state secret (the flag may come at any time, and takes them away)."""
    return status == Status.ACCEPTED.value and not private_result and not state_secret


@dataclass(frozen=True)
class Redaction:
    """The IOC's choice for one file: whether the public may see it, and which rectangles of a photo to blur."""

    shown: bool
    blur: tuple[Region, ...] = ()

    @classmethod
    def decide(cls, kind: str, shown: bool, blur) -> "Redaction":
        """Check the choice for a file of this kind (rectangles: paht.runtime.media.regions_from)."""
        regions = regions_from(blur)
        if kind != MediaKind.PHOTO.value and regions:
            raise InvalidInput("A video cannot be blurred: show it as it is, or withhold it.",
                               "Không thể làm mờ một phần video: chỉ có thể công khai nguyên video hoặc không công khai.", field="blur")
        return cls(bool(shown), regions)

    def blur_json(self) -> list[dict]:
        return [r.as_json() for r in self.blur]
