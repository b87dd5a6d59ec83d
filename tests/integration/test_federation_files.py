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
