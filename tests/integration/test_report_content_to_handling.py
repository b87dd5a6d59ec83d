"""What the citizen reported reaches the people handling it: intake's ReportAccepted carries the text, the place and the
files' staff addresses; dispatch keeps them and carries them on in ReportDispatched; handling shows them on the case —
through the real use cases and events of the three services, and the photo itself from intake to the lead unit."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.dispatch import bootstrap as dispatch_boot
from services.dispatch.service_layer import handlers as dispatching
from services.handling import bootstrap as handling_boot
from tests.integration.test_public_photos import Site
from tests.support import media_files as mf
from tests.support.handling import FakeOrgDirectory
from tests.support.services import ServedGrpc, deliver, migrated_context, outbox_envelopes, principal, token_for

pytestmark = pytest.mark.integration
IOC = principal("ioc", ["ioc_operator"], "ioc-tinh")


@pytest.fixture
def services(settings, tmp_path, monkeypatch):
    handling = migrated_context(handling_boot.SPEC, settings)
    served = ServedGrpc(handling, handling_boot.register_grpc)  # where intake asks who handles a report's case
    monkeypatch.setenv("PAHT_GRPC_HANDLING", served.address)
    site = Site(settings, tmp_path)
    dispatch = migrated_context(dispatch_boot.SPEC, settings)
    dispatch_boot.seed(dispatch)
    yield site, dispatch, handling
    served.stop()
    site.close()
    dispatch.engine.dispose()
    handling.engine.dispose()


def test_the_lead_unit_reads_what_the_citizen_reported_and_sees_the_photo(services, settings):
    site, dispatch, handling = services
    rid, [photo] = site.submit(mf.jpeg(), description="Ổ gà sâu khoảng 30 cm giữa làn xe máy, trước số nhà 120.",
                               address_text="120 Lý Thường Kiệt, Đồng Hới")
    site.accept(rid)
    [accepted] = [e for e in outbox_envelopes(site.intake) if e.report_id == rid and e.type.endswith("ReportAccepted")]
    event = accepted.decode()
    assert event.description.startswith("Ổ gà sâu") and event.tracking_code and [m.id for m in event.media] == [photo]
    assert event.media[0].url == f"/intake/media/{photo}"

    for envelope in [e for e in outbox_envelopes(site.intake) if e.report_id == rid]:  # in intake's order, as its stream
        deliver(dispatch, envelope)
    dispatching.dispatch_to_lead_agency(dispatch.uow(), IOC, rid, "so-gtvt", "Đề nghị kiểm tra, xử lý")
    [sent] = [e for e in outbox_envelopes(dispatch) if e.report_id == rid and e.type.endswith("ReportDispatched")]
    carried = sent.decode()
    assert (carried.tracking_code, carried.address_text) == (event.tracking_code, "120 Lý Thường Kiệt, Đồng Hới")
    assert carried.HasField("location") and [m.id for m in carried.media] == [photo]

    assert deliver(handling, sent).value == "applied"
    client = TestClient(handling_boot.build_http(handling, directory=FakeOrgDirectory()))
    coordinator = {"Authorization": "Bearer " + token_for(settings, "sogtvt", ["agency_coordinator"], "so-gtvt")}
    case = client.get(f"/api/handling/v1/cases/{rid}", headers=coordinator).json()
    assert case["tracking_code"] == event.tracking_code and case["description"] == event.description
    assert case["address_text"] == "120 Lý Thường Kiệt, Đồng Hới" and case["location"]["lat"] == pytest.approx(event.location.lat)
    assert case["media"] == [{"id": photo, "media_type": "image/jpeg", "url": f"/intake/media/{photo}/public"}]
    page = client.get(f"/handling/cases/{rid}", headers=coordinator)
    assert page.status_code == 200 and "Ổ gà sâu khoảng 30 cm" in page.text and f'src="/intake/media/{photo}/public"' in page.text
    assert event.tracking_code in page.text
    stranger = {"Authorization": "Bearer " + token_for(settings, "sotnmt", ["agency_coordinator"], "so-tnmt")}
    assert client.get(f"/api/handling/v1/cases/{rid}", headers=stranger).status_code == 404  # another agency: no case at all

    # the photo, as the lead agency's people open it: intake serves its metadata-free copy to those handling the case
    # (handling says who, asked with the person's own token), and to nobody of another agency
    shown = site.client.get(f"/intake/media/{photo}/public", headers=coordinator)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert b"GPS" not in shown.content[:4096]
    assert site.client.get(f"/intake/media/{photo}", headers=coordinator).status_code == 200  # the original, too
    for path in (f"/intake/media/{photo}/public", f"/intake/media/{photo}"):
        assert site.client.get(path, headers=stranger).status_code == 404
    steering = {"Authorization": "Bearer " + token_for(settings, "bcd", ["steering_member"], "ban-chi-dao")}
    assert site.client.get(f"/intake/media/{photo}/public", headers=steering).status_code == 200
