from __future__ import annotations

import gzip
import hashlib
import json
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection

LYING_NAME = {"none": "data.json.gz", "gzip": "data.json.zst", "zstd": "data.json"}

ITEMS = [
    {"i": i, "x": i / 4, "s": f"é{i}", "nested": {"l": [i, None, True]}} for i in range(20_000)
]
DATA = orjson.dumps(ITEMS, option=orjson.OPT_INDENT_2)


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0, compresslevel=1)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def read(
    tmp_path: Path,
    data: bytes,
    codec: str = "none",
    options: dict[str, Any] | None = None,
    limit: int = 16 << 20,
) -> list[Any]:
    path = tmp_path / LYING_NAME[codec]
    path.write_bytes(compress(data, codec))
    source = SourceFile(path, path.name)
    return list(read_source(source, "json_array", options or {}, ReadLimits(limit), tmp_path))


def reasons(items: list[Any]) -> list[tuple[int, str]]:
    return [(i.position, i.reason) for i in items if isinstance(i, Rejection)]


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_streams_every_codec(tmp_path: Path, codec: str) -> None:
    items = read(tmp_path, DATA, codec)
    assert [i[0] for i in items] == list(range(1, len(ITEMS) + 1))
    assert [i[1] for i in items] == ITEMS
    assert all(i[2] == orjson.dumps(i[1]) for i in items)


def test_numbers_are_int_and_float_never_decimal(tmp_path: Path) -> None:
    items = read(tmp_path, b'[{"a": 1, "b": 2.5, "c": -3e2, "d": 10000000000000}]')
    value = items[0][1]
    assert value == {"a": 1, "b": 2.5, "c": -300.0, "d": 10000000000000}
    assert [type(v) for v in value.values()] == [int, float, float, int]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_stream_keeps_items_before_damage(tmp_path: Path, codec: str) -> None:
    stored = compress(DATA, codec)
    path = tmp_path / "cut.json"
    path.write_bytes(stored[: len(stored) // 2])
    source = SourceFile(path, path.name)
    items = list(read_source(source, "json_array", {}, ReadLimits(), tmp_path))
    good = [i for i in items if type(i) is tuple]
    assert len(good) > len(ITEMS) // 4
    assert [g[1] for g in good] == ITEMS[: len(good)]
    last = items[-1]
    assert isinstance(last, Rejection) and last.reason == "corrupt_file"
    assert last.position == len(good) + 1
    assert last.detail.startswith(f"{codec} stream damaged at compressed offset ")
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'{"a": NaN}', "parse_error"),
        (b'{"a": 1,}', "parse_error"),
        (b"{'a': 1}", "parse_error"),
        (b'{"a": "x\x01"}', "parse_error"),
        (b'{"a": "caf\xe9"}', "invalid_utf8"),
        (b'{"a": "]},{", "b": NaN}', "parse_error"),  # brackets in a string move no end
    ],
)
@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_a_damaged_item_is_rejected_with_its_bytes_and_the_items_after_it_are_read(
    tmp_path: Path, bad: bytes, reason: str, codec: str
) -> None:
    # Enough items that the damage falls in a later read buffer than the first.
    good = b", ".join(b'{"a": %d}' % i for i in range(1, 5001))
    data = b"[" + good + b",\n " + bad + b', {"a": 5002}, {"a": 5003}]'
    items = read(tmp_path, data, codec)
    assert len(items) == 5003
    assert items[:5000] == [(i, {"a": i}, orjson.dumps({"a": i})) for i in range(1, 5001)]
    assert reasons(items) == [(5001, reason)]
    bad_item = items[5000]
    assert bad_item.raw == bad and "item 5001: invalid JSON" in bad_item.detail
    assert "the items after it are read" in bad_item.detail
    assert items[5001:] == [(i, {"a": i}, orjson.dumps({"a": i})) for i in (5002, 5003)]


