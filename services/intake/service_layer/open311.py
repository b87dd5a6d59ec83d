"""The intake command behind an Open311 GeoReport v2 `POST requests` (the HTTP endpoint comes with publication).

Open311 speaks in flat form fields: `service_code` (our topic code), `lat`/`long` or `address_string`,
`description`, `first_name`/`last_name`, `email`, `phone`, `media_url`, and the `api_key` of the
sender (a partner app's key: the channel is recorded as open311 with the partner's channel name). It
has no title: the first words of the description become one. PAHT needs the reporter's name, phone and
e-mail (III.2.c), so Open311 clients must send them. `media_url` is never fetched (a server fetching
addresses a client names is a door into the province's network): it is ignored and the answer's
`service_notice` says so (MEDIA_URL_NOTICE); files go through our own upload endpoint and are named in
the `media_ids` extension field.
"""
from __future__ import annotations

from typing import Mapping

from paht.runtime.errors import InvalidInput
from services.intake.domain.vocabulary import Channel, Verification
from services.intake.service_layer.partners import PartnerApp
from services.intake.service_layer.submission import SubmitReport

TITLE_WORDS = 80  # characters of the description that become the title
MEDIA_URL_NOTICE = ("media_url was not fetched: upload files to /api/intake/v1/uploads and name them in media_ids. "
                    "Không tải tệp từ media_url: hãy tải tệp lên /api/intake/v1/uploads và ghi mã tệp vào media_ids.")
REQUIRED = {"service_code": ("service_code", "mã lĩnh vực (service_code)"), "description": ("description", "nội dung (description)"),
            "email": ("email", "e-mail"), "phone": ("phone", "số điện thoại (phone)")}


def title_from(description: str) -> str:
    """The first sentence or words of a description, cut at a word, at most TITLE_WORDS characters."""
    text = " ".join((description or "").split())
    for stop in (". ", "! ", "? ", "\n"):
        if stop in text[:TITLE_WORDS]:
            text = text[: text.index(stop)]
            break
    if len(text) > TITLE_WORDS:
        text = text[:TITLE_WORDS].rsplit(" ", 1)[0] + "…"
    return text


def _number(form: Mapping[str, str], name: str) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a number.", f"'{name}' phải là số.", field=name) from None


def open311_submission(partner: PartnerApp, form: Mapping[str, str], idempotency_key: str = "") -> SubmitReport:
    """Turn an Open311 POST's fields into intake's one submission command."""
    for name, (en, vi) in REQUIRED.items():
        if not (form.get(name) or "").strip():
            raise InvalidInput(f"Open311: '{en}' is required.", f"Open311: thiếu {vi}.", field=name)
    name = " ".join(p for p in ((form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()) if p)
    if not name:
        raise InvalidInput("Open311: first_name and last_name are required (the reporter's name).",
                           "Open311: cần họ tên người phản ánh (first_name, last_name).", field="first_name")
    media_ids = [m.strip() for m in (form.get("media_ids") or "").split(",") if m.strip()]
    return SubmitReport(
        name=name, phone=form["phone"], email=form["email"], title=title_from(form["description"]), description=form["description"],
        topic_code=form["service_code"].strip(), lat=_number(form, "lat"), lon=_number(form, "long"),
        address_text=(form.get("address_string") or "").strip(), media_ids=media_ids,
        channel=Channel.OPEN311.value, channel_name=partner.channel_name,
        verification=(Verification.PARTNER if partner.verifies_phone else Verification.NONE).value,
        owner=f"partner:{partner.id}", idempotency_key=idempotency_key, actor_kind="partner", actor=partner.id,
    )
