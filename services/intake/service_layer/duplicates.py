"""Duplicate suggestions for the IOC's step 1: suggested with the reason, never merged by themselves.

Two kinds (issue 7, "Step 1 at the IOC"):
- the same reporter's reports (everyone with the same verified phone) received from 30 days before this one
  on, whose text is similar (domain/similar.py); an earlier one is what "mark as duplicate" may link to;
- open reports (not refused, not cancelled) of anyone, with the same topic, whose pin is within 250 m,
  received in the 90 days before this one or since (a report stays open at intake while it is being handled,
  which takes weeks; older ones are another matter). The lat/lon box is the first filter, served by the
  index ix_reports_topic_place; the haversine distance decides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from paht.runtime.auth import Principal
from paht.runtime.uow import UnitOfWork
from services.intake.adapters import report_queries
from services.intake.domain.report import Report
from services.intake.domain.similar import box_around, distance_m, text_similarity, SIMILAR_TEXT
from services.intake.service_layer.triage import load, require_ioc

SAME_REPORTER_SINCE = timedelta(days=30)
NEARBY_SINCE = timedelta(days=90)
NEARBY_M = 250.0
LIMIT = 20  # suggestions of each kind, at most


@dataclass
class Suggestion:
    report: Report
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (English, Vietnamese)
    similarity: float | None = None
    distance_m: float | None = None
    same_reporter: bool = False

    def earlier_than(self, report: Report) -> bool:
        """Whether it may be the report this one repeats (received before it)."""
        return self.report.received_at < report.received_at


def _text(report: Report) -> str:
    return f"{report.title}.\n{report.description}"


def suggest(uow: UnitOfWork, user: Principal, report_id: str) -> tuple[Report, list[Suggestion]]:
    """The suggestions for one report: the same reporter's similar texts first (most similar first), then the nearest."""
    require_ioc(user)
    with uow:
        report = load(uow, report_id)
        found: dict[str, Suggestion] = {}
        reporter = uow.reporters.get(report.reporter_id)
        ids = report_queries.reporter_ids_of_phone(uow.session, reporter.phone) if reporter is not None else [report.reporter_id]
        for other in report_queries.of_reporters_since(uow.session, ids or [report.reporter_id], report.received_at - SAME_REPORTER_SINCE,
                                                       report.id, 200):
            score = text_similarity(_text(report), _text(other))
            if score >= SIMILAR_TEXT:
                found[other.id] = Suggestion(other, [("same reporter, similar text", "cùng người phản ánh, nội dung tương tự")],
                                             similarity=round(score, 3), same_reporter=True)
        same = sorted(found.values(), key=lambda s: (-s.similarity, s.report.received_at))[:LIMIT]
        found = {s.report.id: s for s in same}
        near: list[Suggestion] = []
        if report.topic_code and report.lat is not None and report.lon is not None:
            lat_box, lon_box = box_around(report.lat, report.lon, NEARBY_M)
            for other in report_queries.open_in_box(uow.session, report.topic_code, lat_box, lon_box, report.received_at - NEARBY_SINCE,
                                                    report.id, 500):
                metres = distance_m(report.lat, report.lon, other.lat, other.lon)
                if metres > NEARBY_M:
                    continue
                reason = (f"within {round(metres)} m, same topic", f"cách {round(metres)} m, cùng lĩnh vực")
                if other.id in found:
                    found[other.id].reasons.append(reason)
                    found[other.id].distance_m = round(metres, 1)
                else:
                    near.append(Suggestion(other, [reason], distance_m=round(metres, 1), same_reporter=other.reporter_id in ids))
        near.sort(key=lambda s: (s.distance_m, s.report.received_at))
        return report, same + near[:LIMIT]