def test_every_damaged_item_is_rejected_on_its_own(tmp_path: Path) -> None:
    data = b'[{"a": 1}, {"a": NaN}, {"a": 3}, 4, {"a": Infinity}, {"a": 6} {"a": 7},, {"a": 8}]'
    items = read(tmp_path, data)
    assert reasons(items) == [
        (2, "parse_error"),
        (4, "not_an_object"),
        (5, "parse_error"),
        (7, "parse_error"),  # no comma before it
        (8, "parse_error"),  # two commas before it
    ]
    assert [i[1]["a"] for i in items if type(i) is tuple] == [1, 3, 6]
    assert [i.raw for i in items if isinstance(i, Rejection)][2:] == [
        b'{"a": Infinity}',
        b'{"a": 7}',
        b'{"a": 8}',
    ]


def test_an_unterminated_string_swallows_the_rest_into_one_rejected_item(tmp_path: Path) -> None:
    items = read(tmp_path, b'[{"a": 1}, {"a": "open}, {"a": 3}]')
    assert items[0] == (1, {"a": 1}, orjson.dumps({"a": 1}))
    assert reasons(items) == [(2, "parse_error")] and len(items) == 2
    assert items[1].raw == b'{"a": "open}, {"a": 3}]'


@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_under_a_nested_items_path_the_items_after_a_damaged_one_are_read(
    tmp_path: Path, codec: str
) -> None:
    # Enough items that the damage falls in a later read buffer than the first; a decoy
    # array, a key with an escape and brackets in strings before the path.
    good = b", ".join(b'{"a": %d}' % i for i in range(1, 5001))
    data = (
        b'{"meta": {"data": [0], "s": "]}["}, "d\\u0061ta": {"x": [1]}, "data": {"items": ['
        + good
        + b', {"a": NaN}, {"a": 5002}, {"a": 5003}], "after": 1}, "tail": [NaN]}'
    )
    items = read(tmp_path, data, codec, options={"items_path": "data.items.item"})
    assert len(items) == 5003
    assert items[:5000] == [(i, {"a": i}, orjson.dumps({"a": i})) for i in range(1, 5001)]
    assert reasons(items) == [(5001, "parse_error")]
    assert items[5000].raw == b'{"a": NaN}'
    assert items[5001:] == [(i, {"a": i}, orjson.dumps({"a": i})) for i in (5002, 5003)]


def test_damage_after_a_nested_array_is_one_parse_error(tmp_path: Path) -> None:
    data = b'{"data": [{"a": 1}, {"a": 2}], "x": NaN}'
    items = read(tmp_path, data, options={"items_path": "data.item"})
    assert [i[1] for i in items[:2]] == [{"a": 1}, {"a": 2}]
    assert reasons(items) == [(3, "parse_error")] and len(items) == 3


def test_an_items_path_through_an_array_still_ends_the_file_at_the_damage(
    tmp_path: Path,
) -> None:
    data = b'[{"data": [{"a": 1}, {"a": NaN}, {"a": 3}]}]'
    items = read(tmp_path, data, options={"items_path": "item.data.item"})
    assert items[0] == (1, {"a": 1}, orjson.dumps({"a": 1}))
    assert reasons(items) == [(2, "parse_error")] and len(items) == 2
    assert "after item 1" in items[1].detail and "not read" in items[1].detail


def test_truncated_plain_file_and_trailing_garbage(tmp_path: Path) -> None:
    items = read(tmp_path, b'[{"a": 1}, {"a": 2}, {"a"')
    assert reasons(items) == [(3, "parse_error")] and "premature EOF" in items[-1].detail
    assert items[-1].raw == b'{"a"'
    items = read(tmp_path, b'[{"a": 1}] [{"a": 2}]')
    assert items[0] == (1, {"a": 1}, orjson.dumps({"a": 1}))
    assert reasons(items) == [(2, "parse_error")]
    assert "after the end of the array" in items[-1].detail and items[-1].raw == b'[{"a": 2}]'


