"""Rows written before the versioned directory keep working after its migration, and become revision 1."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from paht.runtime import db, migrations
from paht.runtime.host import build_context
from paht.runtime.ids import DIRECTORY_ID, TAXONOMY_ID
from services.dispatch.bootstrap import SPEC, seed
from services.dispatch.service_layer import directory, directory_admin
from tests.support.services import outbox_envelopes

pytestmark = pytest.mark.integration
BEFORE = "2a6f6768ed9f"  # the last revision before the versioned directory
UNITS = [  # id, code, kind, parent
    ("qb", "44", "province", None), ("dh", "450", "district", "qb"), ("dh-ioc", "IOC-DH", "ioc", "dh"),
    ("w1", "18853", "ward", "dh"), ("ioc", "IOC-QB", "ioc", "qb"), ("sxd", "SXD", "department", "qb"), ("sxd-vp", "SXD-VP", "unit", "sxd"),
]


def test_existing_units_and_topics_get_areas_groups_and_their_first_revision(settings):
    migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata, revision=BEFORE)
    engine = db.make_engine(settings, "dispatch")
    try:
        with engine.begin() as conn:
            for unit_id, code, kind, parent in UNITS:
                conn.execute(text("INSERT INTO org_units (id, code, name, name_en, kind, parent_id, hub_node, can_lead, fields, valid_from,"
                                  " valid_to, replaces) VALUES (:id, :code, :name, '', :kind, :parent, '', :lead, :fields,"
                                  " '2022-05-05', NULL, '[]')"),
                             {"id": unit_id, "code": code, "name": f"Đơn vị {code}", "kind": kind, "parent": parent,
                              "lead": kind == "department", "fields": '["c"]' if kind == "department" else "[]"})
            for code, group, name in (("crime", "security", "An ninh"), ("littering", "urban-order", "Trật tự đô thị"),
                                      ("traffic", "security", "An ninh")):
                conn.execute(text("INSERT INTO topics (code, name, name_en, group_code, group_name, fields, urgent_hint)"
                                  " VALUES (:code, :code, '', :group, :name, '[\"a\"]', false)"),
                             {"code": code, "group": group, "name": name})
        migrations.upgrade(SPEC.migrations, settings, "dispatch", SPEC.metadata)
        ctx = build_context(SPEC, settings)
        try:
            units = {u.id: u for u in directory_admin.units_serving(ctx.uow(), "18853", directory.today())}
            order = list(units)  # the ward, its district's units, then the province's (lead agencies first)
            assert order[:3] == ["w1", "dh", "dh-ioc"] and order[3] == "sxd" and set(order[4:]) == {"qb", "ioc", "sxd-vp"}
            assert units["dh-ioc"].kind == "district_ioc" and units["sxd-vp"].areas == ["44"] and units["dh"].areas == ["450"]
            with ctx.uow() as uow:
                assert [(g.code, g.name) for g in uow.directory.groups()] == [("security", "An ninh"), ("urban-order", "Trật tự đô thị")]
            assert seed(ctx)["org_units"] == 0  # nothing loaded over existing rows...
            (units_event,) = [e for e in outbox_envelopes(ctx) if e.report_id == DIRECTORY_ID]
            (topics_event,) = [e for e in outbox_envelopes(ctx) if e.report_id == TAXONOMY_ID]
            assert units_event.report_version == 1 and len(units_event.decode().units) == len(UNITS)  # ...but they are revision 1
            assert len(topics_event.decode().topics) == 3
            assert directory_admin.list_revisions(ctx.uow(), "directory")[0]["source"] == "seed (existing rows)"
        finally:
            ctx.engine.dispose()
    finally:
        engine.dispose()
