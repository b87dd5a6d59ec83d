"""Topic suggestions for a report's text, over the province's own taxonomy (its names and keywords)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.dispatch.domain.taxonomy import parse_taxonomy
from services.intake.domain.taxonomy import Topic, suggest

SEED = Path(__file__).resolve().parents[2] / "services" / "dispatch" / "seed" / "taxonomy.yaml"


@pytest.fixture(scope="module")
def topics() -> list[Topic]:
    _, parsed = parse_taxonomy(yaml.safe_load(SEED.read_text(encoding="utf-8")))
    return [Topic(t.code, t.name, t.group_code, t.group_name, tuple(t.keywords)) for t in parsed]


@pytest.mark.parametrize("text, first", [
    ("Rác thải đổ bừa bãi ven sông Nhật Lệ", "littering"),
    ("Ổ gà lớn giữa đường Quang Trung", "transport-telecom-infra"),
    ("Đèn chiếu sáng công cộng bị hỏng", "utilities-lighting"),
    ("Mất điện cả khu phố từ sáng", "utilities-lighting"),
    ("Xây dựng trái phép lấn chiếm vỉa hè", "street-encroachment"),
    ("Khói bụi ô nhiễm từ nhà máy", "pollution"),
    ("Quán ăn mất vệ sinh thực phẩm", "food-safety"),
    ("tai nan giao thong o nga tu", "traffic-safety"),          # typed without diacritics
    ("Cống thoát nước bị tắc gây ngập", "waste"),
    ("Cây đổ chắn ngang đường sau bão", "disaster-epidemic"),
    ("Karaoke hát to đến nửa đêm", "public-order"),
])
def test_the_best_suggestion_is_the_topic_a_person_would_pick(topics, text, first):
    suggested = suggest(topics, text)
    assert suggested and suggested[0].code == first and len(suggested) <= 3


def test_nothing_telling_suggests_nothing(topics):
    assert suggest(topics, "") == [] and suggest(topics, "của và những") == [] and suggest([], "rác") == []


def test_keywords_are_what_make_a_word_count(topics):
    without = [Topic(t.code, t.name, t.group_code, t.group_name) for t in topics]
    assert not any(t.code == "transport-telecom-infra" for t in suggest(without, "ổ gà"))
    assert suggest(topics, "ổ gà")[0].code == "transport-telecom-infra"
