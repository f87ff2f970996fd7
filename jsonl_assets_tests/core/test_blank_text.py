"""The one definition of whitespace and blank text (blank_text.py), at its boundaries."""

from __future__ import annotations

import sys

import pytest

from jsonl_assets.core.blank_text import (
    WHITESPACE,
    count_words,
    is_blank,
    is_whitespace_only,
    strip_whitespace,
)

# Control characters (category Cc, White_Space=No) that Python's str.isspace() counts.
INFO_SEPARATORS = "\x1c\x1d\x1e\x1f"
# Unicode's White_Space property, as PropList.txt lists it.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def test_whitespace_is_unicode_white_space_not_str_isspace() -> None:
    assert WHITESPACE == WHITE_SPACE
    isspace = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert isspace == "".join(sorted(WHITE_SPACE + INFO_SEPARATORS))


@pytest.mark.parametrize("char", [*INFO_SEPARATORS, "\x01", "\x1b", "\x7f"])
def test_control_characters_are_content(char: str) -> None:
    assert not is_whitespace_only(char)
    assert not is_whitespace_only(f" {char} ")
    assert not is_blank(char)
    assert not is_blank(f"\u200b{char}\u3000")
    assert strip_whitespace(f" {char}\u3000") == char


@pytest.mark.parametrize("char", list(WHITE_SPACE))
def test_every_white_space_character_is_whitespace_and_blank(char: str) -> None:
    assert is_whitespace_only(char)
    assert is_blank(char)
    assert strip_whitespace(f"{char}a{char}") == "a"


def test_empty_text_is_blank_but_not_whitespace() -> None:
    assert is_blank("")
    assert not is_whitespace_only("")


@pytest.mark.parametrize("sep", [*INFO_SEPARATORS, "\x01", "\u200b"])
def test_control_and_format_characters_do_not_separate_words(sep: str) -> None:
    """The report's word counts: str.split() would count `a\x1fb` as two words."""
    assert count_words(f"a{sep}b c") == 2
    assert count_words(sep) == 1


@pytest.mark.parametrize("sep", WHITE_SPACE)
def test_every_white_space_character_separates_words(sep: str) -> None:
    assert count_words(f"{sep}a{sep}{sep}b{sep}") == 2
    assert count_words(sep * 3) == 0
