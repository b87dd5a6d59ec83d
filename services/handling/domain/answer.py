"""The answer to the reporter, on the decision's response template (section IV.3). No I/O here.

The decision fixes the letter: "Kính gửi: Quý [cá nhân/tổ chức]", then "Vấn đề quý [cá nhân/tổ chức] phản
ánh, [đơn vị chủ trì xử lý] xin thông báo kết quả xử lý như sau:", then the content — what was done, or
the date by which the lead unit commits to finish — and the closing thanks. Staff write only the
content; the rest is filled from the case: the reporter addressed as a person or an organisation (no
name: handling holds no personal data; the IOC's editor may add it at step 8), the lead unit's name,
and the committed completion date when the work is not finished yet.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_text

MIN_ANSWER, MAX_ANSWER = 10, 10000
ANSWER = Label("Answer", "Nội dung trả lời")
MAX_COMMITMENT = timedelta(days=366)  # a commitment further than a year ahead is not a commitment

# How the template names the reporter: the decision's own words for a person and for an organisation.
ADDRESSEE = {"person": "cá nhân", "organisation": "tổ chức"}


@dataclass(frozen=True)
class Answer:
    """What the lead unit answers: the content staff wrote, whether the work is done, and if not, by when."""

    body: str
    finished: bool = True
    completion_date: date | None = None

    @classmethod
    def write(cls, body: str | None, finished: bool, completion_date: date | None, today: date) -> "Answer":
        """Check an answer as staff (or the leader) wrote it; `today` is the date in the province."""
        text = clean_text(body, ANSWER, MIN_ANSWER, MAX_ANSWER)
        if finished:
            if completion_date is not None:
                raise InvalidInput("A completion date is given only when the work is not finished yet.",
                                   "Chỉ nêu thời gian hoàn thành khi việc xử lý chưa xong.", field="completion_date")
            return cls(text)
        if completion_date is None:
            raise InvalidInput("The work is not finished: say by which date the unit commits to finish it.",
                               "Việc xử lý chưa xong: cần nêu thời gian đơn vị cam kết hoàn thành.", field="completion_date")
        if completion_date <= today:
            raise InvalidInput("The committed completion date must be after today.",
                               "Thời gian cam kết hoàn thành phải sau ngày hôm nay.", field="completion_date")
        if completion_date > today + MAX_COMMITMENT:
            raise InvalidInput("The committed completion date must be within a year.",
                               "Thời gian cam kết hoàn thành không được quá một năm.", field="completion_date")
        return cls(text, False, completion_date)


def letter(answer: Answer, reporter_kind: str, unit_name: str) -> str:
    """The whole answer on the decision's template, as the reporter will read it."""
    who = ADDRESSEE.get(reporter_kind, ADDRESSEE["person"])
    unit = unit_name.strip() or "Đơn vị chủ trì xử lý"
    parts = [
        f"Kính gửi: Quý {who}",
        f"Vấn đề quý {who} phản ánh, {unit} xin thông báo kết quả xử lý như sau:",
        answer.body,
    ]
    if not answer.finished and answer.completion_date is not None:
        parts.append(f"{unit} cam kết hoàn thành xử lý trước ngày {answer.completion_date:%d/%m/%Y}.")
    parts.append(f"Chân thành cảm ơn phản ánh của quý {who} và mong tiếp tục nhận được phản ánh trong thời gian tới.")
    parts.append("Trân trọng./.")
    return "\n\n".join(parts)
