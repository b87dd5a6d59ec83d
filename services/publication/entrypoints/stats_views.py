"""The statistics as one structure, named in both languages: the JSON API answers it, the pages render it, the CSV
and XLSX exports flatten it (stats_export.py). One shape of the figures, whoever reads them."""
from __future__ import annotations

from datetime import date, datetime, timezone

from paht.runtime.text import Label
from services.publication.adapters.names import PortalNames
from services.publication.domain.feedback import Score
from services.publication.domain.public_report import Step
from services.publication.domain.stats import AGENCY_STEPS, TIMED, Dim, StepFigure, Tally, channel_label
from services.publication.service_layer.stats import Figures, Monthly, Overdue

UNKNOWN = Label("(not known)", "(chưa rõ)")
NOT_CLASSIFIED = Label("(no topic yet)", "(chưa phân loại)")
NO_GROUP = Label("(no group)", "(không thuộc nhóm)")
NOT_EFFECTIVE = frozenset({Step.REFUSED.value, Step.CANCELLED.value})


def both(label: Label) -> dict:
    return {"vi": label.vi, "en": label.en}


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rows(items: dict[str, int], name_of, total: int) -> list[dict]:
    rows = [{"code": code, "name": name_of(code), "reports": n, "share": share(n, total)} for code, n in items.items() if n]
    return sorted(rows, key=lambda r: (-r["reports"], r["name"]["vi"], r["code"]))


def step_view(f: StepFigure) -> dict:
    timed = f.step in TIMED
    return {"step": f.step.value, "name": both(f.step.label), "done": f.done, "mean_seconds": f.mean_seconds, "p90_seconds": f.p90_seconds,
            "timed": f.timed if timed else None, "on_time": f.on_time if timed else None,
            "on_time_rate": round(f.on_time_rate, 4) if timed and f.on_time_rate is not None else None}


def satisfaction(t: Tally) -> dict:
    rated = t.rated
    out = {"rated": rated, **{s.value: t.score(s) for s in Score}}
    out["satisfied_rate"] = share(t.score(Score.SATISFIED), rated)
    out["content_rate"] = share(t.score(Score.SATISFIED) + t.score(Score.ACCEPTABLE), rated)  # satisfied or acceptable
    return out


class Namer:
    """Names of the codes the figures hold: dispatch's copies first, then what the reports themselves say."""

    def __init__(self, names: PortalNames, agency_names: dict[str, str]):
        self.names, self.agency_names = names, agency_names

    def topic(self, code: str) -> dict:
        if not code:
            return both(NOT_CLASSIFIED)
        topic, _group = self.names.any_topic(code)
        return {"vi": topic.vi, "en": topic.en}

    def group_of(self, code: str) -> str:
        _topic, group = self.names.any_topic(code) if code else (None, None)
        return group.code if group else ""

    def group(self, code: str) -> dict:
        if not code:
            return both(NO_GROUP)
        group = self.names.groups.get(code) or next((g for _t, g in (self.names.all_topics or {}).values() if g.code == code), None)
        return {"vi": group.vi, "en": group.en} if group else {"vi": code, "en": code}

    def area(self, code: str) -> dict:
        if not code:
            return both(UNKNOWN)
        named = self.names.area(code)
        return {"vi": named.vi, "en": named.en}

    def channel(self, code: str) -> dict:
        label = channel_label(code) if code else None
        return both(label) if label else (both(UNKNOWN) if not code else {"vi": code, "en": code})

    def status(self, code: str) -> dict:
        try:
            return both(Step(code).status_label)
        except ValueError:
            return {"vi": code, "en": code}

    def agency(self, code: str) -> dict:
        named = self.names.agency(code)
        if named is not None:
            return {"vi": named.vi, "en": named.en}
        name = self.agency_names.get(code) or code
        return {"vi": name, "en": name}


