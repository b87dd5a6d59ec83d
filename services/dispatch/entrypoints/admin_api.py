"""The IOC administrator's API (/api/dispatch/v1/admin/…) and pages (/dispatch/admin…) for the directory, the taxonomy,
people, boundaries and their history. Only paht.runtime.roles.ADMINS; anyone else gets a bilingual 403.

Imports take the file as the request body (YAML, CSV or GeoJSON; `?source=` names it) or as multipart
`file` fields (several directory files are read as one, like the demo seed); a refused import is a 422
whose `problems` list names every offending row. Exports are downloads of the same formats.
"""
from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import jinja2
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from paht.runtime import roles
from paht.runtime.auth import Principal
from paht.runtime.errors import DomainError, InvalidInput
from paht.runtime.http import http_status, problem
from paht.runtime.web import Pages
from services.dispatch.adapters.hashing import HashingPool
from services.dispatch.domain.directory import FIELDS, Kind
from services.dispatch.domain.directory_format import ImportRefused, dump_yaml, load_yaml
from services.dispatch.domain.directory_import import FORMAT, notes_of
from services.dispatch.domain.directory_import import WHAT as DIRECTORY
from services.dispatch.entrypoints.api import unit_view
from services.dispatch.service_layer import directory, directory_admin

pages = Pages([Path(__file__).parent / "templates"])
YAML = "application/yaml; charset=utf-8"
MAX_FILES = 10

# The pages' own words (Vietnamese, English); vocabulary terms keep their wording in the domain.
TEXT = {
    "title": ("Quản trị danh bạ", "Directory administration"),
    "revisions": ("Các phiên bản", "Revisions"),
    "directory": ("Danh bạ tổ chức", "Organisation directory"),
    "taxonomy": ("Nhóm và lĩnh vực phản ánh", "Groups and topics"),
    "people": ("Cán bộ", "People"),
    "boundaries": ("Ranh giới địa bàn", "Boundaries"),
    "export": ("Tải xuống", "Export"),
    "export_csv": ("Tải xuống (CSV)", "Export (CSV)"),
    "import": ("Nhập tệp", "Import a file"),
    "import_hint": ("Tệp thay thế toàn bộ dữ liệu hiện có; được kiểm tra toàn bộ, lỗi ở bất kỳ dòng nào thì không có gì thay đổi.",
                    "A file replaces the whole current data; it is checked whole, and any offending row leaves everything unchanged."),
    "people_hint": ("Thêm hoặc cập nhật những người có trong tệp (YAML hoặc CSV); không bao giờ chứa mật khẩu.",
                    "Adds or updates the people the file lists (YAML or CSV); never any password."),
    "file": ("Tệp", "File"),
    "send": ("Nhập", "Import"),
    "tree": ("Cây tổ chức", "Organisation tree"),
    "as_of": ("Vào ngày", "As of"),
    "show": ("Xem", "Show"),
    "revision": ("Phiên bản", "Revision"),
    "at": ("Thời điểm", "At"),
    "by": ("Người thực hiện", "By"),
    "source": ("Nguồn", "Source"),
    "counts": ("Số lượng", "Counts"),
    "snapshot": ("Toàn bộ dữ liệu của phiên bản", "The revision's whole state"),
    "none": ("Chưa có", "None yet"),
    "refused": ("Không nhập được: không có gì thay đổi. Các dòng có lỗi:", "Not imported: nothing was changed. Offending rows:"),
    "imported": ("Đã nhập: phiên bản {revision}.", "Imported: revision {revision}."),
    "unchanged": ("Tệp giống hệt dữ liệu hiện có: không tạo phiên bản mới (phiên bản {revision}).",
                  "The file matches the current data: no new revision (revision {revision})."),
    "people_done": ("Đã nhập cán bộ: thêm {added}, cập nhật {updated}, giữ nguyên {unchanged}.",
                    "People imported: {added} added, {updated} updated, {unchanged} unchanged."),
    "boundaries_done": ("Đã nhập {boundaries} ranh giới.", "{boundaries} boundaries imported."),
    "password_done": ("Đã đặt mật khẩu mới.", "The new password is set."),
    "deactivated": ("Đã khóa tài khoản (lịch sử được giữ nguyên).", "The account is deactivated (its history is kept)."),
    "no_password": ("chưa có mật khẩu", "no password yet"),
    "inactive": ("đã khóa", "deactivated"),
    "set_password": ("Đặt mật khẩu", "Set password"),
    "new_password": ("Mật khẩu mới (10–200 ký tự)", "New password (10–200 characters)"),
    "deactivate": ("Khóa tài khoản", "Deactivate"),
    "units_in_force": ("đơn vị có hiệu lực", "units in force"),
    "can_lead": ("chủ trì xử lý", "may lead"),
    "fields": ("lĩnh vực", "fields"),
    "areas": ("địa bàn", "areas"),
    "hub": ("nút", "node"),
    "back": ("Quay lại trang quản trị", "Back to administration"),
}


