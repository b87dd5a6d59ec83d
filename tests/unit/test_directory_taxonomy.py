"""The taxonomy file and topic edits: groups and topics with validity, each refusal naming its row."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from paht.runtime.errors import NotFound
from services.dispatch.domain.directory_format import ImportRefused, load_yaml
from services.dispatch.domain.taxonomy import WHAT, as_document, dump_taxonomy, edit_topic, parse_taxonomy

SEED = Path(__file__).resolve().parents[2] / "services" / "dispatch" / "seed" / "taxonomy.yaml"


def seed():
    return parse_taxonomy(load_yaml(SEED.read_text(encoding="utf-8"), WHAT))


def doc(*topics, **group) -> dict:
    g = {"code": "security", "name": "An ninh trật tự, an toàn giao thông", "valid_from": "2022-05-05",
         "topics": list(topics) or [{"code": "crime", "name": "Hoạt động tội phạm", "fields": ["a"]}]}
    g.update(group)
    return {"format": "paht-taxonomy/1", "groups": [g]}


def test_the_seed_has_five_groups_and_twenty_one_topics_in_order_with_fields():
    groups, topics = seed()
    assert [g.code for g in groups] == ["covid", "security", "urban-order", "services-environment", "other"]
    assert len(topics) == 21 and [t.position for t in topics] == list(range(21))
    assert all(t.fields and t.group_name and t.group_name_en and t.in_force(date(2026, 1, 1)) for t in topics)
    assert not any(t.in_force(date(2022, 5, 4)) for t in topics)


def test_dump_and_read_back_is_identical():
    groups, topics = seed()
    text = dump_taxonomy(groups, topics)
    assert parse_taxonomy(load_yaml(text, WHAT)) == (groups, topics)
    assert dump_taxonomy(*parse_taxonomy(load_yaml(text, WHAT))) == text


@pytest.mark.parametrize("data, where, words", [
    (doc({"code": "crime", "name": "Tội phạm", "fields": ["a", "x"]}), "groups[0] (security).topics[0] (crime)",
     "unknown field(s) of competence x"),
    (doc({"code": "crime", "name": "Tội phạm"}), "groups[0] (security).topics[0] (crime)", "a topic needs at least one field"),
    (doc({"code": "crime", "name": "Tội phạm", "fields": ["a"]}, {"code": "crime", "name": "Lại", "fields": ["a"]}),
     "groups[0] (security).topics[1] (crime)", "duplicate code 'crime'"),
    (doc({"code": "Crime Stuff", "name": "Tội phạm", "fields": ["a"]}), "groups[0] (security).topics[0] (Crime Stuff)", "is not a code"),
    (doc({"code": "crime", "name": "Tội phạm", "fields": ["a"], "valid_from": "2021-01-01"}), "groups[0] (security).topics[0] (crime)",
     "outside its group's validity"),
    (doc({"code": "crime", "name": "Tội phạm", "fields": ["a"], "valid_to": "2020-01-01", "valid_from": "2022-05-05"}),
     "groups[0] (security).topics[0] (crime)", "is not after valid_from"),
    (doc(valid_to="2022-01-01"), "groups[0] (security)", "is not after valid_from"),
    (doc(topics=[]), "groups[0] (security)", "topics must be a list of at least one topic"),
])
def test_each_refusal_names_its_row(data, where, words):
    with pytest.raises(ImportRefused) as refused:
        parse_taxonomy(data)
    assert any(p.where == where and words in p.en for p in refused.value.problems), refused.value.problems


def test_a_topic_is_renamed_given_other_fields_or_retired_and_the_whole_is_checked_again():
    groups, topics = seed()
    renamed = edit_topic(topics, "crime", name="Tội phạm và vi phạm pháp luật", fields=["a", "n"])
    changed = next(t for t in renamed if t.code == "crime")
    assert changed.name == "Tội phạm và vi phạm pháp luật" and changed.fields == ["a", "n"]
    assert next(t for t in topics if t.code == "crime").name == "Hoạt động tội phạm, vi phạm pháp luật"  # the original is untouched
    retired = edit_topic(topics, "covid-violation", retire=True, valid_to=date(2023, 6, 1))
    _, checked = parse_taxonomy(as_document(groups, retired))
    gone = next(t for t in checked if t.code == "covid-violation")
    assert gone.in_force(date(2023, 5, 31)) and not gone.in_force(date(2023, 6, 1))
    with pytest.raises(ImportRefused):
        parse_taxonomy(as_document(groups, edit_topic(topics, "crime", fields=["z"])))
    with pytest.raises(NotFound):
        edit_topic(topics, "no-such-topic", name="x")
