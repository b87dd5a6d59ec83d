"""What the reporter is told when their report changes: the words of every notice, per channel. No I/O here.

Every notice names the report by its tracking code and ends with the link to the reporter's own page
(`<PAHT_PUBLIC_URL>/intake/me/<report id>`). Intake keeps no language per reporter, so notices are in Vietnamese
(the procedure's language); the English wording of each kind is on `NoticeKind` for the pages.

- SMS: without diacritics (brandname SMS in Vietnam go as GSM-7, like the one-time code's SMS) and at most 160
  characters with the link: the variable part (a reason, what to complete, an agency's name) is cut short first,
  and the page has the whole of it.
- e-mail: the same sentence with its diacritics and, where the reporter may read it, the whole text (the answer,
  the clarification, what to complete).
- Web Push: the sentence with its diacritics; a browser notification is short and shows on a locked screen, so it
  never carries an answer.

What a notice never carries: anyone's personal data (the reporter's own name or phone included: a notice needs
neither), and anything of a state secret's answer (decision IV.1.4.a: such a report is never published and "the
answer is recorded only", kept by the agency; its reporter hears that it was handled and concluded, and nothing else).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from paht.runtime.sla import VN
from paht.runtime.text import unaccent
from services.intake.domain.vocabulary import NoticeChannel, NoticeKind

SMS_LIMIT = 160          # one GSM-7 message
VARIABLE_MIN = 20        # never cut the variable part shorter than this (the SMS then takes two messages)
ELLIPSIS = "..."


@dataclass(frozen=True)
class Message:
    """One notice before it goes out: `head` + `detail` is the sentence; `detail` is the part that may be cut for an
    SMS; `full` is more text for channels the reporter alone reads in full (e-mail)."""

    kind: NoticeKind
    code: str
    head: str
    detail: str = ""
    tail: str = ""
    full: str = ""

    def sentence(self) -> str:
        return self.head + self.detail + self.tail

    def subject(self) -> str:
        return f"[PAHT] Phản ánh {self.code}: {self.kind.label[1]}"

    def text_for(self, channel: NoticeChannel | str) -> str:
        """The text stored for a channel before the link is added (render() adds it when sending)."""
        channel = NoticeChannel(channel)
        if channel is NoticeChannel.SMS:
            return unaccent(self.sentence())
        if channel is NoticeChannel.EMAIL and self.full:
            return self.sentence() + "\n\n" + self.full
        return self.sentence()


def _when(at: datetime) -> str:
    return at.astimezone(VN).strftime("%H:%M %d/%m")  # within 2 days: the year says nothing


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def accepted(code: str) -> Message:
    return Message(NoticeKind.ACCEPTED, code, f"PAHT: Phản ánh {code} đã được tiếp nhận.")


def refused(code: str, reason: str) -> Message:
    return Message(NoticeKind.REFUSED, code, f"PAHT: Phản ánh {code} không được tiếp nhận: ", _one_line(reason), "",
                   full=reason)


def cancelled(code: str, reason: str) -> Message:
    return Message(NoticeKind.CANCELLED, code, f"PAHT: Phản ánh {code} đã bị hủy: ", _one_line(reason), "", full=reason)


def edit_requested(code: str, what: str, due: datetime | None) -> Message:
    by = f" trước {_when(due)}" if due is not None else ""
    return Message(NoticeKind.EDIT_REQUESTED, code, f"PAHT: Bổ sung phản ánh {code}{by}: ", _one_line(what), "",
                   full="Nội dung cần bổ sung, chỉnh sửa:\n" + what + "\nQuá hạn, phản ánh sẽ bị hủy.")


def message(code: str) -> Message:
    """A message from the IOC: the notice says where to read it, never what it says (it may answer a question the
    reporter asked on their page)."""
    return Message(NoticeKind.MESSAGE, code, f"PAHT: Trung tâm IOC gửi bạn tin nhắn về phản ánh {code}.")


def dispatched(code: str, agency: str) -> Message:
    return Message(NoticeKind.DISPATCHED, code, f"PAHT: Phản ánh {code} đã chuyển ", _one_line(agency) or "cơ quan có thẩm quyền", " xử lý.")


def in_handling(code: str, unit: str) -> Message:
    return Message(NoticeKind.IN_HANDLING, code, f"PAHT: Phản ánh {code} đang được ", _one_line(unit) or "đơn vị chủ trì", " xử lý.")


def answered(code: str, visibility: str, answer: str, state_secret: bool) -> Message:
    """Step 8. Public: the answer is published, read it on the page. Private (the reporter asked for it): the answer is
    theirs alone, on their page and in their e-mail. State secret: handled and concluded, no content at all."""
    if state_secret or visibility == "state_secret":
        return Message(NoticeKind.CONCLUDED, code, f"PAHT: Phản ánh {code} đã được xử lý xong.")
    if visibility == "reporter_only":
        return Message(NoticeKind.ANSWERED_PRIVATELY, code, f"PAHT: Phản ánh {code} có kết quả trả lời riêng cho bạn.",
                       full="Kết quả trả lời (chỉ gửi riêng cho bạn, không công khai):\n" + answer)
    return Message(NoticeKind.ANSWERED, code, f"PAHT: Phản ánh {code} đã có kết quả trả lời.", full="Kết quả trả lời:\n" + answer)


def clarified(code: str, text: str, state_secret: bool) -> Message:
    if state_secret:
        return Message(NoticeKind.CLARIFIED, code, f"PAHT: Phản ánh {code} đã được xử lý xong.")
    return Message(NoticeKind.CLARIFIED, code, f"PAHT: Phản ánh {code} có nội dung giải thích, làm rõ.",
                   full="Nội dung giải thích, làm rõ:\n" + text)


def fit_sms(text: str, link: str, limit: int = SMS_LIMIT) -> str:
    """An SMS of at most `limit` characters: the text without diacritics, cut short when needed, then the link."""
    text = unaccent(_one_line(text))
    suffix = f" Xem: {link}" if link else ""
    room = limit - len(suffix)
    if len(text) > room:
        keep = max(room - len(ELLIPSIS), VARIABLE_MIN)
        text = text[:keep].rstrip(" :,.") + ELLIPSIS
    return text + suffix


def render(channel: NoticeChannel | str, text: str, link: str) -> str:
    """The text as it goes out on a channel, with the link to the reporter's page."""
    if NoticeChannel(channel) is NoticeChannel.SMS:
        return fit_sms(text, link)
    return f"{text}\n\nXem phản ánh của bạn: {link}" if link else text


def link_for(public_url: str | None, code: str) -> str:
    """The reporter's own page of a report, by its tracking code (the page takes the id or the code; the code is 24
    characters shorter, which an SMS needs): where every notice points."""
    return f"{(public_url or '').rstrip('/')}/intake/me/{code}"