def test_non_objects_are_rejected_one_by_one(tmp_path: Path) -> None:
    deep = b'{"d": ' + b"[" * 300 + b"]" * 300 + b"}"
    data = b'[{"a": 1}, [1, 2], "s", 3, null, ' + deep + b', {"a": 7}]'
    items = read(tmp_path, data)
    assert reasons(items) == [
        (2, "not_an_object"),
        (3, "not_an_object"),
        (4, "not_an_object"),
        (5, "not_an_object"),
    ]
    assert items[1].raw == b"[1,2]"
    assert items[-1] == (7, {"a": 7}, orjson.dumps({"a": 7}))


@pytest.mark.parametrize("depth", [255, 300, 1023])
def test_an_item_nested_past_what_orjson_writes_is_a_record_as_a_jsonl_line_is(
    tmp_path: Path, depth: int
) -> None:
    """orjson reads 1,024 levels but writes 254. Before: such an item was `parse_error`
    ("cannot be serialised: Recursion limit") where the same JSONL line is a record, which
    the transform stage rejects `unserializable` if it must write the deep value (and writes
    if the adapter leaves it out): one outcome for the same bytes in both formats now."""
    deep = b'{"t": "x", "n": 1.50E+2, "d": ' + b"[" * depth + b"]" * depth + b"}"
    items = read(tmp_path, b'[{"a": 1}, ' + deep + b', {"a": 3}]')
    assert reasons(items) == []
    position, value, raw = items[1]
    assert position == 2 and raw == deep.replace(b" ", b"")  # the value's rendering
    assert value["t"] == "x" and value["n"] == 150.0  # plain values, as orjson reads raw
    line = tmp_path / "a.jsonl"
    line.write_bytes(deep + b"\n")
    jsonl = list(
        read_source(SourceFile(line, line.name), "jsonl", {}, ReadLimits(1 << 20), tmp_path)
    )
    assert [type(i) for i in jsonl] == [tuple]  # a record too


