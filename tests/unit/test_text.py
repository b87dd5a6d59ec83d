"""The one text cleaner: what it refuses, in one line and in several."""
from __future__ import annotations

import pytest

from paht.runtime.errors import InvalidInput
from paht.runtime.text import Label, clean_identifier, clean_text

TITLE = Label("Title", "Tiêu đề")


@pytest.mark.parametrize("bad", ["a\x00b", "ab\u202ecd", "ab\u2067cd", "a\x7fb", "a\tb", "a\nb"])
def test_a_one_line_text_refuses_controls_tabs_line_breaks_and_direction_changes(bad):
    with pytest.raises(InvalidInput) as refused:
        clean_text(bad, TITLE, 1, 100, multiline=False)
    assert refused.value.key == "error.bad_character" and "U+" in refused.value.detail_en


def test_a_text_of_several_lines_keeps_its_lines_and_tabs_but_not_nul():
    assert clean_text("dòng 1\n\tdòng 2", TITLE, 1, 100) == "dòng 1\n\tdòng 2"
    with pytest.raises(InvalidInput):
        clean_text("dòng 1\n\x00", TITLE, 1, 100)


def test_a_title_needs_a_letter_or_digit_and_is_nfc():
    with pytest.raises(InvalidInput):
        clean_text("\u200b\u200b\u0301\u0301", TITLE, 1, 100)
    assert clean_text("Đe\u0300n", TITLE, 1, 100) == "Đèn"
    assert clean_identifier(" so-gtvt ", Label("Unit", "Đơn vị")) == "so-gtvt"
