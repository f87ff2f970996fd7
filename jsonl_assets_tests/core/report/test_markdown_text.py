"""Text that is not ours (record values, config strings, file names) cannot change the
structure of DATACARD.md or the Dagster metadata's tables: rendered by a real Markdown parser
(markdown-it, GFM tables, raw HTML on), hostile values add no heading, list item, table row or
HTML token, and render as themselves with their control and bidi characters made visible."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.datacard import render_datacard
from jsonl_assets.core.report.markdown_text import (
    is_invisible,
    md_code,
    md_list,
    md_table,
    md_text,
    visible,
    visible_value,
)

markdown_it = pytest.importorskip("markdown_it")

HOSTILE = [
    "!`",
    "<img src=x onerror=alert(1)>",
    "BSD\n# INJECTED HEADING",
    "GPL\r| fake | row |",
    "a\x00b\u202eevil\u2066",
    "x`<img src=x>`.jsonl",
    "```",
    " `a` ",
    "\\|pipe\\",
    "&amp; &#60;b&#62;",
    "<!--<script>",
    "$\\frac{1}{2}$ **bold** _it_ [link](http://x) ~~s~~",
    "# head",
    "- item",
    "1. item",
    "    indented",
    "---",
    "> quote",
    "a\u2028b",
    "support_chats a_b_ __init__ x__y__z _é_ü_ *a*b*",
]


def _parser() -> Any:
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")


def _structure(text: str) -> tuple[list[str], list[int], list[str], int]:
    """Headings, each table's row count, HTML tokens, and list items."""
    tokens = _parser().parse(text)
    headings, rows, html = [], [], []
    items = 0
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            headings.append(tokens[i + 1].content)
        if t.type == "table_open":
            rows.append(0)
        if t.type == "tr_open":
            rows[-1] += 1
        if t.type == "list_item_open":
            items += 1
        if t.type == "html_block":
            html.append(t.content)
        for child in (t.children or []) if t.type == "inline" else []:
            if child.type == "html_inline":
                html.append(child.content)
    return headings, rows, html, items


def _inline_text(text: str) -> str:
    """The rendered text of a one-paragraph (or one-cell) document, code spans included."""
    tokens = _parser().parse(text)
    inline = next(t for t in tokens if t.type == "inline")
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_renders_as_itself(value: str) -> None:
    # Plain text as it is (`visible`); a code span as a value (`visible_value`: its spaces too).
    for markdown, show in (
        (md_text(value, line_start=True), visible),
        ("x " + md_code(value), visible_value),
    ):
        headings, rows, html, items = _structure(markdown)
        assert (headings, rows, html, items) == ([], [], [], 0), markdown
        shown = _inline_text(markdown).removeprefix("x ")
        assert shown == show(value)
    assert "\n" not in visible(value) and "\r" not in visible(value)
    assert "\x00" not in visible(value) and "\u202e" not in visible(value)


def test_hostile_cells_keep_the_table() -> None:
    table = md_table(["value", "code", "n"], [[v, md_code(v, in_table=True), 1] for v in HOSTILE])
    headings, rows, html, items = _structure(table)
    assert (headings, rows, html, items) == ([], [1 + len(HOSTILE)], [], 0)
    cells = [t for t in _parser().parse(table) if t.type == "inline"][3:]
    for i, value in enumerate(HOSTILE):
        text_cell, code_cell = cells[3 * i], cells[3 * i + 1]
        assert "".join(c.content for c in text_cell.children) == visible(value)
        assert "".join(c.content for c in code_cell.children) == visible_value(value)


