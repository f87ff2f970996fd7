"""Numbers reach the shard with exactly the value they had in the source, or are quarantined
as `unsupported_value` naming the file, the position and the number; never altered.

Kept: integers in [-2**63, 2**64 - 1] and decimals that the nearest double gives back exactly
(`0.1`, `1.5e300`, `1E5` written as `100000.0`). Quarantined: integers beyond 64 bits, decimals
with more precision than a double, decimals the nearest double writes as another number (2**-30
written out in full), overflow (`1e400`) and underflow (`1e-400`), in JSONL, JSON arrays and
Parquet (uint64 and Decimal columns)."""

from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from pathlib import Path

import orjson
import polars as pl
import pytest

from jsonl_assets.core.readers.exact_numbers import (
    number_problem,
    suspect_lines,
    suspect_offsets,
    token_problem,
)
from jsonl_assets_tests.conftest import write_config
from jsonl_assets_tests.test_restart import run_cli_build
from jsonl_assets_tests.values_helpers import (
    build,
    doc_line,
    make_cpt_project,
    quarantined,
    shard_lines,
)

KEPT = [
    "18446744073709551615",  # uint64 max
    "-9223372036854775808",  # int64 min
    "0.1",
    "1.5e300",
    "1E5",
    "-0.0",
    "123456789012345.6",  # 16 digits that a double holds
    "5e-324",  # the smallest subnormal, exact as written
]
ALTERED = [
    "123456789012345678901234567890",
    "18446744073709551616",
    "-9223372036854775809",
    "0.1000000000000000000001",
    "1e400",
    "-1e400",
    "1e-400",
    "1.2345678901234567891e-310",
    "9.31322574615478515625E-10",  # 2**-30 exactly, but written 9.313225746154785e-10
]


def _line(i: int, number: str) -> bytes:
    """A record whose metadata holds `number` exactly as written, plus its text as a string."""
    return doc_line(i, text=number).replace(b'"n":%d' % i, b'"n":%d,"v":%s' % (i, number.encode()))


def _kept_values(config: Path) -> dict[int, tuple[Decimal, str]]:
    out = {}
    for line in shard_lines(config):
        record = json.loads(line, parse_float=Decimal, parse_int=Decimal)
        meta = record["metadata"]
        if "v" in meta:
            out[int(meta["n"])] = (meta["v"], meta["text"])
    return out


def _check(config: Path, numbers: list[str], position: str) -> None:
    done = build(config)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = _kept_values(config)
    for i, number in enumerate(numbers):
        if number in ALTERED:
            assert i not in kept, f"{number} reached the shard as {kept.get(i)}"
        else:
            value, _ = kept[i]
            assert value == Decimal(number), f"{number} came out as {value}"
    entries = {e["trace"][position]: e for e in quarantined(config)}
    for i, number in enumerate(numbers):
        if number in ALTERED:
            entry = entries[i + 1]
            assert entry["reason"] == "unsupported_value", entry
            shown = re.search(r"the number (\S+) ", entry["detail"])
            assert shown and Decimal(shown.group(1)) == Decimal(number), entry
            assert "metadata.v" in entry["detail"], entry


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("9.31322574615478515625E-10", "9.313225746154785e-10"),  # 2**-30, held exactly
        ("1180591620717411303424.0", "1.1805916207174113e+21"),  # 2**70, held exactly
        ("0.1000000000000000000001", "0.1"),
        ("1e-400", "0.0"),
    ],
)
def test_a_refused_decimal_is_named_with_the_text_it_would_be_written_as(
    text: str, written: str
) -> None:
    """Before: "has more precision than a double holds", false for 2**-30 and 2**70, which a
    double holds exactly: what is true is that the shortest text written is another number."""
    assert number_problem(text) == (
        f"the number {text} would be written as {written} (the shortest text of the nearest "
        "double), which is another decimal number"
    )


