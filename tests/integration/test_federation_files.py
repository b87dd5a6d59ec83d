"""A report's files reach the hub that owns it, on a real database: the province's intake gives a file only to the
owning hub with its secret, and keeps a record of every copy; the hub's copier keeps trying through an outage and
stops for good when the province says no."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from paht.runtime import federation_up
from paht.runtime.storage import LocalDiskStorage
from services.handling import bootstrap as handling_boot
from services.handling.adapters.orm import report_file_copies
from services.handling.service_layer import report_files
from services.intake.adapters.orm import file_releases
from tests.integration.test_public_photos import Site
from tests.support import media_files as mf
from tests.support.services import migrated_context
from tests.support.services import test_settings as make_settings

pytestmark = pytest.mark.integration
HUB = "donghoi"


class Owners:
    """Sync's answer, as intake asks it: who owns each report now."""

    def __init__(self):
        self.by_report: dict[str, str] = {}

    async def owner(self, report_id: str) -> str | None:
        return self.by_report.get(report_id)


@pytest.fixture
def province(settings, tmp_path):
    s = Site(make_settings(settings.data, db_schema_prefix=settings.db_schema_prefix, node_id=settings.node_id, hubs=HUB), tmp_path)
    s.intake.owners = Owners()
    yield s
    s.close()


def test_the_province_gives_a_reports_file_to_the_hub_that_owns_it_and_records_it(province, settings):
    secret = federation_up.secret(federation_up.hub_secret_path(province.settings.data, HUB))
    rid, (photo,) = province.submit(mf.jpeg())
    url = f"/api/intake/v1/federation/{HUB}/files/{photo}"
    bearer = {"Authorization": f"Bearer {secret}"}
    assert province.client.get(url).status_code == 401
    assert province.client.get(url, headers={"Authorization": "Bearer guess"}).status_code == 401
    assert province.client.get(f"/api/intake/v1/federation/quangtrach/files/{photo}", headers=bearer).status_code == 404
    assert province.client.get(url, headers=bearer).status_code == 404  # not the hub's report (yet)
    province.intake.owners.by_report[rid] = HUB
    got = province.client.get(url, headers=bearer)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert 0x8825 not in Image.open(io.BytesIO(got.content)).getexif()  # the copy without location metadata (no GPS block)
    province.intake.owners.by_report[rid] = "province"  # recalled: the hub gets nothing more
    assert province.client.get(url, headers=bearer).status_code == 404
    with province.intake.engine.connect() as conn:
        rows = conn.execute(select(file_releases)).all()
    assert [(r.report_id, r.media_id, r.node_id) for r in rows] == [(rid, photo, HUB)]


@pytest.fixture
def hub(settings, tmp_path):
    s = make_settings(tmp_path / "hub", db_schema_prefix=settings.db_schema_prefix + "h", node_id=HUB, parent_node=settings.node_id)
    ctx = migrated_context(handling_boot.SPEC, s)
    yield ctx
    ctx.engine.dispose()
    from tests.conftest import _drop_schemas

    _drop_schemas(settings.db_schema_prefix + "h")


def test_the_hubs_copier_copies_retries_through_an_outage_and_stops_when_the_province_says_no(hub, tmp_path):
    storage = LocalDiskStorage(tmp_path / "hub-media")
    with hub.uow() as uow:
        report_files.note_files_to_copy(uow, "r1", [{"id": "m-ok", "media_type": "image/jpeg"}, {"id": "m-gone", "media_type": "image/jpeg"},
                                                    {"id": "m-later", "media_type": "video/mp4"}])
        report_files.note_files_to_copy(uow, "r1", [{"id": "m-ok", "media_type": "image/jpeg"}])  # a new round: not twice
        uow.commit()
    down = {"m-later"}

    def fetch(media_id: str, into: Path) -> str:
        if media_id == "m-gone":
            raise report_files.Gone("recalled")
        if media_id in down:
            raise ConnectionError("the link is down")
        into.write_bytes(b"\xff\xd8" + media_id.encode())
        return "image/jpeg"

    assert report_files.copy_due(hub.engine, storage, fetch) == 3
    with hub.engine.connect() as conn:
        rows = {r.media_id: r for r in conn.execute(select(report_file_copies))}
    assert {k: r.status for k, r in rows.items()} == {"m-ok": "copied", "m-gone": "gone", "m-later": "waiting"}
    assert rows["m-later"].attempts == 1 and "link is down" in rows["m-later"].error
    assert report_files.copied(hub.engine, "r1", "m-ok").media_type == "image/jpeg"
    assert b"".join(storage.stream(report_files.key("m-ok"))) == b"\xff\xd8m-ok"
    for missing in ("m-gone", "m-later", "m-none"):
        with pytest.raises(Exception) as refused:
            report_files.copied(hub.engine, "r1", missing)
        assert type(refused.value).__name__ == "NotFound"
    assert report_files.copy_due(hub.engine, storage, fetch) == 0  # the failed one waits its turn
    down.clear()
    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    assert report_files.copy_due(hub.engine, storage, fetch, now=later) == 1
    assert report_files.copied(hub.engine, "r1", "m-later").status == "copied"


