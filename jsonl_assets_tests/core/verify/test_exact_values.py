"""verify/exact_values.py and its callers: every valid JSON number is accepted by `verify`
(the spec sets no limit on numbers). One a float64/int64 parser cannot hold exactly is a
warning (D1 in a record, A1 in metadata.json, G2 in the asset index) and the rest of the
record / manifest / asset line is still checked, with the number's exact value and its JSON
type (a big integer is an integer), so range and type rules still apply to it."""

from __future__ import annotations

import json
import math
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.verify.exact_values import MAX_INT_DIGITS, NumberTooLong, read_exact
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
        ("1" * 5000, int(Decimal("1" * 5000)), "is an integer beyond 64 bits"),
        ("-" + "7" * 20000, -int(Decimal("7" * 20000)), "is an integer beyond 64 bits"),
        ("1e" + "9" * 30, math.inf, "is beyond the range of a double"),
        ("1e-" + "9" * 30, 5e-324, "would be written as 0.0"),
    ],
    ids=["5000-digits", "negative-20000-digits", "huge-exponent", "tiny-exponent"],
)
def test_read_exact_takes_numbers_of_any_length_or_exponent(
    number: str, value: float, why: str
) -> None:
    """An integer past what Python turns into text (4,300 digits) is still an int with its
    value (it was `inf`: a count rejected as a float); the warning names it."""
    parsed = read_exact(b'{"x": %s}' % number.encode())
    assert type(parsed.value["x"]) is type(value)
    assert parsed.value == {"x": value}
    assert parsed.inexact is not None and why in parsed.inexact
    assert parsed.inexact.startswith("x: the number " + number[:20])


def _bytes_package(tmp_path: Path, part_bytes: bytes, asset_bytes: bytes, count: bytes) -> None:
    record = (
        b'{"id":"r1","messages":[{"role":"user","content":[{"type":"text","text":"hi"},'
        b'{"type":"image","ref":{"uri":"https://example.org/a.png"},"bytes":' + part_bytes + b"}]},"
        b'{"role":"assistant","content":[{"type":"text","text":"hello"}]}]}'
    )
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [record])
    entry = {"split": "train", "objective": "sft", "shards": [shard]}
    _meta(tmp_path, entry, count, asset_index={"path": "assets.jsonl"})
    (tmp_path / "assets.jsonl").write_bytes(
        b'{"asset_id":"a","uri":"https://example.org/a.png","bytes":' + asset_bytes + b"}\n"
    )


def test_integers_of_thousands_of_digits_are_judged_with_their_value(tmp_path: Path) -> None:
    """A `bytes` of 5,000 digits is a non-negative integer (D18, G3 satisfied: it was `inf`,
    an error); a `record_count` of 10,000 digits is unequal to the records, and its C16
    message shows digits; a negative one of 5,000 digits is an error that shows them."""
    big = b"1" * 5000
    _bytes_package(tmp_path, big, big, b"9" * 10000)
    report = verify_package(tmp_path, verified_shards=None)
    errors = [(f.rule, f.message) for f in report.findings if f.severity == "error"]
    assert [rule for rule, _ in errors] == ["C16"], report.findings
    assert "record_count is 9999999999" in errors[0][1] and "inf" not in errors[0][1]
    assert not any("inf" in f.message for f in report.findings)

    neg = tmp_path / "negative"
    _bytes_package(neg, b"-" + big, b"-" + big, b"1")
    report = verify_package(neg)
    errors = [(f.rule, f.message) for f in report.findings if f.severity == "error"]
    assert sorted(rule for rule, _ in errors) == ["D18", "G3"], report.findings
    assert all("got -1111111111" in message for _, message in errors), errors


def test_an_integer_past_max_int_digits_is_a_named_error_of_its_line(tmp_path: Path) -> None:
    huge = b"1" * (MAX_INT_DIGITS + 1)
    _bytes_package(tmp_path, huge, b"1", b"1")
    report = verify_package(tmp_path)
    errors = [f for f in report.findings if f.severity == "error"]
    assert [f.rule for f in errors] == ["D1"], report.findings
    assert f"an integer of {MAX_INT_DIGITS + 1} digits, more than verify reads" in (
        errors[0].message
    )
    with pytest.raises(NumberTooLong):
        read_exact(b'{"x": [%s]}' % huge)


