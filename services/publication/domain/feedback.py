"""The reporter's feedback on a published answer: a rating and requests to clarify. No I/O here.

Rules (docs/procedure.md, "Feedback"):
- who: only the reporter — the caller's session must stand for the report's reporter_ref, which intake (the
  owner of identities) says; publication keeps the reporter_ref of ReportSubmitted and never shows it;
- when: only once the answer is published (to the public, or to the reporter alone);
- rating: once per report — Hài lòng / Chấp nhận / Không hài lòng with an optional comment; it may be changed
  during CHANGE_WINDOW after it was first given, and not after;
- clarification: one open request at a time; the lead unit answers within 1 working day (the SLA engine's CLARIFY
  step); its leader's approved clarification then goes through the IOC as an answer does at step 8 (published,
  edited or not, or sent back to the leader with a reason); the next one may be asked once it is published.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from paht.runtime.errors import Forbidden, InvalidInput, NotFound, StateConflict
from paht.runtime.ratings import SCORE_WORDING, Score  # noqa: F401  (the procedure's vocabulary; feedback's names)
from paht.runtime.text import Label, clean_text

CHANGE_WINDOW = timedelta(days=7)  # a rating may be changed for 7 days after it was first given
COMMENT = Label("Comment", "Ý kiến")
QUESTION = Label("What should be clarified", "Nội dung đề nghị làm rõ")
CLARIFICATION = Label("The clarification", "Nội dung làm rõ")
RETURN_REASON = Label("What the lead unit must complete", "Nội dung đơn vị chủ trì cần bổ sung")
MAX_COMMENT = 2000
MAX_QUESTION = 4000
MAX_CLARIFICATION = 10000


class ClarificationStatus(str, Enum):
    OPEN = "open"                  # asked; the lead unit has 1 working day
    AWAITING_IOC = "with_ioc"      # the lead unit's leader approved it; the IOC checks it as at step 8
    RETURNED = "returned"          # the IOC sent it back to the lead unit's leader, with a reason
    GIVEN = "given"                # the IOC published it: the reporter (and the public, for a public answer) reads it


@dataclass
class ReportRating:
    """The reporter's rating of a published answer: one row per report."""

    report_id: str
    score: str
    comment: str
    rated_at: datetime    # first given: the change window runs from here
    changed_at: datetime | None = None
    changes: int = 0

    @property
    def changeable_until(self) -> datetime:
        return self.rated_at + CHANGE_WINDOW

    def can_change(self, now: datetime) -> bool:
        return now <= self.changeable_until

    def change(self, score: "Score", comment: str, now: datetime) -> None:
        if not self.can_change(now):
            raise StateConflict(
                f"A rating can be changed for {CHANGE_WINDOW.days} days after it was given; that time is over.",
                f"Chỉ được thay đổi đánh giá trong {CHANGE_WINDOW.days} ngày kể từ khi đánh giá; thời hạn này đã hết.",
                current="rated", action="change_rating")
        self.score, self.comment, self.changed_at = score.value, comment, now
        self.changes += 1

    @property
    def label(self) -> Label:
        return Score(self.score).label