def test_a_hub_reads_a_reporters_contact_for_its_person_through_the_provinces_audited_release(province, settings, tmp_path):
    """The hub's handling asks the province's intake (a real server) with its secret, naming its person; intake gives
    the contact only for a report the hub owns now, only for a case handler, and records the release."""
    import asyncio

    from paht.runtime.auth import TokenVerifier
    from paht.runtime.errors import Forbidden, NotFound, Unavailable
    from services.handling.adapters.contacts import ContactsThroughTheProvince
    from services.intake.adapters.orm import contact_audit
    from tests.support.live_server import live_server
    from tests.support.services import token_for

    secret = federation_up.secret(federation_up.hub_secret_path(province.settings.data, HUB))
    rid, _ = province.submit()
    (tmp_path / "join.secret").write_text(secret)
    with live_server(province.intake_app) as url:
        hub = make_settings(tmp_path / "hubdata", node_id=HUB, parent_node=settings.node_id, parent_url=url,
                            join_secret_file=tmp_path / "join.secret")
        contacts = ContactsThroughTheProvince(hub, TokenVerifier(hub))
        officer = token_for(hub, "canbophuong", ["staff"], "ward-donghoi-2025", "Đặng Thị Hồng")
        with pytest.raises(NotFound):  # not the hub's report (yet)
            asyncio.run(contacts.release(officer, rid, "Hẹn kiểm tra hiện trường"))
        province.intake.owners.by_report[rid] = HUB
        got = asyncio.run(contacts.release(officer, rid, "Hẹn kiểm tra hiện trường"))
        assert got.name == "Trần Văn Bình" and got.phone and got.audit_id
        # someone who handles no case is refused by the province too
        stranger = token_for(hub, "bcd", ["steering_member"], "ban-chi-dao")
        with pytest.raises(Forbidden):
            asyncio.run(contacts.release(stranger, rid, "Tò mò"))
        province.intake.owners.by_report[rid] = "province"  # taken back: nothing more
        with pytest.raises(NotFound):
            asyncio.run(contacts.release(officer, rid, "Gọi lại lần nữa"))
        wrong = make_settings(tmp_path / "hubdata", node_id=HUB, parent_node=settings.node_id, parent_url=url,
                              join_secret_file=tmp_path / "nowhere.secret")
        with pytest.raises(Unavailable):  # no secret to present: a clear 503, never a 500
            asyncio.run(ContactsThroughTheProvince(wrong, TokenVerifier(wrong)).release(officer, rid, "Hẹn kiểm tra"))
    # the province out of reach: a clear 503 that says so
    with pytest.raises(Unavailable) as down:
        asyncio.run(contacts.release(officer, rid, "Hẹn kiểm tra hiện trường"))
    assert "kết nối" in down.value.detail_vi and "cannot be reached" in down.value.detail_en
    with province.intake.engine.connect() as conn:
        rows = conn.execute(select(contact_audit)).all()
    assert [(r.report_id, r.staff_subject, r.staff_org_unit) for r in rows] == [(rid, f"canbophuong@{HUB}", "ward-donghoi-2025")]


def test_a_hub_not_joined_over_http_says_the_province_keeps_the_contact(hub):
    import asyncio

    from paht.runtime.errors import Unavailable
    from services.handling.adapters.contacts import ContactsKeptAtTheProvince

    contacts = handling_boot.reporter_contacts(hub)  # no PAHT_PARENT_URL: no audited path from here
    assert isinstance(contacts, ContactsKeptAtTheProvince)
    with pytest.raises(Unavailable) as refused:
        asyncio.run(contacts.release("token", "r1", "Hẹn kiểm tra"))
    assert "Trung tâm IOC tỉnh" in refused.value.detail_vi
