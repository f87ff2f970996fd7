"""report.html, as the build writes it: inline SVG charts for every section, no script that
runs, nothing a browser would fetch, the report data embedded, and the same bytes when drawn
again (matplotlib takes seconds here: marked slow); kept while its stamp matches."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report import report_data, report_dir, write_report
from jsonl_assets.core.report.html_report import render_html
from jsonl_assets.core.report.package_report import STAMP, current_report
from jsonl_assets.core.report.report_data import DATA_SCRIPT
from jsonl_assets_tests.core.report.independent import embedded_data

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
