"""report.html, as the build writes it: inline SVG charts for every section, no script that
runs, nothing a browser would fetch, the report data embedded, and the same bytes when drawn
again (matplotlib takes seconds here: marked slow); kept while its stamp matches."""

from __future__ import annotations

import copy
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report import report_data, report_dir, write_report
from jsonl_assets.core.report.html_report import render_html
from jsonl_assets.core.report.package_report import STAMP, current_report
from jsonl_assets.core.report.report_data import DATA_SCRIPT
from jsonl_assets_tests.core.report.independent import (
    cell_figures,
    embedded_data,
    published_records,
)

NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


@pytest.mark.slow
def test_report_is_self_contained_and_redrawn_identically(
    tiny_package: Path, tiny_data: dict[str, Any]
) -> None:
    # Drawn on two processes as a build draws it; redrawn below in one, to the same bytes.
    result = write_report(load_config(tiny_package), workers=2)
    html = result.html.read_bytes()
    text = html.decode()
    for section in ("records", "lengths", "conversations", "mixture", "quarantine"):
        start = text.index(f'<section id="{section}">')
        assert "<svg" in text[start : text.index("</section>", start)], section
    assert set(re.findall(r"https?://[^\"'\s<>)]+", text)) <= NAMESPACES
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", text)  # only #fragment links
    assert re.findall(r"<script[^>]*>", text) == [
        '<script type="application/json" id="report-data">'
    ]
    assert "<link" not in text and "@import" not in text
    assert "Date" not in text and "dc:date" not in text
    assert embedded_data(html) == tiny_data
    assert render_html(embedded_data(html)) == html
    # A build that publishes the same package keeps the report: its stamp still matches.
    cfg = load_config(tiny_package)
    kept = current_report(cfg)
    assert kept is not None and kept.data == result.data
    assert kept.svgs == {name: svg for name, svg in result.svgs.items() if svg}
    (report_dir(cfg) / STAMP).write_bytes(b"1 another package\n")
    assert current_report(cfg) is None


def test_record_values_cannot_end_or_hold_open_the_data_script(tiny_data: dict[str, Any]) -> None:
    """`<!--<script>` in a value would keep the JSON script element open past its end tag
    (HTML's script-data double-escaped state), `</script>` would end it: the embedded JSON
    holds no `<`, `>` or `&` at all, and reads back as the data."""
    data = copy.deepcopy(tiny_data)
    hostile = ["<!--<script>", "</script><img src=x onerror=alert(1)>", "a&amp;b", "<\\/x>"]
    data["dataset"]["name"] = hostile[0]
    for cell in data["cells"]:
        for counts in cell["licences"].values():
            counts["values"] = {v: 1 for v in hostile}
    html = render_html(data, {})
    start = html.index(DATA_SCRIPT.encode()) + len(DATA_SCRIPT)
    payload = html[start : html.index(b"</script>", start)]
    assert not set(payload.decode()) & set("<>&")
    assert report_data.embedded_data(html) == data
    assert embedded_data(html) == data


# Characters that show nothing of themselves (markdown_text's categories) and spaces that are
# not U+0020: none may reach the page's text raw.
_HIDDEN = re.compile(r"[\u200b\u202e\u2066\u2028\u00a0\x00\n\r\t\u00ad\U000e0041]")
TRICKY = ["MIT", "MIT\u200b", "\u202eTIM", "x\ny", "x y", "a\u2066b\u00adc", "\U000e0041tag"]


def _page_text(html: bytes) -> str:
    """The page without its data script (the machine-readable copy holds the values as data)
    and without its inline charts."""
    text = re.sub(r"<script.*?</script>", "", html.decode(), flags=re.S)
    text = re.sub(r"<svg.*?</svg>|<style>.*?</style>", "", text, flags=re.S)
    return text.replace("<!DOCTYPE html>\n", "").removesuffix("\n")


def _licence_cells(text: str) -> list[str]:
    """The licences-written cells of the page, as text without their counts."""
    start = text.index("licences written (records)")
    cells = re.findall(r"<td>([^<]*)</td></tr>", text[start : text.index("</table>", start)])
    return [re.sub(r" [0-9,]+(?=, |$)", "", unescape(c)) for c in cells]