DEEP = b"[" * 1000 + b"]" * 1000  # orjson reads 1,024 levels; json.loads stops near 1,000


def _deep_record(extra: bytes = b"", part_bytes: bytes = b"1") -> bytes:
    return (
        b'{"id":"a",' + extra + b'"metadata":{"d":' + DEEP + b'},"messages":[{"role":"user",'
        b'"content":[{"type":"image","ref":{"uri":"https://example.org/a.png"},"bytes":'
        + part_bytes
        + b'}]},{"role":"assistant","content":[{"type":"text","text":"ok"}]}]}'
    )


@pytest.mark.parametrize(
    ("record", "rule", "needle"),
    [
        (_deep_record(b'"id":"b",'), "D1", "repeats the key 'id'"),
        (_deep_record(part_bytes=b"-1e400"), "D18", "bytes: must be a non-negative integer"),
        (_deep_record(part_bytes=b"-1" + b"0" * 30), "D18", "got -1000000000"),
    ],
)
def test_a_value_nested_1000_deep_turns_no_check_off(
    tmp_path: Path, record: bytes, rule: str, needle: str
) -> None:
    """A sibling nested 1,000 deep (under orjson's 1,024) made the repeated-key pass and the
    exact-number pass give up (Python's recursion limit): the record passed verify."""
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [record])
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    errors = [f for f in report.findings if f.severity == "error"]
    assert [f.rule for f in errors] == [rule], report.findings
    assert needle in errors[0].message


def test_a_deep_manifest_or_asset_line_still_has_its_repeated_keys_found(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "sft", "shards": [shard]}],
        asset_index={"path": "assets.jsonl"},
    )
    path = tmp_path / "metadata.json"
    data = path.read_bytes()
    path.write_bytes(
        data.replace(b'"files":', b'"extensions":{"x-deep":' + DEEP + b'},"files":[],"files":', 1)
    )
    (tmp_path / "assets.jsonl").write_bytes(
        b'{"asset_id":"a","uri":"u","asset_id":"b","metadata":{"d":' + DEEP + b"}}\n"
    )
    report = verify_package(tmp_path)
    found = [(f.rule, f.message) for f in report.findings if f.severity == "error"]
    assert any(r == "A1" and "repeats the key 'files'" in m for r, m in found), found
    assert any(r == "G2" and "repeats the key 'asset_id'" in m for r, m in found), found


def test_a_line_of_infinite_numbers_costs_memory_of_the_order_of_its_size() -> None:
    """A line of `1e400` cost ~5 times what orjson's reading of a line as long with exact
    numbers costs (a path string and a token per number, the standard library's value, a
    substituted copy): 1.1 GB for a 16 MiB line. Now about the same as that reading."""
    line = b'{"id":"x","metadata":{"a":[' + b",".join([b"1e400"] * 40_000) + b"]}}"
    exact = line.replace(b"1e400", b"12345")
    peaks = []
    for text in (exact, line):
        tracemalloc.start()
        try:
            parsed = read_exact(text)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert parsed.inexact is not None and parsed.inexact.startswith("metadata.a[0]: ")
    assert parsed.value["metadata"]["a"][-1] == math.inf
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_an_unclosed_string_after_an_infinite_number_is_no_json_in_one_pass() -> None:
    """`[1e999,"` then 200,000 `\\"`: every quote began a scan to the end of the line (a 40 KB
    line took 4.6 s; a line at the default 16 MiB cap, days)."""
    with pytest.raises(orjson.JSONDecodeError):
        read_exact(b'[1e999,"' + b'\\"' * 200_000)
    assert read_exact(b'[1e999, "a\\"b", 2]').value == [math.inf, 'a"b', 2]