def _hostile_data(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["dataset"].update(
        name="t2 <b>bold</b>\n## INJECTED-FROM-NAME",
        description="desc\n\n# INJECTED\n<script>alert(1)</script>",
        license="MIT\r| x | y |",
        contact="a`b\n- fake bullet",
        tags=["t\n# TAG-HEADING"],
    )
    for source in data["sources"]:
        source["license"] = "SRC\n# SRC-LICENCE-HEADING"
    for f in data["source_files"]:
        f["file"] = "x`<img src=x onerror=alert(1)>`\n# F.jsonl"
    for cell in data["cells"]:
        for counts in cell["licences"].values():
            counts["values"] = {v: 1 for v in HOSTILE}
    return data


def test_the_card_keeps_its_structure_whatever_the_values(
    tiny_package: Path, tiny_data: dict[str, Any]
) -> None:
    cfg = load_config(tiny_package)
    plain = _structure(render_datacard(cfg, tiny_data).decode())
    card = render_datacard(cfg, _hostile_data(tiny_data)).decode()
    headings, rows, html, items = _structure(card)
    assert html == []
    name = _hostile_data(tiny_data)["dataset"]["name"]
    assert headings[0] == "Dataset card: " + md_text(name)
    assert headings[1:] == plain[0][1:]
    assert rows == plain[1]
    assert items >= plain[3]
    inline = [t.content for t in _parser().parse(card) if t.type == "inline"]
    assert not [t for t in inline if t.startswith(("fake", "INJECTED", "TAG", "F.jsonl"))]
    assert "\r" not in card and "\u202e" not in card and "\x00" not in card


def test_the_dagster_tables_keep_their_structure(tiny_data: dict[str, Any]) -> None:
    from jsonl_assets.defs.report_metadata import report_tables

    data = copy.deepcopy(tiny_data)
    plain = {k: _structure(v) for k, v in report_tables(data).items()}
    for cell in data["cells"]:
        cell["grading_types"] = {v: 1 for v in HOSTILE}
        cell["sources"] = {v: {"records": 1, "chars": 1} for v in HOSTILE}
    data["quarantine"]["examples"] = {
        r: [{"trace": {"file": HOSTILE[i % len(HOSTILE)], "line": 1}}]
        for i, r in enumerate(data["quarantine"]["by_reason"])
    }
    for key, text in report_tables(data).items():
        headings, rows, html, items = _structure(text)
        assert (headings, html, items) == ([], [], 0), key
        if key != "report_mixture":  # a row per source
            assert rows == plain[key][1], key


INVISIBLE = {
    "\u200b": "\\u200b",  # zero-width space (Cf)
    "\u2060": "\\u2060",  # word joiner (Cf)
    "\ufeff": "\\ufeff",  # BOM (Cf)
    "\u00ad": "\\u00ad",  # soft hyphen (Cf)
    "\u200d": "\\u200d",  # zero-width joiner (Cf): an emoji ZWJ sequence shows it
    "\U000e0041": "\\U000e0041",  # tag character (Cf)
    "\ue000": "\\ue000",  # private use (Co)
    "\U0010fffe": "\\U0010fffe",  # a noncharacter, unassigned (Cn)
    "\x85": "\\u0085",  # NEL (Cc)
    "\u2029": "\\u2029",  # paragraph separator (Zp)
}


@pytest.mark.parametrize("char", sorted(INVISIBLE))
def test_every_invisible_character_is_an_escape(char: str) -> None:
    """`MIT` and `MIT` + an invisible character never look alike, in text or in code."""
    shown = INVISIBLE[char]
    assert visible(f"MIT{char}") == f"MIT{shown}"
    assert md_code(f"MIT{char}") == f"`MIT{shown}`"
    assert md_text(f"MIT{char}") == "MIT" + shown.replace("\\", "\\\\")
    assert _rendered_text(md_text(f"MIT{char}")) == f"MIT{shown}"


def test_ordinary_text_stays_as_it_is() -> None:
    text = "Ça va? naïve café 日本語 한국어 e\u0301 👩🏽 نص עברית ‘quotes’ – NBSP\u00a0"
    assert visible(text) == text


def _rendered_text(markdown: str) -> str:
    tokens = _parser().parse(markdown)
    return "".join(c.content for t in tokens for c in t.children or [] if c.type == "text")


# Default_Ignorable_Code_Point characters outside Cc/Cf/Cn (Mn, Lo: drawn as nothing), and
# characters drawn as a blank glyph: each was shown raw before (`MIT` + U+034F read `MIT`).
IGNORABLE = [
    "\u034f",  # COMBINING GRAPHEME JOINER (Mn)
    "\u115f", "\u1160", "\u3164", "\uffa0",  # Hangul fillers (Lo)
    "\u17b4", "\u17b5",  # Khmer inherent vowels (Mn)
    "\u180b", "\u180f",  # Mongolian free variation selectors (Mn)
    "\ufe00", "\ufe0f", "\U000e0100", "\U000e01ef",  # variation selectors (Mn)
    "\u2800", "\U0001d159",  # BRAILLE PATTERN BLANK, MUSICAL SYMBOL NULL NOTEHEAD (So, blank)
]  # fmt: skip


@pytest.mark.parametrize("char", IGNORABLE, ids=lambda c: f"U+{ord(c):04X}")
def test_default_ignorable_and_blank_characters_are_escapes(char: str) -> None:
    """The card's code spans and text, report.html's values and the chart labels (one test,
    `is_invisible`) write them as escapes: `MIT` + one of them never looks like `MIT`."""
    from jsonl_assets.core.report.charts import _label
    from jsonl_assets.core.report.html_report import _quoted

    code = ord(char)
    shown = f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    assert is_invisible(char)
    assert visible(f"MIT{char}") == visible_value(f"MIT{char}") == f"MIT{shown}"
    assert md_code(f"MIT{char}") == f"`MIT{shown}`"
    assert _quoted(f"MIT{char}") == f'"MIT{shown}"'
    assert _label(f"MIT{char}") == f"MIT{shown}"


def test_every_default_ignorable_code_point_is_invisible() -> None:
    """The whole property (DerivedCoreProperties.txt, Unicode 14.0-16.0: 4,174 code points),
    whatever their category; the characters just outside each range stay as they are."""
    ranges = [
        (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
        (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
        (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    ]  # fmt: skip
    codes = [c for first, last in ranges for c in range(first, last + 1)]
    assert len(codes) == 4174
    assert all(is_invisible(chr(c)) for c in codes)
    assert not any(is_invisible(c) for c in "\u034e\u0350\u115e\u1161\u3163\u3165\ufdff\u2801")
    assert visible("❤\ufe0f") == "❤\\ufe0f"  # an emoji's presentation selector shows too


LINKABLE = [
    "www.evil.example",
    "links www.evil.example here",
    "Official mirror: www.evil.example/download - login at https://evil.example/login",
    "mail admin@evil.example or ADMIN+x@EVIL.EXAMPLE.",
    "WWW.EVIL.EXAMPLE and HTTP://EVIL.EXAMPLE",
    "www.evil.example.jsonl:2",
    "ftp://evil.example/x mailto:a@evil.example xmpp:b@evil.example/r",
    "x|www.evil.example|https://evil.example|a@evil.example",
    "`www.evil.example` *https://evil.example* _www.evil.example_ (www.evil.example)",
    "~www.evil.example~ [a@evil.example](https://evil.example) <https://evil.example>",
    "a_b@evil.example\u200bwww.evil.example",
    "- www.evil.example",
]
# GFM's autolink literals as remark-gfm (the Dagster UI) finds them: in each text node, after
# backslash escapes and entities are resolved (mdast-util-gfm-autolink-literal's patterns).
_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.I | re.A)
_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.A)


def _autolinked(markdown: str) -> list[str]:
    """What a GFM renderer would link: a literal in a text node (escapes resolved: a backslash
    does not hide it from remark-gfm), or a link markdown-it itself parsed."""
    found = []
    for token in _parser().parse(markdown):
        for child in token.children or [] if token.type == "inline" else []:
            if child.type == "text":
                found += [m.group() for m in (*_URL.finditer(child.content),
                                              *_EMAIL.finditer(child.content))]  # fmt: skip
            if child.type == "link_open":
                found.append(str(child.attrs.get("href")))
    return found


@pytest.mark.parametrize("value", LINKABLE)
def test_no_value_becomes_a_gfm_autolink(value: str) -> None:
    """A `www.` or `scheme://` word or an e-mail address is a link in GFM without brackets
    (spec 6.9, on GitHub, the Hugging Face Hub and in the Dagster UI); md_text writes such a
    word as a code span: it reads as it is, no renderer links it. Before: only Markdown's
    inline characters were escaped, and `www.evil.example` in a dataset's name or a file name
    in a Dagster table was a link."""
    for markdown in (md_text(value), md_text(value, line_start=True), md_list([value])):
        assert _autolinked(markdown) == [], markdown
        assert _structure(markdown)[:3] == ([], [], [])
    assert _inline_text(md_text(value, line_start=True)) == visible(value)
    table = md_table(["value", "n"], [[value, 1], ["b", 2]])
    assert _autolinked(table) == [] and _structure(table)[1] == [3], table
    cell = [t for t in _parser().parse(table) if t.type == "inline"][2]
    assert "".join(c.content for c in cell.children or []) == visible(value)


def test_text_without_a_link_is_written_as_before() -> None:
    for value in ("support_chats", "a @ b", "3.5 www", "x.y:z", "user@host", "http:/x"):
        assert "`" not in md_text(value), value


def test_a_long_unbroken_run_is_escaped_in_one_pass() -> None:
    """200,000 characters with no space, `|` or backtick (CJK prose, base64), a link word
    after them: the old pattern retried the rest of the run at every position (a 40,000
    character description took a minute in the build and in `report`; this, ~15 minutes)."""
    run = "中" * 200_000
    assert md_text(f"{run}_x www.example.org a@b.cd") == f"{run}_x `www.example.org` `a@b.cd`"
    assert md_text(f"{run}www.x.org") == f"`{run}www.x.org`"  # one word: one code span