def _tricky_data(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["dataset"]["name"] = "tiny\u202eevil"
    data["dataset"]["description"] = "desc\u202e reversed\u2028line"
    for cell in data["cells"]:
        for counts in cell["licences"].values():
            counts["values"] = {v: i + 1 for i, v in enumerate(TRICKY)}
        cell["sources"] = {f"{s}\u200b": v for s, v in cell["sources"].items()}
    for s in data["sources"]:
        s["license"] = "CC\u200bBY"
    for items in data["quarantine"]["examples"].values():
        for e in items:
            e["trace"] = {**(e["trace"] or {}), "file": "raw/\u202ecod.jsonl", "line": 1}
            e["detail"] = "bad\u200b value\r\nnext"
    return data


def test_values_with_invisible_or_bidi_characters_show_as_escapes(
    tiny_data: dict[str, Any],
) -> None:
    """report.html shows every value by the card's rule (markdown_text.visible_value): `MIT`,
    `MIT` + U+200B and U+202E + `TIM` are three different licences on the page, and no value
    reorders or hides the text beside it (before: all raw, `"MIT" 10, "MIT" 10, "01 "MIT`)."""
    assert tiny_data["quarantine"]["examples"]  # traces to show
    text = _page_text(render_html(_tricky_data(tiny_data), {}))
    assert not _HIDDEN.findall(text)
    shown = (
        '"MIT", "MIT\\u200b", "a\\u2066b\\u00adc", "x\\ny", "x y", "\\u202eTIM", "\\U000e0041tag"'
    )
    assert {c.removesuffix(", none") for c in _licence_cells(text)} == {shown}
    assert "Data report: tiny\\u202eevil</h1><p>desc\\u202e reversed\\u2028line</p>" in text
    assert "<td>raw/\\u202ecod.jsonl</td>" in text and "<td>bad\\u200b value\\r\\nnext</td>" in text
    assert "<td>CC\\u200bBY</td>" in text


def test_licences_that_differ_only_in_spaces_show_differently(tiny_data: dict[str, Any]) -> None:
    data = copy.deepcopy(tiny_data)
    values = ["", " ", "  ", "a b", "a  b", "a\u00a0b", "MIT ", "MIT"]
    for cell in data["cells"]:
        for counts in cell["licences"].values():
            counts["values"] = {v: 1 for v in values}
    text = _page_text(render_html(data, {}))
    shown = (
        '"", "\\u0020", "\\u0020\\u0020", "MIT", "MIT\\u0020", "a\\u0020\\u0020b", '
        '"a b", "a\\u00a0b"'
    )
    assert {c.removesuffix(", none") for c in _licence_cells(text)} == {shown}


def test_the_mixture_table_has_the_package_and_split_rows(
    tiny_package: Path, tiny_data: dict[str, Any]
) -> None:
    """As the README says and the chart groups it: every source's records and characters and
    their shares for the whole package, for each split over all objectives and for each
    objective/split, counted here from the published shards."""
    cells = {
        key: cell_figures(key[0], records)
        for key, records in published_records(load_config(tiny_package).output.dir).items()
    }
    groups: dict[str, dict[str, list[int]]] = {}
    for (objective, split), figures in sorted(cells.items()):
        for label in ("package", f"{split} (all)", f"{objective}/{split}"):
            for source, v in figures["sources"].items():
                sums = groups.setdefault(label, {}).setdefault(source, [0, 0])
                sums[0] += v["records"]
                sums[1] += v["chars"]
    expected = set()
    for label, sources in groups.items():
        records = sum(r for r, _ in sources.values())
        chars = sum(c for _, c in sources.values())
        for source, (r, c) in sources.items():
            shares = (f"{100 * r / records:.2f}%", f"{100 * c / chars:.2f}%")
            expected.add((label, source, f"{r:,}", shares[0], f"{c:,}", shares[1]))
    text = render_html(tiny_data, svgs={}).decode()
    start = text.index('<section id="mixture">')
    section = text[start : text.index("<h3>", start)]
    rows = [
        tuple(unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row))
        for row in re.findall(r"<tr>(.*?)</tr>", section)[1:]
    ]
    assert len(rows) == len(set(rows)) and set(rows) == expected
    labels = list(dict.fromkeys(row[0] for row in rows))
    assert labels[:4] == ["package", "train (all)", "validation (all)", "test (all)"]
    assert len({row[1] for row in rows if row[0] == "package"}) == 4  # every source
