"""verify/exact_values.py and its callers: every valid JSON number is accepted by `verify`
(the spec sets no limit on numbers). One a float64/int64 parser cannot hold exactly is a
warning (D1 in a record, A1 in metadata.json, G2 in the asset index) and the rest of the
record / manifest / asset line is still checked, with the number's exact value and its JSON
type (a big integer is an integer), so range and type rules still apply to it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.verify.exact_values import read_exact
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.report import VerifyReport
from jsonl_assets_tests.test_package_verifier import encode, sft_record, write_meta, write_shard

NUMBERS = [
    "123456789012345678901234567890",
    "-9223372036854775809",
    "3.141592653589793238462643383279",
    "0.30000000000000000001",
    "12345678901234567.0",
    "1e400",
    "1.8e308",
    "-1e400",
    "2e-324",
    "1e-400",
]


@pytest.mark.parametrize("number", NUMBERS)
def test_read_exact_keeps_the_value_and_names_the_number(number: str) -> None:
    parsed = read_exact(b'{"a": [1, {"x": %s}], "s": "1e400"}' % number.encode())
    expected = json.loads(number)
    if expected == 0:  # an underflow is the smallest double of its sign: no zero, no count
        expected = math.copysign(5e-324, expected)
    assert parsed.value == {"a": [1, {"x": expected}], "s": "1e400"}
    assert type(parsed.value["a"][1]["x"]) is type(expected)  # a big integer stays an int
    assert parsed.inexact is not None
    assert parsed.inexact.startswith(f"a[1].x: the number {number} ")


@pytest.mark.parametrize(
    "text",
    [
        b'{"x": 1e400, "y": NaN}',
        b'{"x": 1e400, "y": Infinity}',
        b'{"x": 1e400, "y": "\\ud800"}',  # a lone surrogate: orjson refuses it
        b'{"x": 1e400,}',
        b'{"x": 1e400 "y": 1}',
        b'{"x": 1e400, "y": 01}',
    ],
)
def test_read_exact_still_refuses_what_is_not_json(text: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        read_exact(text)


def test_read_exact_gives_orjson_values_when_every_number_is_exact() -> None:
    text = b'{"a": 0.1, "b": 18446744073709551615, "c": -0, "d": 1E2, "e": [true, null]}'
    parsed = read_exact(text)
    assert parsed.inexact is None and parsed.value == orjson.loads(text)
    assert [type(v) for v in parsed.value.values()] == [float, int, int, float, list]


def _findings(report: VerifyReport, *rules: str) -> list[tuple[str, str, int | None, str]]:
    return [(f.rule, f.severity, f.line, f.message) for f in report.findings if f.rule in rules]


@pytest.mark.parametrize("number", NUMBERS)
def test_a_record_with_such_a_number_is_a_d1_warning_and_fully_checked(
    tmp_path: Path, number: str
) -> None:
    good = orjson.dumps(sft_record("a"))
    bad_rest = dict(sft_record("b"), messages=[])  # D3-type error in the same record
    line = orjson.dumps(bad_rest)[:-1] + b',"metadata":{"x":%s}}' % number.encode()
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [good, line])
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    d1 = _findings(report, "D1")
    assert [(r, s, n) for r, s, n, _ in d1] == [("D1", "warning", 2)], report.findings
    assert f"metadata.x: the number {number} " in d1[0][3]
    assert "float64/int64" in d1[0][3]
    # the rest of the record is still checked: its empty messages are an error
    errors = [f for f in report.findings if f.severity == "error"]
    assert errors and {f.line for f in errors} == {2}, report.findings
    assert any("needs at least one assistant message" in f.message for f in errors)


def _meta(tmp_path: Path, entry: dict[str, Any], raw_count: bytes, **top: Any) -> None:
    write_meta(tmp_path, [entry], **top)
    data = (tmp_path / "metadata.json").read_bytes()
    count = b'"record_count": %d' % entry["shards"][0]["record_count"]
    assert count in data
    (tmp_path / "metadata.json").write_bytes(data.replace(count, b'"record_count": ' + raw_count))


@pytest.mark.parametrize(
    ("count", "rule", "needle"),
    [
        (
            b"123456789012345678901234567890",
            "C16",
            "record_count is 123456789012345678901234567890",
        ),
        (b"-9223372036854775809", "C16", "non-negative integer, got -9223372036854775809"),
        (b"2.50000000000000000001", "C16", "non-negative integer, got 2.5"),
        # Rounded to a whole double, these passed as counts: the text is no integer.
        (b"1.00000000000000000001", "C16", "non-negative integer, got 1.0000000000000002"),
        (b"-1e-400", "C16", "non-negative integer, got -5e-324"),
    ],
)
def test_a_big_record_count_is_an_a1_warning_and_still_checked(
    tmp_path: Path, count: bytes, rule: str, needle: str
) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    _meta(tmp_path, {"split": "train", "objective": "sft", "shards": [shard]}, count)
    report = verify_package(tmp_path)
    a1 = _findings(report, "A1")
    assert [(r, s) for r, s, _, _ in a1] == [("A1", "warning")], report.findings
    assert f"files[0].shards[0].record_count: the number {count.decode()} " in a1[0][3]
    errors = [f for f in report.findings if f.severity == "error"]
    assert len(errors) == 1 and errors[0].rule == rule and needle in errors[0].message, errors


def test_a_big_number_in_a_tool_input_schema_is_an_a1_warning(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    tool = {"name": "f", "input_schema": {"type": "string", "maxLength": 7}}
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "sft", "shards": [shard]}],
        toolsets=[{"id": "t", "tools": [tool]}],
    )
    path = tmp_path / "metadata.json"
    path.write_bytes(path.read_bytes().replace(b'"maxLength": 7', b'"maxLength": 10' + b"0" * 30))
    report = verify_package(tmp_path)
    assert report.ok, report.findings
    a1 = _findings(report, "A1")
    assert [(s, m.split(":")[0]) for _, s, _, m in a1] == [
        ("warning", "toolsets[0].tools[0].input_schema.maxLength")
    ]


def test_an_asset_line_with_such_a_number_is_a_g2_warning_and_fully_checked(
    tmp_path: Path,
) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "sft", "shards": [shard]}],
        asset_index={"path": "assets.jsonl"},
    )
    (tmp_path / "assets.jsonl").write_bytes(
        encode(
            [
                b'{"asset_id": "a", "uri": "u", "bytes": 123456789012345678901234567890}',
                b'{"asset_id": "b", "uri": "u", "bytes": -123456789012345678901234567890}',
                b'{"asset_id": "c", "uri": 1e400}',
            ]
        )
    )
    report = verify_package(tmp_path)
    found = [(r, s, n) for r, s, n, _ in _findings(report, "G2", "G3")]
    assert found == [
        ("G2", "warning", 1),
        ("G2", "warning", 2),
        ("G3", "error", 2),  # a negative `bytes`, however big
        ("G2", "warning", 3),
        ("G2", "error", 3),  # `uri` must be a string
    ], report.findings


@pytest.mark.parametrize(
    ("number", "value", "why"),
    [
        ("1" * 5000, math.inf, "is an integer beyond 64 bits"),
        ("-" + "1" * 5000, -math.inf, "is an integer beyond 64 bits"),
        ("1e" + "9" * 30, math.inf, "is beyond the range of a double"),
        ("1e-" + "9" * 30, 5e-324, "would be written as 0.0"),
    ],
)
def test_read_exact_takes_numbers_of_any_length_or_exponent(
    number: str, value: float, why: str
) -> None:
    """Past what Python turns into text (4,300 digits) an integer is read as infinite, so no
    rule's message fails to show it; the warning still names it."""
    parsed = read_exact(b'{"x": %s}' % number.encode())
    assert parsed.value == {"x": value}
    assert parsed.inexact is not None and why in parsed.inexact
    assert parsed.inexact.startswith("x: the number " + number[:20])