@jinja2.pass_context
def _say(context, key: str, **fmt) -> str:
    vi, en = TEXT[key]
    text = vi if context.get("lang") == "vi" else en
    return text.format(**fmt) if fmt else text


pages.env.globals["say"] = _say
pages.env.globals["kind_label"] = lambda kind, lang: (Kind(kind).label.vi if lang == "vi" else Kind(kind).label.en) if kind in {
    k.value for k in Kind} else kind
pages.env.globals["field_label"] = lambda letter, lang: (
    (FIELDS[letter].vi if lang == "vi" else FIELDS[letter].en) if letter in FIELDS else letter)


class TopicEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=300)
    name_en: str | None = Field(default=None, max_length=300)
    fields: list[str] | None = Field(default=None, max_length=14, examples=[["a", "h"]])
    urgent_hint: bool | None = None
    retire: bool = False
    valid_to: date | None = Field(default=None, description="With retire: the first day the topic is no longer in force (default today).")


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=200)


def refused(exc: ImportRefused) -> JSONResponse:
    """The bilingual 422 of a refused import, with every offending row."""
    response = problem(http_status(exc), exc.key, exc.detail_en, exc.detail_vi)
    data = json.loads(response.body)
    data["error"]["problems"] = [p.as_json() for p in exc.problems]
    return JSONResponse(data, status_code=response.status_code)