def test_jsonl_numbers_come_out_exactly_or_are_quarantined(tmp_path: Path) -> None:
    numbers = KEPT + ALTERED
    lines = [_line(i, n) for i, n in enumerate(numbers)]
    # a long digit run inside a string is text, not a number
    lines.append(doc_line(len(numbers), text="id 123456789012345678901234567890 e5 1e400"))
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "numbers.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = make_cpt_project(tmp_path, ["raw/*.jsonl"])
    _check(config, numbers, "line")
    assert len(shard_lines(config)) == len(KEPT) + 1
    entry = quarantined(config)[0]
    assert entry["trace"]["file"] == "raw/numbers.jsonl" and entry["raw"]


def test_json_array_numbers_come_out_exactly_or_are_quarantined(tmp_path: Path) -> None:
    numbers = KEPT + ALTERED
    body = b"[" + b",\n".join(_line(i, n) for i, n in enumerate(numbers)) + b"]"
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "numbers.json").write_bytes(body)
    config = make_cpt_project(tmp_path, ["raw/*.json"])
    _check(config, numbers, "item")


def test_json_array_big_integer_is_unsupported_value_not_altered(tmp_path: Path) -> None:
    body = b"[" + _line(0, "1") + b"," + _line(1, "123456789012345678901234567890") + b"]"
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "numbers.json").write_bytes(body)
    config = make_cpt_project(tmp_path, ["raw/*.json"])
    done = build(config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(_kept_values(config)) == [0]
    [entry] = quarantined(config)
    assert entry["reason"] == "unsupported_value" and entry["trace"]["item"] == 2, entry
    assert "beyond 64 bits" in entry["detail"], entry


@pytest.mark.parametrize("column", ["decimal", "uint64"])
def test_parquet_decimal_and_uint64_come_out_exactly_or_are_quarantined(
    tmp_path: Path, column: str
) -> None:
    if column == "decimal":
        values = [Decimal("1.5"), Decimal("12345678901234567890.123456789"), Decimal("0.1")]
        dtype: pl.DataType = pl.Decimal(38, 9)
        bad = {1}
    else:
        values = [2**64 - 1, 2**63, 7]
        dtype = pl.UInt64
        bad = set()
    frame = pl.DataFrame(
        {
            "messages": [[{"role": "document", "content": f"note {i}"}] for i in range(3)],
            "metadata": pl.DataFrame(
                {"n": list(range(3)), "v": pl.Series(values, dtype=dtype)}
            ).to_struct(),
        }
    )
    (tmp_path / "raw").mkdir()
    frame.write_parquet(tmp_path / "raw" / "numbers.parquet")
    config = make_cpt_project(tmp_path, ["raw/*.parquet"])
    done = build(config)
    assert done.returncode == 0, done.stdout + done.stderr
    kept: dict[int, Decimal] = {}
    for line in shard_lines(config):
        record = json.loads(line, parse_float=Decimal, parse_int=Decimal)
        kept[int(record["metadata"]["n"])] = record["metadata"]["v"]
    for i, value in enumerate(values):
        if i in bad:
            assert i not in kept
        else:
            assert kept[i] == Decimal(value), (value, kept[i])
    entries = quarantined(config)
    assert [e["trace"]["row"] for e in entries] == [i + 1 for i in sorted(bad)]
    assert all(e["reason"] == "unsupported_value" for e in entries)


def test_a_big_integer_an_adapter_makes_is_adapter_unsupported_value(tmp_path: Path) -> None:
    """Before: qa_reference's numeric answer `#### 123456789012345678901234567890` was
    quarantined as `unserializable` with a detail about nesting depth, then as the reader
    code `unsupported_value` (counted toward parse_failure_rate): it is the adapter's doing."""
    (tmp_path / "raw").mkdir()
    rows = [
        {"question": "What is 2+2?", "answer": "#### 4"},
        {"question": "Count the atoms.", "answer": "#### 123456789012345678901234567890"},
    ]
    (tmp_path / "raw" / "qa.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "d"},
            "thresholds": {"max_adapter_reject_rate": 1.0, "max_parse_failure_rate": 1.0},
            "sources": [
                {
                    "name": "qa",
                    "paths": ["raw/qa.jsonl"],
                    "objective": "rft",
                    "adapter": "qa_reference",
                    "options": {"answer_regex": r"####\s*(.+?)\s*$", "grading": "numeric"},
                    "split": "train",
                }
            ],
        },
    )
    run = run_cli_build(config, keys=("rft|train",))
    assert run.returncode == 0, run.stdout + run.stderr
    entries = [
        orjson.loads(line)
        for line in (tmp_path / "work" / "rft" / "train" / "quarantine" / "transformed.jsonl")
        .read_bytes()
        .splitlines()
    ]
    assert [(e["reason"], e["trace"]["line"]) for e in entries] == [
        ("adapter:unsupported_value", 2)
    ]
    assert "beyond 64 bits" in entries[0]["detail"]


@pytest.mark.parametrize(
    "block",
    [
        b"",
        b'{"a": 1}\n{"b": 2}',
        b'{"a": 0.30000000000000004, "b": 1e400}\n\n{"c": 12345678901234567890}\n{"d": 1}\n',
        b'{"e": [' + b", ".join([b"0.1234567890123456"] * 50) + b"]}\n" * 3 + b'{"f": 2e-400}',
        b'{"s": "12345678901234567890"}\n{"t": 1e5}\n\n\n{"u": [1E+99999]}',
    ],
)
def test_suspect_lines_are_the_lines_of_the_suspect_offsets(block: bytes) -> None:
    # One count per newline, not one from the block's start per number (quadratic).
    assert suspect_lines(block) == {block.count(b"\n", 0, at) for at in suspect_offsets(block)}


@pytest.mark.parametrize("limit", [0, 640, 4300, 100_000])
def test_a_refused_lines_detail_is_the_same_whatever_the_int_digit_limit(limit: int) -> None:
    """A line orjson refuses as infinite is judged again without `int()` of its long integers:
    the quarantine detail must not depend on the process's `int_max_str_digits`
    (PYTHONINTMAXSTRDIGITS, or verify raising it meanwhile)."""
    line = b'{"a": 1, "b": 1' + b"0" * 5000 + b', "c": 1e400}'
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    try:
        detail = token_problem(line)
    finally:
        sys.set_int_max_str_digits(before)
    assert detail is not None and detail.startswith("b: the number 1000"), detail
    assert "(5001 characters) is an integer beyond 64 bits" in detail