def test_an_item_nested_millions_deep_costs_about_its_bytes(tmp_path: Path) -> None:
    """Before: the item's bytes were collected a bracket at a time in a list of 1-byte
    pieces, ~100 bytes of memory per byte (a 16 MiB item: 1.56 GB of RSS)."""
    half = 1 << 20  # a 2 MiB item, 1M levels
    data = b'[{"t": "a"}, {"m": ' + b"[" * half + b"]" * half + b'}, {"t": "b"}]'
    read(tmp_path, b'[{"warm": "up"}]')
    tracemalloc.start()
    try:
        items = read(tmp_path, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reasons(items) == [(2, "parse_error")] and "1024 levels" in items[1].detail
    assert items[1].raw == data[13:-13] and items[2][0] == 3
    assert peak < 8 * (2 * half), peak  # before: over 200 MB


def test_item_over_the_limit_is_too_large(tmp_path: Path) -> None:
    data = orjson.dumps([{"a": 1}, {"big": "z" * 5000}, {"a": 3}])
    items = read(tmp_path, data, limit=1000)
    assert reasons(items) == [(2, "too_large")]
    assert items[1].raw_size == len(orjson.dumps({"big": "z" * 5000}))
    assert items[1].raw.startswith(b'{"big":"zzz') and len(items[1].raw) == 1024
    assert [i[0] for i in items if type(i) is tuple] == [1, 3]


def test_items_path_reads_array_inside_object(tmp_path: Path) -> None:
    data = b'{"meta": {"n": 2}, "data": [{"a": 1}, {"a": 2}], "tail": [{"no": 1}]}'
    items = read(tmp_path, data, options={"items_path": "data.item"})
    assert items == [(1, {"a": 1}, orjson.dumps({"a": 1})), (2, {"a": 2}, orjson.dumps({"a": 2}))]


def test_object_without_items_path_is_not_an_array(tmp_path: Path) -> None:
    items = read(tmp_path, b'\xef\xbb\xbf  {"data": [{"a": 1}]}')
    assert reasons(items) == [(0, "not_an_array")]
    assert "items_path" in items[0].detail


def test_missing_items_path_versus_empty_array(tmp_path: Path) -> None:
    items = read(tmp_path, b'{"rows": [{"a": 1}]}', options={"items_path": "data.item"})
    assert reasons(items) == [(0, "not_an_array")]
    assert read(tmp_path, b'{"data": []}', options={"items_path": "data.item"}) == []
    assert read(tmp_path, b" [ ] \n") == []


def test_bom_is_accepted(tmp_path: Path) -> None:
    assert read(tmp_path, b'\xef\xbb\xbf[{"a": 1}]') == [(1, {"a": 1}, orjson.dumps({"a": 1}))]


def test_sharegpt_corpus_has_500_items(tmp_path: Path, corpus: Path) -> None:
    path = corpus / "sharegpt" / "dummy_conversation.json"
    items = list(
        read_source(SourceFile(path, "dummy.json"), "json_array", {}, ReadLimits(), tmp_path)
    )
    assert len(items) == 500
    assert all(type(i) is tuple for i in items)
    assert [i[1] for i in items] == orjson.loads(path.read_bytes())


def test_numbers_are_exact_or_unsupported_value_and_the_array_goes_on(tmp_path: Path) -> None:
    data = (
        b'[{"a": 1.5}, {"a": 99999999999999999999999}, {"a": 0.1000000000000000000001}, {"a": 4}]'
    )
    items = read(tmp_path, data)
    assert items[0] == (1, {"a": 1.5}, b'{"a":1.5}')
    assert reasons(items) == [(2, "unsupported_value"), (3, "unsupported_value")]
    assert "a: the number 99999999999999999999999 is an integer beyond 64 bits" in items[1].detail
    assert "which is another decimal number" in items[2].detail
    assert items[3] == (4, {"a": 4}, b'{"a":4}')


@pytest.mark.parametrize("nested", [False, True])
def test_a_number_whose_exponent_decimal_cannot_hold_is_unsupported_value_not_a_crash(
    tmp_path: Path, nested: bool
) -> None:
    # Valid JSON; ijson's Decimal raised InvalidOperation and failed the whole partition.
    items = b'[{"a": 1}, {"a": 1e99999999999999999999}, {"a": -2E-12345678901234567890}, {"a": 4}]'
    data = b'{"data": ' + items + b"}" if nested else items
    got = read(tmp_path, data, options={"items_path": "data.item"} if nested else None)
    assert got[0] == (1, {"a": 1}, b'{"a":1}')
    assert reasons(got) == [(2, "unsupported_value"), (3, "unsupported_value")]
    assert got[1].raw == b'{"a": 1e99999999999999999999}'
    assert got[2].raw == b'{"a": -2E-12345678901234567890}'
    assert "exponent beyond what can be read exactly" in got[1].detail
    assert got[3] == (4, {"a": 4}, b'{"a":4}')


def test_every_array_of_a_repeated_path_key_is_read_after_a_too_large_item(
    tmp_path: Path,
) -> None:
    # ijson reads both arrays of {"data": [...], "data": [...]}; reading by spans (after a
    # too-large item) read only the first, and the second's items were lost without a trace.
    big = b'{"t": "' + b"x" * 300_000 + b'"}'  # past the limit and two read buffers
    data = b'{"data": [{"a": 1}], "n": [1], "data": [' + big + b', {"c": 3}], "data": []}'
    got = read(tmp_path, data, options={"items_path": "data.item"}, limit=100)
    assert got[0] == (1, {"a": 1}, b'{"a":1}')
    assert reasons(got) == [(2, "too_large")]
    assert got[2] == (3, {"c": 3}, b'{"c":3}')
    assert len(got) == 3


@pytest.mark.parametrize("trouble", ["damage_last", "too_large_first"])
def test_many_arrays_of_a_repeated_path_key_are_read_by_spans_in_one_pass(
    tmp_path: Path, trouble: str
) -> None:
    # Read by spans, each array of a repeated `data` cost one more pass over the file from its
    # start: time quadratic in the file (3,000 arrays: 17 s; these 50,000 would take hours).
    k = 50_000
    arrays = b"".join(b'"data": [{"a": %d}], ' % i for i in range(k))
    if trouble == "damage_last":
        data = b"{" + arrays + b'"data": [tru]}'
    else:
        data = b'{"data": [{"t": "' + b"x" * 300_000 + b'"}], ' + arrays + b'"data": []}'
    got = read(tmp_path, data, options={"items_path": "data.item"}, limit=100)
    kept = [g for g in got if not isinstance(g, Rejection)]
    assert len(got) == k + 1
    if trouble == "damage_last":
        assert reasons(got) == [(k + 1, "parse_error")]
        assert got[-1].raw == b"tru"
        assert kept[0] == (1, {"a": 0}, b'{"a":0}')
    else:
        assert reasons(got) == [(1, "too_large")]
        assert kept[0] == (2, {"a": 0}, b'{"a":0}')
    assert kept[-1][1] == {"a": k - 1}


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_number_decimal_cannot_hold_beside_the_array_blames_no_item(
    tmp_path: Path, where: str
) -> None:
    meta = b'"meta": 1e99999999999999999999'
    array = b'"data": [{"a": 1}, {"b": 2}]'
    data = b"{" + (meta + b", " + array if where == "before" else array + b", " + meta) + b"}"
    got = read(tmp_path, data, options={"items_path": "data.item"})
    assert got == [(1, {"a": 1}, b'{"a":1}'), (2, {"b": 2}, b'{"b":2}')]


@pytest.mark.parametrize("codec", ["none", "zstd"])
@pytest.mark.parametrize("nested", [False, True])
def test_a_lone_surrogate_escape_rejects_its_item_and_a_pair_is_kept(
    tmp_path: Path, codec: str, nested: bool
) -> None:
    """yajl2_c would write `\\ud800` as `?`, join `\\ud800\\u0041` into U+10041, and raise
    UnicodeDecodeError on `\\udfff\\ud800`: each such item is a parse_error, the rest exact."""
    texts = [r"\ud83d\ude00", r"\ud800", "plain", r"\ud800\u0041", r"\\ud800", r"\udfff\ud800"]
    # Far apart, so the damage falls mid-stream with good items before it in the same read.
    items = [b'{"i": %d, "v": "%s", "pad": "%s"}' % (n, t.encode(), b"x" * 30_000)
             for n, t in enumerate(texts)]  # fmt: skip
    data = b"[" + b",".join(items) + b"]"
    if nested:
        data = b'{"head": {"x": 1}, "data": ' + data + b"}"
    got = read(tmp_path, data, codec, {"items_path": "data.item"} if nested else None)
    assert reasons(got) == [(2, "parse_error"), (4, "parse_error"), (6, "parse_error")]
    assert "lone UTF-16 surrogate escape" in got[1].detail
    kept = [g for g in got if not isinstance(g, Rejection)]
    assert [(g[0], g[1]["v"]) for g in kept] == [(1, "\U0001f600"), (3, "plain"), (5, r"\ud800")]
    assert [g.raw for g in got if isinstance(g, Rejection)] == [items[1], items[3], items[5]]


def test_after_a_damaged_item_an_item_that_repeats_a_key_is_duplicate_key(tmp_path: Path) -> None:
    data = b'[{"a": 1}, {"a": NaN}, {"a": 1, "a": 2}, {"b": {"c": 1, "c": 1}}, {"a": 3}]'
    got = read(tmp_path, data)
    assert reasons(got) == [(2, "parse_error"), (3, "duplicate_key"), (4, "duplicate_key")]
    assert got[2].raw == b'{"a": 1, "a": 2}'
    assert [g[0] for g in got if not isinstance(g, Rejection)] == [1, 5]


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_an_item_that_repeats_a_key_is_duplicate_key_and_the_items_after_it_are_read(
    tmp_path: Path, codec: str
) -> None:
    data = (
        b'[{"a": 1}, {"a": 1, "a": 2}, {"b": {"c": [{"d": 1, "d": 1}]}}, {"k": 1, "k": 2, "k": 3},'
        b' {"a": {"x": 1}, "b": {"x": 2}}, {"e": 0.5}]'
    )
    got = read(tmp_path, data, codec)
    assert reasons(got) == [(2, "duplicate_key"), (3, "duplicate_key"), (4, "duplicate_key")]
    assert "repeats the key 'a'" in got[1].detail and "'d'" in got[2].detail
    kept = [g for g in got if not isinstance(g, Rejection)]
    assert [(g[0], g[1]) for g in kept] == [
        (1, {"a": 1}),
        (5, {"a": {"x": 1}, "b": {"x": 2}}),
        (6, {"e": 0.5}),
    ]
    assert all(type(g[1]) is dict for g in kept) and type(kept[1][1]["a"]) is dict


def test_an_item_repeating_a_key_thousands_of_times_is_one_duplicate_key(tmp_path: Path) -> None:
    """Each repeat was kept under a key nested once more: time cubic in the repeats, and from
    ~1,000 of them a RecursionError (SystemError) failed the whole partition."""
    repeats = 20_000
    item = b"{" + b", ".join(b'"a": %d' % i for i in range(repeats)) + b"}"
    got = read(tmp_path, b'[{"a": 1}, ' + item + b', {"a": 3}]')
    assert reasons(got) == [(2, "duplicate_key")]
    assert "repeats the key 'a'" in got[1].detail
    assert got[1].raw == item.replace(b": ", b":").replace(b", ", b",")  # every repeat, in order
    assert [g[1] for g in got if not isinstance(g, Rejection)] == [{"a": 1}, {"a": 3}]


_READ_IN_CHILD = """
import sys
from pathlib import Path
from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection
path = Path(sys.argv[1])
for item in read_source(SourceFile(path, path.name), "json_array", {}, ReadLimits(1 << 20), path.parent):
    print(repr((item.position, item.reason, item.detail)) if isinstance(item, Rejection) else repr(item))
"""


@pytest.mark.parametrize("backend", ["python"])  # the backend every ijson install has
def test_the_items_and_reasons_do_not_depend_on_the_ijson_backend_the_machine_picks(
    tmp_path: Path, backend: str
) -> None:
    """ijson picks its backend from $IJSON_BACKEND or what imports; a pure-Python one blamed a
    valid item for the next one's bad byte and crashed on a control character."""
    import os
    import subprocess
    import sys

    path = tmp_path / "a.json"
    path.write_bytes(
        b'[{"t": "ok"},\n{"t": "bad \xff utf8"},\n{"t": "ctl \x01 char"},\n{"t": "ok2"}]'
    )

    def run(env_backend: str | None) -> str:
        env = {k: v for k, v in os.environ.items() if k != "IJSON_BACKEND"}
        if env_backend:
            env["IJSON_BACKEND"] = env_backend
        done = subprocess.run(
            [sys.executable, "-c", _READ_IN_CHILD, str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    default = run(None)
    assert "(1, {'t': 'ok'}" in default and "'ok2'" in default
    assert run(backend) == default


def _peak_while_reading(tmp_path: Path, data: bytes, **kwargs: Any) -> tuple[list[Any], int]:
    import tracemalloc

    path = tmp_path / "big.json"
    path.write_bytes(data)
    del data
    source = SourceFile(path, path.name)
    options = kwargs.get("options") or {}
    tracemalloc.start()
    try:
        items = list(read_source(source, "json_array", options, ReadLimits(256 << 10), tmp_path))
        return items, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


GIANT = 16 << 20  # 64 times the limit of 256 KiB these tests read with


@pytest.mark.parametrize(
    "giant",
    [
        b'{"s": "' + b"z" * GIANT + b'"}',  # an object
        b'"' + b"z" * GIANT + b'"',  # a non-object item
        b'{"n": ' + b"9" * GIANT + b"}",  # a number no parser could hold either
    ],
)
def test_an_item_over_the_limit_is_skipped_by_bytes_without_being_parsed(
    tmp_path: Path, giant: bytes
) -> None:
    data = b'[{"a": 1}, ' + giant + b', {"a": 3}, "s"]'
    items, peak = _peak_while_reading(tmp_path, data)
    assert reasons(items) == [(2, "too_large"), (4, "not_an_object")]
    assert items[1].raw_size == len(giant) and items[1].raw == giant[:1024]
    assert "item 2 is" in items[1].detail
    assert [i[0] for i in items if type(i) is tuple] == [1, 3]
    assert peak < GIANT // 2, peak  # the limit and read buffers (4.6 MB), not the item


def test_a_giant_value_beside_a_nested_items_path_is_only_scanned(tmp_path: Path) -> None:
    huge = b'"' + b"z" * GIANT + b'"'
    data = b'{"meta": ' + huge + b', "data": [{"a": 1}, {"a": 2}], "after": ' + huge + b"}"
    items, peak = _peak_while_reading(tmp_path, data, options={"items_path": "data.item"})
    assert items == [(1, {"a": 1}, orjson.dumps({"a": 1})), (2, {"a": 2}, orjson.dumps({"a": 2}))]
    assert peak < GIANT // 2, peak
    items, peak = _peak_while_reading(
        tmp_path, b'{"meta": ' + huge + b"}", options={"items_path": "data.item"}
    )
    assert reasons(items) == [(0, "not_an_array")] and peak < GIANT // 2, peak


def test_short_values_beside_a_nested_items_path_are_still_checked(tmp_path: Path) -> None:
    data = b'{"meta": [1], "data": [{"a": 1}, {"a": 2}], "x": "\xff"}'
    items = read(tmp_path, data, options={"items_path": "data.item"})
    assert [i[1] for i in items[:2]] == [{"a": 1}, {"a": 2}]
    assert reasons(items) == [(3, "invalid_utf8")] and len(items) == 3


ODD_ITEMS = [
    b'{"text": "dup", "d": 1, "d": {"x": [2, 3]}, "d": 4}',
    b'{"text": "big", "n": 1e400, "m": 123456789012345678901234567890}',
    b'{"text": "precise", "n": 0.1000000000000000055511151231257827}',
    b"[1e400]",
]  # an item nested 255-1,024 levels is a record (test_an_item_nested_past_what_orjson...)


def _pairs(raw: bytes) -> Any:
    """`raw` parsed keeping every member and every number's digits."""
    return json.loads(raw, object_pairs_hook=list, parse_float=Decimal)


@pytest.mark.parametrize("damaged", [False, True])
def test_every_rejected_item_is_quarantined_with_its_input(tmp_path: Path, damaged: bool) -> None:
    """No item is rejected without its raw input: read by the streaming parser (which gives
    values) an item is rendered faithfully, a repeated key and the number as read included;
    read as spans (after damage) it is its own bytes."""
    head = b'[{"bad": tru}, ' if damaged else b"["
    items = read(tmp_path, head + b", ".join([b'{"text": "ok"}', *ODD_ITEMS]) + b"]")
    rejected = [i for i in items if isinstance(i, Rejection)][int(damaged) :]
    assert [i.reason for i in rejected] == [
        "duplicate_key",
        "unsupported_value",
        "unsupported_value",
        "not_an_object",
    ]
    for item, source in zip(rejected, ODD_ITEMS, strict=True):
        assert item.raw is not None, item
        if damaged:
            assert item.raw == source
        else:
            assert _pairs(item.raw) == _pairs(source)


def test_a_rejected_item_is_rendered_with_each_number_as_read(tmp_path: Path) -> None:
    """A decimal keeps its digits and stays a fraction (`1.50E+02`, which Decimal holds as
    150, is `1.50E+2`, not the integer `150`); `-0.0` keeps its sign. The integer `-0` is
    the integer 0 once ijson has read it: it is written `0` (README, Quarantine)."""
    source = b'{"a": 1, "a": -0, "f": 1.50E+02, "g": -0.0, "h": 0E0, "i": 15E2, "j": 2.5e-3}'
    [rejected] = read(tmp_path, b"[" + source + b"]")
    assert isinstance(rejected, Rejection) and rejected.reason == "duplicate_key"
    assert rejected.raw == (b'{"a":1,"a":0,"f":1.50E+2,"g":-0.0,"h":0E+0,"i":1.5E+3,"j":0.0025}')
    assert _pairs(rejected.raw) == _pairs(source.replace(b"-0,", b"0,"))
    assert all(type(v) is Decimal for k, v in _pairs(rejected.raw) if k in "fghij")
