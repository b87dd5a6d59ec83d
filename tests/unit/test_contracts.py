"""The contracts in proto/ compile, and every event body carries EventMeta as field 1."""
from __future__ import annotations

import importlib

from paht.runtime.events.envelope import EVENT_MODULES
from paht_build import generate_protos, proto_files


def test_protos_compile_into_a_fresh_folder(tmp_path):
    generate_protos(tmp_path)
    generated = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*_pb2.py"))
    assert len(generated) == len(proto_files())
    assert "paht/intake/v1/events_pb2.py" in generated and "paht/dispatch/v1/directory_pb2.py" in generated


def test_a_broken_proto_fails_the_build(tmp_path, monkeypatch):
    import paht_build

    root = tmp_path / "proto"
    (root / "paht" / "broken" / "v1").mkdir(parents=True)
    (root / "paht" / "broken" / "v1" / "x.proto").write_text('syntax = "proto3"; package paht.broken.v1; message X { strin a = 1; }')
    monkeypatch.setattr(paht_build, "PROTO_ROOT", root)
    try:
        paht_build.generate_protos(tmp_path / "out")
    except RuntimeError as exc:
        assert "protoc failed" in str(exc)
    else:
        raise AssertionError("a proto with a type error compiled")


def test_every_event_has_meta_first_and_a_versioned_package():
    count = 0
    for name in EVENT_MODULES:
        module = importlib.import_module(name)
        for message in module.DESCRIPTOR.message_types_by_name.values():
            assert message.full_name.split(".")[2] == "v1"
            meta = message.fields_by_number[1]
            assert meta.name == "meta" and meta.message_type.full_name == "paht.common.v1.EventMeta", message.full_name
            count += 1
    # submitted, accepted, refused, cancelled, edit requested, dispatched, escalated, emergency forwarded,
    # SLA warning/breach, refused by agency/unit, assigned, support requested/answered/refused,
    # drafted/approved/returned, clarification given, published, publication returned, rated,
    # clarification requested, ownership granted/recalled; directory, taxonomy and calendar published;
    # emergency acknowledged / not acknowledged; escalation withdrawn; return proposed / proposal declined;
    # support accepted; clarification drafted / returned; work logged; report reclassified; clarification published /
    # sent back (step 8 for a clarification); public media changed (the IOC's blur and withholding of a report's files);
    # report placed (in a hub's area: its read-only copy)
    assert count == 48


def test_intake_channels_and_refusal_reasons_match_their_proto_enums_both_ways():
    from paht.intake.v1 import events_pb2 as ev
    from services.intake.domain.vocabulary import Channel, RefusalReason
    from services.intake.service_layer.events import from_proto, to_proto

    for kind, proto_enum, field in [(Channel, ev.Channel, ev.ReportSubmitted.DESCRIPTOR.fields_by_name["channel"]),
                                    (RefusalReason, ev.RefusalReason, ev.ReportRefused.DESCRIPTOR.fields_by_name["reason"])]:
        assert field.enum_type.full_name == proto_enum.DESCRIPTOR.full_name
        for value in kind:
            assert from_proto(kind, to_proto(value)) is value
        specified = [n for n in proto_enum.values() if n != 0]  # 0 is UNSPECIFIED: never sent
        assert sorted(to_proto(from_proto(kind, n)) for n in specified) == sorted(specified)
        assert len(specified) == len(kind)


def test_publication_visibilities_match_their_proto_enum_both_ways():
    from paht.publication.v1 import events_pb2 as publication_ev
    from services.publication.domain.public_report import Visibility
    from services.publication.service_layer.handlers import visibility_to_proto

    numbers = {visibility_to_proto(v.value) for v in Visibility}
    named = {n for n in publication_ev.Visibility.keys() if n != "VISIBILITY_UNSPECIFIED"}
    assert numbers == {publication_ev.Visibility.Value(n) for n in named}