def download(text: str, filename: str, media_type: str = YAML) -> PlainTextResponse:
    return PlainTextResponse(text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file is not UTF-8 text.", "Tệp không phải văn bản UTF-8.")


async def read_files(request: Request) -> tuple[list[tuple[str, str]], dict]:
    """Return [(file name, text)] from a multipart upload (field `file`, repeatable) or the raw body, and other form fields."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=MAX_FILES, max_fields=20)
        try:
            files = [f for f in form.getlist("file") if isinstance(f, UploadFile) and f.filename]
            texts = [((f.filename or "upload")[:200], _decode(await f.read())) for f in files]
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        finally:
            await form.close()
        if not texts:
            raise InvalidInput("Choose a file to import.", "Vui lòng chọn tệp để nhập.")
        return texts, fields
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput("The request has no file: send it as the body or as a multipart field 'file'.",
                           "Yêu cầu không có tệp: gửi tệp trong thân yêu cầu hoặc trong trường 'file'.")
    return [(request.query_params.get("source", "api")[:200], _decode(raw))], {}


def merge_directory(texts: list[tuple[str, str]]) -> tuple[str, str]:
    """Several directory files read as one (like the demo seed's two): (text, source). One file stays as it is."""
    if len(texts) == 1:
        return texts[0][1], texts[0][0]
    docs = [load_yaml(text, DIRECTORY) for _, text in texts]
    merged = {"format": FORMAT, "notes": "\n\n".join(notes_of(d) for d in docs if notes_of(d)),
              "units": [u for d in docs if isinstance(d, dict) and isinstance(d.get("units"), list) for u in d["units"]]}
    return dump_yaml(merged), " + ".join(name for name, _ in texts)


def build_router(ctx) -> APIRouter:
    optional_user, _current, require = ctx.auth
    admin = Depends(require(*roles.ADMINS))
    pool = HashingPool(1, 4)  # argon2 for passwords set here: never on the request threads
    router = APIRouter()
    api = APIRouter(prefix="/api/dispatch/v1/admin", tags=["directory administration"])

    async def run(use_case, *args, **kwargs):
        return await asyncio.to_thread(use_case, *args, **kwargs)

    async def apply_import(kind: str, request: Request, user: Principal) -> dict:
        """Run one import from the request's file(s); ImportRefused (every offending row) when the file is refused."""
        texts, _ = await read_files(request)
        if kind == "directory":
            text, source = merge_directory(texts)
            return (await run(directory_admin.import_directory, ctx.uow(), user, text, source)).as_json()
        if kind == "taxonomy":
            return (await run(directory_admin.import_taxonomy, ctx.uow(), user, texts[0][1], texts[0][0])).as_json()
        if kind == "people":
            name, text = texts[0]
            as_csv = name.lower().endswith(".csv") or "csv" in request.headers.get("content-type", "")
            return await run(directory_admin.import_people, ctx.uow(), user, text, name, as_csv)
        return await run(directory_admin.import_boundaries, ctx.uow(), user, texts[0][1], texts[0][0])

    async def do_import(kind: str, request: Request, user: Principal):
        try:
            return await apply_import(kind, request, user)
        except ImportRefused as exc:
            return refused(exc)

    @api.get("/directory/export", summary="The whole directory (every version of every unit) as YAML; as_of: only those in force that day")
    async def export_directory(as_of: date | None = None, user: Principal = admin):
        text = await run(directory_admin.export_directory, ctx.uow(), as_of)
        return download(text, f"directory{'-' + as_of.isoformat() if as_of else ''}.yaml")

    @api.post("/directory/import", summary="Replace the whole directory (YAML body or multipart 'file' fields): checked whole, "
                                            "a new revision")
    async def import_directory(request: Request, user: Principal = admin):
        return await do_import("directory", request, user)

    @api.get("/taxonomy/export", summary="The taxonomy (groups and topics with validity) as YAML")
    async def export_taxonomy(as_of: date | None = None, user: Principal = admin):
        return download(await run(directory_admin.export_taxonomy, ctx.uow(), as_of), "taxonomy.yaml")

    @api.post("/taxonomy/import", summary="Replace the whole taxonomy (YAML): checked whole, a new revision")
    async def import_taxonomy(request: Request, user: Principal = admin):
        return await do_import("taxonomy", request, user)

    @api.patch("/topics/{code}", summary="Rename a topic, change its fields or urgency, or retire it: a new taxonomy revision")
    async def edit_topic(code: str, body: TopicEditIn, user: Principal = admin):
        result = await run(directory_admin.edit_topic, ctx.uow(), user, code, name=body.name, name_en=body.name_en, fields=body.fields,
                           urgent_hint=body.urgent_hint, retire=body.retire, valid_to=body.valid_to)
        return result.as_json()

    @api.get("/revisions/{what}", summary="The revisions of the directory or the taxonomy, newest first")
    async def revisions(what: str, user: Principal = admin):
        rows = await run(directory_admin.list_revisions, ctx.uow(), what)
        return {"items": [{**r, "at": r["at"].isoformat()} for r in rows]}

    @api.get("/revisions/{what}/{number}", summary="One revision with its whole state (the export as it was)")
    async def revision(what: str, number: int, user: Principal = admin):
        r = await run(directory_admin.get_revision, ctx.uow(), what, number)
        return {**r, "at": r["at"].isoformat()}

    @api.get("/revisions/{what}/{number}/snapshot", summary="One revision's whole state as a file, ready to import again")
    async def snapshot(what: str, number: int, user: Principal = admin):
        r = await run(directory_admin.get_revision, ctx.uow(), what, number)
        return download(r["snapshot"], f"{what}-revision-{number}.yaml")

    @api.get("/people", summary="Every person, whether they can sign in (never a password hash)")
    async def people(user: Principal = admin):
        return {"items": await run(directory_admin.list_accounts, ctx.uow())}

    @api.get("/people/export", summary="People as YAML or CSV (format=csv), never with passwords")
    async def export_people(format: str = Query(default="yaml", pattern="^(yaml|csv)$"), user: Principal = admin):
        as_csv = format == "csv"
        text = await run(directory_admin.export_people, ctx.uow(), as_csv)
        return download(text, "people.csv" if as_csv else "people.yaml", "text/csv; charset=utf-8" if as_csv else YAML)

    @api.post("/people/import", summary="Add or update people (YAML, or CSV: a .csv file or text/csv body); new people have no password")
    async def import_people(request: Request, user: Principal = admin):
        return await do_import("people", request, user)

    @api.post("/people/{username}/password", summary="Set a person's password (argon2)")
    async def set_password(username: str, body: PasswordIn, user: Principal = admin):
        return await pool.run(directory_admin.set_password, ctx.uow(), user, username, body.password)

    @api.post("/people/{username}/deactivate", summary="Deactivate a person: no sign-in, no new work; their history stays")
    async def deactivate(username: str, user: Principal = admin):
        return await run(directory_admin.deactivate, ctx.uow(), user, username)

    @api.get("/boundaries", summary="The boundaries of areas (without their geometry)")
    async def boundaries(user: Principal = admin):
        return {"items": await run(directory_admin.list_boundaries, ctx.uow())}

    @api.post("/boundaries/import", summary="Replace every boundary by a GeoJSON FeatureCollection "
                                             "(properties: code, name, valid_from, valid_to, approximate)")
    async def import_boundaries(request: Request, user: Principal = admin):
        return await do_import("boundaries", request, user)

    @api.get("/locate", summary="The areas containing a point on a day (most specific first) and the units serving the first")
    async def locate(lat: float = Query(ge=-90, le=90), lon: float = Query(ge=-180, le=180), on: date | None = None,
                     user: Principal = admin):
        areas = await run(directory_admin.locate, ctx.uow(), lat, lon, on)
        units = await run(directory_admin.units_serving, ctx.uow(), areas[0], on) if areas else []
        return {"areas": areas, "units": [unit_view(u) for u in units]}

    router.include_router(api)

    # ---- pages
    def page_user(request: Request):
        """(user, None) for an administrator; (None, response) otherwise: the sign-in page, or a polite 403."""
        user = optional_user(request)
        away = pages.staff_only(request, user, roles.ADMINS)
        return (None, away) if away else (user, None)

    async def home(request: Request, user, status_code: int = 200, **context):
        directory_rows = await run(directory_admin.list_revisions, ctx.uow(), "directory")
        taxonomy_rows = await run(directory_admin.list_revisions, ctx.uow(), "taxonomy")
        return pages.render(request, "admin_home.html", status_code, user=user, directory_revisions=directory_rows[:20],
                            taxonomy_revisions=taxonomy_rows[:20], **context)

    @router.get("/dispatch/admin", include_in_schema=False)
    async def admin_home(request: Request, done: str = "", revision: int = 0):
        user, away = page_user(request)
        return away or await home(request, user, done=done[:20], revision=revision)

    @router.post("/dispatch/admin/import/{kind}", include_in_schema=False)
    async def admin_import(request: Request, kind: str):
        user, away = page_user(request)
        if away:
            return away
        if kind not in ("directory", "taxonomy", "people", "boundaries"):
            return pages.error(request, 404, "error.not_found")
        try:
            result = await apply_import(kind, request, user)
        except ImportRefused as exc:  # every offending row, on the page
            return await home(request, user, http_status(exc), failed=kind, problems=[p.as_json() for p in exc.problems])
        except DomainError as exc:
            return await home(request, user, http_status(exc), failed=kind, error=exc.detail)
        return await home(request, user, done=kind, result=result)

    @router.get("/dispatch/admin/tree", include_in_schema=False)
    async def admin_tree(request: Request, as_of: str = ""):
        user, away = page_user(request)
        if away:
            return away
        try:
            on = date.fromisoformat(as_of) if as_of else directory.today()
        except ValueError:
            return pages.error(request, 400, "error.bad_request")
        rows = await run(directory.tree, ctx.uow(), on)
        return pages.render(request, "admin_tree.html", user=user, as_of=on, nodes=nest(rows), count=len(rows))

    @router.get("/dispatch/admin/revisions/{what}/{number}", include_in_schema=False)
    async def admin_revision(request: Request, what: str, number: int):
        user, away = page_user(request)
        if away:
            return away
        try:
            found = await run(directory_admin.get_revision, ctx.uow(), what, number)
        except DomainError as exc:
            return pages.error(request, http_status(exc), exc.key)
        return pages.render(request, "admin_revision.html", user=user, what=what, r=found)

    @router.get("/dispatch/admin/people", include_in_schema=False)
    async def admin_people(request: Request):
        user, away = page_user(request)
        return away or await people_page(request, user)

    async def people_page(request: Request, user, status_code: int = 200, **context):
        rows = await run(directory_admin.list_accounts, ctx.uow())
        return pages.render(request, "admin_people.html", status_code, user=user, people=rows, **context)

    @router.post("/dispatch/admin/people/{username}/{action}", include_in_schema=False)
    async def admin_person(request: Request, username: str, action: str):
        user, away = page_user(request)
        if away:
            return away
        form = await request.form(max_fields=5)
        try:
            if action == "password":
                password = form.get("password")
                await pool.run(directory_admin.set_password, ctx.uow(), user, username, password if isinstance(password, str) else "")
                done = "password_done"
            elif action == "deactivate":
                await run(directory_admin.deactivate, ctx.uow(), user, username)
                done = "deactivated"
            else:
                return pages.error(request, 404, "error.not_found")
        except DomainError as exc:
            return await people_page(request, user, http_status(exc), error=exc.detail, person=username[:100])
        finally:
            await form.close()
        return await people_page(request, user, done=done, person=username[:100])

    return router


def nest(rows) -> list[dict]:
    """Tree rows (depth, unit) as nested nodes for a recursive template loop."""
    roots: list[dict] = []
    stack: list[dict] = []
    for row in rows:
        node = {"unit": row.unit, "children": []}
        del stack[row.depth:]
        (stack[-1]["children"] if stack else roots).append(node)
        stack.append(node)
    return roots
