"""The charts draw every label from the data as literal text (no mathtext: `$\\foo$` neither
fails nor turns into maths), take any category name (`²` is not a number), and order tied
categories (`3`, `03`, `003`) the same whatever order they came in."""

from __future__ import annotations

import copy
import itertools
import warnings
from html import escape
from typing import Any

from jsonl_assets.core.report.charts import (
    MIXTURE_SOURCES,
    _label,
    category_order,
    count_chart,
    draw_all,
    mixture_chart,
)

HOSTILE = ["$\\foo$", "a$b$c", "²", "3", "03", "003", "10", "exact_match", "$x^2$"]


def _rft_data(data: dict[str, Any], types: list[str]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    rft = [c for c in data["cells"] if c["objective"] == "rft"]
    assert rft
    for cell in rft:
        cell["grading_types"] = {t: i + 1 for i, t in enumerate(types)}
    return data


def test_data_labels_are_drawn_as_text(tiny_data: dict[str, Any]) -> None:
    data = _rft_data(tiny_data, HOSTILE)
    data["quarantine"]["by_reason"] = {"adapter:$\\bad$": 2, **data["quarantine"]["by_reason"]}
    svgs = draw_all(data)
    chart = svgs["grading_types"]
    assert chart is not None
    for label in HOSTILE:
        assert f">{escape(label, quote=False)}<" in chart, label
    assert ">adapter:$\\bad$<" in (svgs["quarantine"] or "")


def test_tied_categories_have_one_order() -> None:
    orders = {tuple(category_order(p)) for p in itertools.permutations(["3", "03", "003", "²"])}
    assert orders == {("003", "03", "3", "²")}
    assert category_order(["10", "9", "b", "a", "٣"]) == ["9", "10", "a", "b", "٣"]


def test_the_chart_does_not_depend_on_the_order_of_the_counts(tiny_data: dict[str, Any]) -> None:
    one = _rft_data(tiny_data, ["3", "03", "003", "exact_match"])
    other = copy.deepcopy(one)
    for cell in other["cells"]:
        cell["grading_types"] = dict(reversed(list(cell["grading_types"].items())))
    drawn = [
        count_chart(d["cells"], "grading_types", "grading types", "grading.type")
        for d in (one, other)
    ]
    assert drawn[0] == drawn[1]


def test_labels_with_invisible_characters_are_drawn_as_escapes(tiny_data: dict[str, Any]) -> None:
    """A grading type, source or reason holding a bidi control, a zero-width space or spaces
    that would not show is drawn as report.html shows values (markdown_text.visible_value):
    the SVG text holds none of them raw (before: `\\u202e` reversed the label)."""
    data = _rft_data(tiny_data, ["\u202eTIM", "MIT\u200b", "", " ", "a  b"])
    data["quarantine"]["by_reason"] = {"quality:x\u2066": 2, **data["quarantine"]["by_reason"]}
    for cell in data["cells"]:
        cell["sources"] = {f"{s}\u200b": v for s, v in cell["sources"].items()}
    svgs = draw_all(data)
    for name in ("grading_types", "mixture", "quarantine"):
        assert not set(svgs[name] or "") & set("\u202e\u200b\u2066"), name
    chart = svgs["grading_types"] or ""
    for label in ("\\u202eTIM", "MIT\\u200b", '""', "\\u0020", "a\\u0020\\u0020b"):
        assert f">{escape(label, quote=False)}<" in chart, label
    assert ">quality:x\\u2066<" in (svgs["quarantine"] or "")


def test_the_empty_category_has_a_label_no_other_value_has() -> None:
    """The category "" is drawn `""`, as report.html and the card write the empty string;
    a value's own `"` is an escape, so neither `empty string` nor `""` itself share it
    (before: "" and "empty string" both read `empty string`)."""
    from jsonl_assets.core.report.html_report import _quoted
    from jsonl_assets.core.report.licences import LicenceCounts
    from jsonl_assets.core.report.markdown_text import md_code

    values = ["", "empty string", '""', '"', " ", "\u00a0"]
    labels = [_label(v) for v in values]
    assert labels[0] == '""' and len(set(labels)) == len(values)
    assert len({_quoted(v) for v in values}) == len(values) and _quoted("") == '""'
    counts = LicenceCounts()
    counts.values.update({v: 1 for v in values})
    assert counts.describe(_quoted).startswith('"" 1, ')
    assert counts.describe(md_code).startswith('"" 1, ')
    assert md_code("") == '""' and md_code('""') == '`""`'


def _many_sources(n: int) -> list[dict[str, Any]]:
    """Two cells fed by `n` sources of 1..n records (sft/train has them all)."""
    sources = {f"s{i:04d}": {"records": i + 1, "chars": 10 * (i + 1)} for i in range(n)}
    return [
        {"objective": "sft", "split": "train", "sources": sources},
        {"objective": "sft", "split": "test", "sources": dict(list(sources.items())[:3])},
    ]


def test_the_mixture_chart_is_bounded_whatever_the_number_of_sources() -> None:
    few, many = mixture_chart(_many_sources(MIXTURE_SOURCES)), mixture_chart(_many_sources(400))
    assert len(many) < 1.2 * len(few), (len(few), len(many))
    assert f"other ({400 - MIXTURE_SOURCES + 1} sources)" in many
    assert "s0399" in many and "s0000" not in many  # the largest are shown by name
    assert "other (" not in few and "s0000" in few  # up to the bound: every source


def test_characters_the_layout_font_lacks_warn_nothing(tiny_data: dict[str, Any]) -> None:
    """32 CJK grading types gave 960 raw matplotlib warnings on the console of a report
    that exits 0 (the SVG keeps text as text: the browser's fonts draw it)."""
    cells = copy.deepcopy(tiny_data["cells"])
    cells[0]["grading_types"] = {chr(0x4E00 + i) * 3: 1 for i in range(32)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = count_chart(cells, "grading_types", "grading types", "grading.type")
    assert svg is not None and chr(0x4E00) * 3 in svg
