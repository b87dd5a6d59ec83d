

from services.sync.domain.ownership import Ownership

def test_ownership_follows_dispatch_with_fenced_epochs():
    own = Ownership(report_id="r1")
    assert own.follow_dispatch("", "so-gtvt") == (None, None) and own.node_id == "province"
    recalled, granted = own.follow_dispatch("donghoi", "donghoi-city")
    assert recalled is None and granted == ("donghoi", 1)
    assert own.accepts("donghoi", 1) and not own.accepts("donghoi", 0)
    recalled, granted = own.follow_dispatch("", "so-xd")
    assert recalled == ("donghoi", 1) and granted is None
    assert not own.accepts("donghoi", 1) and own.epoch == 2


def test_ownership_is_seen_by_the_ioc_and_by_its_lead_agency_only():
    from tests.support.services import principal

    own = Ownership(report_id="r1")
    own.follow_dispatch("", "so-gtvt")
    assert own.visible_to(principal("ioc", ["ioc_operator"], "ioc-tinh"))
    assert own.visible_to(principal("admin", ["ioc_admin"], "ioc-tinh"))
    assert own.visible_to(principal("sogtvt", ["agency_coordinator"], "so-gtvt"))
    assert not own.visible_to(principal("capnuoc", ["agency_coordinator"], "cty-capnuoc"))
    assert not own.visible_to(principal("canbo", ["staff"], "so-gtvt-kcht"))
    assert not Ownership(report_id="r2").visible_to(principal("nobody", ["staff"], ""))  # no lead agency yet: nobody's but the IOC's
