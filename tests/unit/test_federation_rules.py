"""Federation's rules in one place (paht/runtime/federation.py): who handles what, names, settings checks."""
from __future__ import annotations

import pytest

from paht.runtime import federation
from paht.runtime.events.envelope import Envelope, stream_for
from paht.runtime.settings import Settings
from paht.sync.v1 import events_pb2 as sync_ev


def test_a_hub_handles_its_agencies_only_once_the_province_declares_it():
    assert federation.hosting_node((), "donghoi") == ""  # a province alone handles everything itself
    assert federation.hosting_node(("donghoi",), "donghoi") == "donghoi"
    assert federation.hosting_node(("donghoi",), "") == ""
    assert federation.hosting_node(("donghoi",), "quangtrach") == ""  # not declared: the province


@pytest.mark.parametrize("seen_from, hubs, parent, hub_node, where", [
    ("province", (), "", "donghoi", "province"),            # alone
    ("province", ("donghoi",), "", "donghoi", "donghoi"),   # the province: a declared hub's organisation is there
    ("province", ("donghoi",), "", "", "province"),
    ("donghoi", (), "province", "donghoi", "donghoi"),      # the hub: its own organisations
    ("donghoi", (), "province", "", "province"),            # and every other one at the province
    ("donghoi", (), "province", "quangtrach", "province"),
])
def test_where_an_organisations_work_is_done(seen_from, hubs, parent, hub_node, where):
    assert federation.handled_on(seen_from, hubs, parent, hub_node) == where


def test_settings_refuse_bad_node_names_and_a_node_that_is_both_province_and_hub():
    assert federation.peers(Settings(hubs="donghoi, quangtrach")) == ["donghoi", "quangtrach"]
    assert federation.peers(Settings(node_id="donghoi", parent_node="province")) == ["province"]
    assert federation.role(Settings(node_id="donghoi", parent_node="province")) == "hub"
    for bad in ({"hubs": "Dong Hoi"}, {"hubs": "donghoi", "parent_node": "province"}, {"hubs": "province"},
                {"node_id": "donghoi", "parent_node": "donghoi"}, {"parent_node": "x.y"}):
        with pytest.raises(ValueError):
            Settings(**bad)


def test_names_of_the_streams_that_cross_and_of_the_inbound_stream():
    assert stream_for("province", federation.outbound_service("donghoi")) == ("PAHT_PROVINCE_FOR_DONGHOI", "paht.province.for-donghoi.>")
    assert federation.inbound_stream("donghoi") == ("PAHT_DONGHOI_INBOUND", "pahtfed.donghoi.>")
    assert federation.inbound_subject("province", "donghoi", "handling", "paht.handling.v1.ResultApproved") == \
        "pahtfed.province.donghoi.handling.ResultApproved"
    assert federation.copy_id("donghoi", "e1") == federation.copy_id("donghoi", "e1") != federation.copy_id("quangtrach", "e1")
    assert federation.inbox_prefix(Settings(node_id="donghoi", parent_node="province")) == "_INBOX_donghoi"
    assert federation.inbox_prefix(Settings()) == "_INBOX"


def test_another_nodes_events_are_counted_apart_from_this_nodes():
    event = sync_ev.OwnershipRecalled(node_id="donghoi", epoch=1)
    mine = Envelope.for_event(event, node_id="province", service="sync", report_id="r1", version=1)
    theirs = Envelope.for_event(event, node_id="donghoi", service="sync", report_id="r1", version=1)
    assert mine.position_key("province") == "sync:r1"  # as before federation: stored positions stay valid
    assert theirs.position_key("province") == "donghoi.sync:r1"
    assert theirs.origin_node == "donghoi" and mine.position_key("donghoi") == "province.sync:r1"
    # a hub's read-only copy is a sequence of its own, beside what the province sends the hub as the owner
    copy = Envelope.for_event(event, node_id="province", service="sync", report_id="r1", version=1, id="c1")
    copy.extra[federation.COPY_HEADER] = "area"
    assert copy.position_key("donghoi") == "province.sync+copy:r1" != mine.position_key("donghoi")
    assert federation.copy_id("donghoi", "e1", "area") != federation.copy_id("donghoi", "e1")
    assert federation.copy_subject("donghoi", "province", "dispatch", "paht.dispatch.v1.ReportPlaced") == \
        "pahtcopy.donghoi.province.dispatch.ReportPlaced"
    assert federation.copies_stream("donghoi") == ("PAHT_DONGHOI_COPIES", "pahtcopy.donghoi.>")
