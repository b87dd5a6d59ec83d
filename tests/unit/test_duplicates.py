"""The measures behind duplicate suggestions, on real Vietnamese reports: text similarity (folded, names weigh less)
and the distance between two pins."""
from __future__ import annotations

import pytest

from services.intake.domain.similar import SIMILAR_TEXT, box_around, distance_m, similar_text, text_similarity, words

# (earlier report, new report): the same problem told again, with accents or without, shorter or longer.
SAME_PROBLEM = [
    ("Ổ gà lớn trên đường Quang Trung, đoạn trước số nhà 120", "Đường Quang Trung có ổ gà rất lớn trước nhà số 120"),
    ("Rác thải đổ trộm ven sông Nhật Lệ dưới chân cầu Nhật Lệ 2", "Rac thai bi do trom o chan cau Nhat Le 2, ven song"),
    ("Đèn đường hỏng trên đường Lý Thường Kiệt", "Đèn chiếu sáng đường Lý Thường Kiệt không sáng, bị hỏng"),
    ("Cây xanh đổ chắn ngang đường Hữu Nghị sau bão", "Cây đổ chắn đường Hữu Nghị sau cơn bão tối qua"),
    ("Ổ gà trên đường Quang Trung. Ổ gà rộng nửa mét giữa làn xe máy, rất nguy hiểm vào ban đêm.",
     "Ổ gà Quang Trung. Đoạn trước số 120 Quang Trung có ổ gà to giữa đường, xe máy dễ ngã ban đêm."),
    ("Cống thoát nước bị tắc gây ngập khi mưa ở tổ 5 phường Bắc Lý", "Mưa to là ngập vì cống tắc, tổ 5 Bắc Lý"),
    ("Quán nhậu lấn chiếm lòng đường Trần Hưng Đạo buổi tối",
     "Quán nhậu chiếm hết lòng đường Trần Hưng Đạo, người đi bộ phải xuống đường"),
]
# Different problems, often in the same street or ward (what a reporter who reports often sends).
DIFFERENT_PROBLEMS = [
    ("Ổ gà lớn trên đường Quang Trung", "Đèn đường hỏng trên đường Quang Trung"),
    ("Rác thải đổ trộm ven sông Nhật Lệ", "Quán karaoke hát to sau 23 giờ ở phường Đồng Phú"),
    ("Lấn chiếm vỉa hè bán hàng trên đường Trần Hưng Đạo", "Xe tải đậu trên vỉa hè đường Trần Hưng Đạo"),
    ("Nước thải chảy tràn ra đường Nguyễn Hữu Cảnh", "Ống nước vỡ ở đường Nguyễn Hữu Cảnh gây ngập"),
    ("Chó thả rông cắn người ở thôn Cộng Hòa", "Đường thôn Cộng Hòa bị sạt lở sau mưa"),
    ("Cột điện nghiêng sắp đổ ở đường Lê Lợi", "Dây điện võng thấp ở đường Lê Lợi"),
]


@pytest.mark.parametrize("a, b", SAME_PROBLEM)
def test_the_same_problem_told_again_is_similar(a, b):
    assert similar_text(a, b) and similar_text(b, a), text_similarity(a, b)


@pytest.mark.parametrize("a, b", DIFFERENT_PROBLEMS)
def test_different_problems_in_the_same_street_are_not(a, b):
    assert not similar_text(a, b), text_similarity(a, b)


def test_the_threshold_sits_between_the_two_sets():
    lowest_same = min(text_similarity(a, b) for a, b in SAME_PROBLEM)
    highest_different = max(text_similarity(a, b) for a, b in DIFFERENT_PROBLEMS)
    assert highest_different < SIMILAR_TEXT <= lowest_same


def test_folding_ignores_accents_case_and_d_with_stroke():
    assert text_similarity("ĐƯỜNG ĐIỆN BIÊN PHỦ ngập nặng", "duong dien bien phu ngap nang") == 1.0
    assert set(words("Đập tràn Đồng Sơn")) == {"dap", "tran", "dong", "son"}


def test_names_inside_a_sentence_count_for_less_and_address_words_not_at_all():
    weights = words("Cống tắc ở đường Lý Thường Kiệt, phường Đồng Phú")
    assert weights["cong"] == 1.0 and weights["ly"] == weights["kiet"] == weights["phu"] == pytest.approx(0.3)
    assert "duong" not in weights and "phuong" not in weights and "o" not in weights


def test_identical_empty_and_unrelated_texts():
    assert text_similarity("Ổ gà giữa đường", "Ổ gà giữa đường") == 1.0
    assert text_similarity("", "Ổ gà giữa đường") == 0.0 and text_similarity("của và các", "những một có") == 0.0
    assert text_similarity("Ổ gà giữa đường", "Karaoke ồn ào") == 0.0


def test_distances_between_pins_in_dong_hoi():
    # about 120 m north and 120 m east of the city centre
    assert distance_m(17.4683, 106.6222, 17.4683, 106.6222) == 0.0
    assert distance_m(17.4683, 106.6222, 17.46938, 106.6222) == pytest.approx(120, abs=1)
    assert distance_m(17.4683, 106.6222, 17.4683, 106.62333) == pytest.approx(118, abs=2)
    assert distance_m(17.4683, 106.6222, 16.8163, 107.1003) == pytest.approx(88_000, rel=0.03)  # Đồng Hới to Đông Hà


def test_the_box_holds_every_point_within_the_radius_and_not_much_more():
    lat, lon = 17.4683, 106.6222
    (lat0, lat1), (lon0, lon1) = box_around(lat, lon, 250)
    for bearing_lat, bearing_lon in [(1, 0), (-1, 0), (0, 1), (0, -1)]:
        edge = (lat + bearing_lat * (lat1 - lat), lon + bearing_lon * (lon1 - lon))
        assert distance_m(lat, lon, *edge) == pytest.approx(250, abs=1)
    assert distance_m(lat, lon, lat1, lon1) == pytest.approx(250 * 2 ** 0.5, abs=2)
