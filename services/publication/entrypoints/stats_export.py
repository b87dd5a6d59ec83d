"""The statistics as tables, for the CSV and XLSX exports: the same figures as the page, from the same view
(stats_views.py), in one language. Times are in hours, shares and rates in per cent, instants in Vietnam's time.

CSV: UTF-8 with a byte-order mark (Excel then reads Vietnamese right), each table a section: its title, its header
row, its rows, an empty line. XLSX (openpyxl): one sheet per table.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from paht.runtime.web.language import translate
from paht.runtime.web.pages import local_time
from services.publication.domain.feedback import Score

SHEET_NAME_MAX = 31  # Excel's limit


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list]


def hours(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def tables(view: dict, lang: str) -> list[Table]:
    def t(key: str, **fmt) -> str:
        return translate(lang, key, **fmt)

    def name(named: dict | None) -> str:
        return "" if not named else named[lang]

    period, totals, sat = view["period"], view["totals"], view["satisfaction"]
    filters = "; ".join(f"{t('stats.' + k)}: {v}" for k, v in view["filters"].items() if v) or t("stats.all")
    out = [Table(t("stats.summary"), [t("stats.figure"), t("stats.value")], [
        [t("stats.period"), f"{period['from']} – {period['to']}"],
        [t("stats.filters"), filters],
        [t("stats.received"), totals["received"]],
        [t("stats.published"), totals["published"]],
        [t("stats.open"), totals["open"]],
        [t("stats.not_eligible"), totals["not_eligible"]],
        [t("stats.rated"), totals["rated"]],
        [t("stats.satisfied_rate") + " (%)", percent(sat["satisfied_rate"])],
        [t("stats.content_rate") + " (%)", percent(sat["content_rate"])],
        [t("stats.generated"), local_time(view["generated_at"])],
    ])]
    out.append(Table(t("stats.volume_over_time"), [t("stats.from"), t("stats.to"), t("stats.reports")],
                     [[b["from"], b["to"], b["reports"]] for b in view["series"]]))
    for key in ("by_group", "by_topic", "by_area", "by_channel", "by_status"):
        out.append(Table(t("stats." + key), [t("stats.code"), t("stats.name"), t("stats.reports"), t("stats.share") + " (%)"],
                         [[r["code"], name(r["name"]), r["reports"], percent(r["share"])] for r in view[key]]))
    out.append(Table(t("stats.steps"), [t("stats.step"), t("stats.done"), t("stats.mean") + " (h)", t("stats.p90") + " (h)",
                                        t("stats.timed"), t("stats.on_time"), t("stats.on_time_rate") + " (%)"],
                     [[name(s["name"]), s["done"], hours(s["mean_seconds"]), hours(s["p90_seconds"]), s["timed"], s["on_time"],
                       percent(s["on_time_rate"])] for s in view["steps"]]))
    agency_steps = view["agencies"][0]["steps"] if view["agencies"] else []
    head = [t("stats.agency_id"), t("stats.agency"), t("stats.reports")]
    for s in agency_steps:
        head += [f"{name(s['name'])}: {t('stats.on_time_rate')} (%)", f"{name(s['name'])}: {t('stats.mean')} (h)"]
    head += [t("stats.rated"), *(t(f"rating.{s.value}") for s in Score), t("stats.satisfied_rate") + " (%)"]
    rows = []
    for a in view["agencies"]:
        row = [a["id"], name(a["name"]), a["reports"]]
        for s in a["steps"]:
            row += [percent(s["on_time_rate"]), hours(s["mean_seconds"])]
        row += [a["satisfaction"]["rated"], *(a["satisfaction"][s.value] for s in Score), percent(a["satisfaction"]["satisfied_rate"])]
        rows.append(row)
    out.append(Table(t("stats.agencies"), head, rows))
    overdue = view["overdue"]
    out.append(Table(t("stats.overdue") + " · " + t("stats.overdue_as_of", at=local_time(overdue["as_of"])),
                     [t("stats.tracking_code"), t("stats.report_title"), t("stats.step"), t("stats.due"), t("stats.late_by") + " (h)",
                      t("stats.agency")],
                     [[o["tracking_code"], o["title"] or "", name(o["step_name"]), local_time(o["due_at"]), hours(o["late_seconds"]),
                       name(o["agency"]["name"]) if o["agency"]["name"] else ""] for o in overdue["items"]]))
    return out


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a text (a title) as a formula


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(parts: list[Table]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for part in parts:
        writer.writerow([_csv_cell(part.title)])
        writer.writerow([_csv_cell(h) for h in part.headers])
        writer.writerows([[_csv_cell(v) for v in row] for row in part.rows])
        writer.writerow([])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _sheet_name(title: str, taken: set[str]) -> str:
    clean = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()[:SHEET_NAME_MAX] or "Sheet"
    name, n = clean, 2
    while name in taken:
        suffix = f" ({n})"
        name, n = clean[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def _xlsx_cell(sheet, value):
    """A value as a cell; a text that looks like a formula stays text."""
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def to_xlsx(parts: list[Table]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    taken: set[str] = set()
    bold = Font(bold=True)
    for part in parts:
        sheet = book.create_sheet(_sheet_name(part.title.split(" · ")[0], taken))
        for i, header in enumerate(part.headers, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(12, min(60, len(str(header)) + 4))
        sheet.freeze_panes = "A3"
        title = WriteOnlyCell(sheet, value=part.title)
        title.font = bold
        sheet.append([title])
        cells = []
        for header in part.headers:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        for row in part.rows:
            sheet.append([_xlsx_cell(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