@dataclass
class Clarification:
    """One request of the reporter to clarify the published answer, and the lead unit's clarification."""

    id: str
    report_id: str
    question: str
    asked_at: datetime
    due_at: datetime | None
    status: str = ClarificationStatus.OPEN.value
    answer_text: str = ""   # the lead unit's approved text, then as the IOC published it
    given_at: datetime | None = None       # published by the IOC
    approved_at: datetime | None = None    # approved by the lead unit's leader (the IOC's clock starts)
    publish_due: datetime | None = None    # the IOC's step-8 window from the approval
    return_reason: str = ""                # the IOC's latest reason for sending it back

    @property
    def is_open(self) -> bool:
        """The reporter's request is not answered yet (asked, with the IOC, or sent back to the unit)."""
        return self.status != ClarificationStatus.GIVEN.value

    @property
    def awaits_ioc(self) -> bool:
        return self.status == ClarificationStatus.AWAITING_IOC.value

    def approve(self, text: str, at: datetime, due: datetime | None) -> bool:
        """The lead unit's leader approved the clarification: it waits for the IOC. Return False when it is already
        with the IOC or published (a repeated event)."""
        if self.status not in (ClarificationStatus.OPEN.value, ClarificationStatus.RETURNED.value):
            return False
        self.answer_text, self.approved_at, self.publish_due = text, at, due
        self.status = ClarificationStatus.AWAITING_IOC.value
        return True

    def publish(self, edited_text: str | None, at: datetime) -> None:
        """The IOC publishes the approved clarification, edited or as it came."""
        self._require_with_ioc("publish_clarification")
        if edited_text is not None:
            self.answer_text = clean_clarification(edited_text)
        self.given_at, self.status = at, ClarificationStatus.GIVEN.value

    def send_back(self, reason: str) -> str:
        """The IOC returns the approved clarification to the lead unit's leader; returns the cleaned reason."""
        self._require_with_ioc("return_clarification")
        self.return_reason = clean_reason(reason)
        self.status = ClarificationStatus.RETURNED.value
        return self.return_reason

    def _require_with_ioc(self, action: str) -> None:
        if not self.awaits_ioc:
            raise StateConflict("This clarification is not waiting for the IOC (already published, or back with the lead unit).",
                                "Nội dung làm rõ này không ở bước chờ Trung tâm IOC (đã công khai hoặc đang ở đơn vị chủ trì).",
                                current=self.status, action=action)


def clean_score(value: str | None) -> Score:
    try:
        return Score((value or "").strip().lower())
    except ValueError:
        raise InvalidInput("Choose a rating: satisfied, acceptable or not satisfied.",
                           "Hãy chọn mức đánh giá: Hài lòng, Chấp nhận hoặc Không hài lòng.") from None


def clean_comment(value: str | None) -> str:
    value = (value or "").strip()
    return clean_text(value, COMMENT, 1, MAX_COMMENT) if value else ""


def clean_question(value: str | None) -> str:
    return clean_text(value, QUESTION, 5, MAX_QUESTION)


def clean_clarification(value: str | None) -> str:
    """The clarification as the IOC edited it (a form's textarea sends CRLF)."""
    return clean_text((value or "").replace("\r\n", "\n"), CLARIFICATION, 10, MAX_CLARIFICATION)


def clean_reason(value: str | None) -> str:
    return clean_text(value, RETURN_REASON, 5, 2000)


def require_reporter(report, reporter_refs) -> None:
    """Only the report's own reporter; anyone else is refused (403 when the report is public, else as if absent)."""
    if report.reporter_ref and report.reporter_ref in set(reporter_refs):
        return
    if report.is_public_record:
        raise Forbidden("Only the person who sent this report may rate it or ask for clarification.",
                        "Chỉ người gửi phản ánh này mới được đánh giá hoặc đề nghị làm rõ kết quả.")
    raise NotFound(f"You have no report {report.report_id}.", f"Không tìm thấy phản ánh {report.report_id} của bạn.")


def require_published(report) -> None:
    """Feedback is about the published answer: nothing to rate or clarify before step 8."""
    if report.status != "published":
        raise StateConflict("The answer has not been published yet: feedback is possible once it is.",
                            "Kết quả xử lý chưa được công khai: chỉ có thể đánh giá, đề nghị làm rõ sau khi công khai.",
                            current=report.status, action="feedback")


def first_rating(existing: ReportRating | None) -> None:
    """A report is rated once; afterwards the rating is changed (within the window), never given again."""
    if existing is not None:
        raise StateConflict("You have already rated this answer; you may change your rating instead.",
                            "Bạn đã đánh giá kết quả này; bạn có thể thay đổi đánh giá.", current="rated", action="rate")


def no_open_request(open_one: Clarification | None) -> None:
    """One request to clarify at a time: the next one waits for the lead unit's clarification."""
    if open_one is not None:
        raise StateConflict("Your request for clarification is with the lead unit; ask again once it has answered.",
                            "Đề nghị làm rõ của bạn đang được đơn vị chủ trì xử lý; bạn có thể đề nghị tiếp sau khi có trả lời.",
                            current="clarifying", action="ask_clarification")