def agency_view(code: str, t: Tally, namer: Namer) -> dict:
    return {"id": code, "name": namer.agency(code), "reports": t.reports,
            "steps": [step_view(t.step(s)) for s in AGENCY_STEPS], "satisfaction": satisfaction(t)}


def overdue_view(overdue: Overdue, namer: Namer) -> dict:
    items = []
    for report, late in overdue.items:
        items.append({
            "report_id": report.report_id,
            "tracking_code": report.tracking_code,
            "title": report.title if report.is_public else None,  # private and state-secret reports: by code only
            "step": late.clock.value,
            "step_name": both(late.label),
            "due_at": iso(late.due_at),
            "late_seconds": max(0, int((overdue.at - late.due_at).total_seconds())),
            "agency": {"id": report.lead_agency_id or None,
                       "name": namer.agency(report.lead_agency_id) if report.lead_agency_id else
                       ({"vi": report.lead_agency_name, "en": report.lead_agency_name} if report.lead_agency_name else None)},
            "received_at": iso(report.received_at),
            "url": f"/reports/{report.report_id}" if report.is_public_record else None,
        })
    return {"as_of": iso(overdue.at), "total": overdue.total, "shown": len(items), "items": items}


def stats_view(figures: Figures, names: PortalNames, generated_at: datetime | None = None) -> dict:
    s, namer = figures.stats, Namer(names, figures.agency_names)
    q, total = s.query, s.total
    received = total.reports
    status = {code: t.reports for code, t in s.by[Dim.STATUS].items()}
    groups: dict[str, int] = {}
    for code, t in s.by[Dim.TOPIC].items():
        groups[namer.group_of(code)] = groups.get(namer.group_of(code), 0) + t.reports
    agencies = [agency_view(code, t, namer) for code, t in s.by[Dim.AGENCY].items() if code and t.reports]
    agencies.sort(key=lambda a: (-a["reports"], a["name"]["vi"], a["id"]))
    return {
        "period": {"from": q.day_from.isoformat(), "to": q.day_to.isoformat(), "every": q.every.value},
        "filters": {name: getattr(q, name) or None for name in ("group", "topic", "area", "agency", "channel")},
        "generated_at": iso(generated_at or datetime.now(timezone.utc)),
        "source": "reports" if q.filtered else "rollup",
        "totals": {
            "received": received,
            "not_eligible": sum(n for code, n in status.items() if code in NOT_EFFECTIVE),
            "published": status.get(Step.PUBLISHED.value, 0),
            "open": sum(n for code, n in status.items() if code not in NOT_EFFECTIVE and code != Step.PUBLISHED.value),
            "rated": total.rated,
        },
        "series": [{"from": a.isoformat(), "to": b.isoformat(), "reports": n} for a, b, n in s.bars()],
        "by_status": _rows(status, namer.status, received),
        "by_group": _rows(groups, namer.group, received),
        "by_topic": _rows({c: t.reports for c, t in s.by[Dim.TOPIC].items()}, namer.topic, received),
        "by_area": _rows({c: t.reports for c, t in s.by[Dim.AREA].items()}, namer.area, received),
        "by_channel": _rows({c: t.reports for c, t in s.by[Dim.CHANNEL].items()}, namer.channel, received),
        "steps": [step_view(f) for f in s.steps()],
        "agencies": agencies,
        "satisfaction": satisfaction(total),
        "overdue": overdue_view(figures.overdue, namer),
    }


def monthly_view(report: Monthly, names: PortalNames) -> dict:
    """The month's view and, beside each headline figure, the month before's."""
    this = stats_view(report.this, names)
    before = stats_view(Figures(report.previous, Overdue(report.this.overdue.at, [], 0), report.this.agency_names), names)
    return {"month": report.month.strftime("%Y-%m"), "this": this, "previous": before}


def month_label(month: date, lang: str) -> str:
    return month.strftime("%m/%Y") if lang == "vi" else month.strftime("%B %Y")
