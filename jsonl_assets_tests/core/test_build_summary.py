"""What `jsonl-assets build` prints about its partitions shows a name from the user's data
(a file, a source, an id, a value quoted in a message) escaped: a newline, U+2028 or U+202E
in it cannot forge an output line or reorder one."""

from __future__ import annotations

import io

import pytest

from jsonl_assets.cli_tables import print_table
from jsonl_assets.console_text import printable
from jsonl_assets.core.build_summary import failure_block, print_failures, print_sources

HOSTILE = [
    "raw/evil\nFAKE: all checks passed.jsonl",
    "raw/ls\u2028x.jsonl",
    "raw/\u202egnp.jsonl",
    "raw/cr\rx\x1b[2Jy\u2029z\u200b.jsonl",
]
RAW = ("\n", "\r", "\x1b", "\u2028", "\u2029", "\u202e", "\u200b")


def _clean(text: str) -> None:
    """Only our own line breaks: every line is one we wrote, nothing raw of a name."""
    for line in text.split("\n"):
        assert not any(c in line for c in RAW[1:]), repr(line)
        assert not line.startswith("FAKE"), text


def _check(name: str) -> dict:
    scope = {
        "scope": name,
        "rate": 0.5,
        "threshold": 0.01,
        "failed": 1,
        "total": 2,
        "reasons": {"invalid_utf8": 1},
        "examples": {"invalid_utf8": {"file": name, "line": 1}},
    }
    return {
        "check": "parse_failure_rate",
        "partition": "cpt|train",
        "asset": "extracted",
        "overall": {**scope, "scope": "partition"},
        "sources": [scope, {**scope, "scope": "other"}],
        "quarantine_files": [f"/q/{name}"],
        "exact": True,
    }


@pytest.mark.parametrize("name", HOSTILE)
def test_a_failed_check_block_shows_file_names_escaped(name: str) -> None:
    block = failure_block(_check(name))
    _clean(block)
    assert f"e.g. {printable(name)} line 1" in block


@pytest.mark.parametrize("name", HOSTILE)
def test_sources_failures_and_tables_show_names_escaped(name: str) -> None:
    result = {
        "key": "cpt|train",
        "success": False,
        "seconds": 1.0,
        "per_source": {name: {"read": 0, "written": 0, "quarantined": 0, "files": 1}},
        "source_files": [[name, name]],
        "failed_rate_checks": [],
        "failed_checks": [],
        "errors": [f"extract: cannot read {name}: gone"],
    }
    out = io.StringIO()
    print_sources([result], out)
    print_failures([result], out)
    _clean(out.getvalue())
    assert printable(name) in out.getvalue()


def test_printable_escapes_what_the_markdown_layer_escapes() -> None:
    from jsonl_assets.core.report.markdown_text import visible

    for name in HOSTILE:
        assert printable(name) == visible(name)
    assert printable("a\u2028b\u202ec\nd") == "a\\u2028b\\u202ec\\nd"
    assert printable("数据\u3000集 café") == "数据\u3000集 café"  # ordinary text stays


def test_the_partition_table_escapes_its_cells(capsys: pytest.CaptureFixture[str]) -> None:
    print_table([{"key": "x\ny", "success": True, "seconds": 1.0}])
    _clean(capsys.readouterr().out.rstrip("\n"))
