"""What ijson must never read (json_guard.py): an integer of more than 640 digits (Python's
lowest int_max_str_digits: past the process's limit, yajl2_c crashes the process) and nesting deeper than 1,024 levels (its memory grows with the square
of the depth). Such an item is quarantined on its own, with its bytes; the items after it are
read."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.readers.json_guard import MAX_DEPTH, Hostile, StreamGuard, hostile_item
from jsonl_assets.core.readers.json_render import rendered_raw
from jsonl_assets.core.traces import Rejection

BIG = b"1" * 5000
CHILD = """
import json, sys
from pathlib import Path
from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
path = Path(sys.argv[1])
out = []
for item in read_source(SourceFile(path, path.name), "json_array", json.loads(sys.argv[2]),
                        ReadLimits(), path.parent):
    if isinstance(item, tuple):
        out.append(["record", item[0], item[1]])
    else:
        out.append([item.reason, item.position, item.detail, (item.raw or b"").decode()])
print(json.dumps(out))
"""


def read_in_child(
    tmp_path: Path, data: bytes, options: dict[str, Any] | None = None, digits: str | None = None
) -> Any:
    """The read in a child process: before the guard, ijson killed the process (SIGSEGV).
    `digits`: its PYTHONINTMAXSTRDIGITS."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONINTMAXSTRDIGITS"}
    if digits is not None:
        env["PYTHONINTMAXSTRDIGITS"] = digits
    path = tmp_path / "data.json"
    path.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), json.dumps(options or {})],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("number", "options", "wrap"),
    [
        (BIG, {}, b"[%s]"),
        (b"-" + b"9" * 4301, {}, b"[%s]"),
        (BIG, {"items_path": "data.item"}, b'{"data": [%s]}'),
    ],
)
def test_an_integer_too_long_for_python_is_unsupported_value_and_the_items_after_it_are_read(
    tmp_path: Path, number: bytes, options: dict[str, Any], wrap: bytes
) -> None:
    filler = b'"' + b"x" * 70_000 + b'"'  # the number past ijson's first read buffer
    bad = b'{"id": 2, "meta": {"n": [' + number + b"]}}"
    items = [b'{"id": 1, "pad": %s}' % filler, bad, b'{"id": 3, "n": 4300}']
    got = read_in_child(tmp_path, wrap % b",\n".join(items), options)
    assert [g[:2] for g in got] == [["record", 1], ["unsupported_value", 2], ["record", 3]]
    assert "is an integer beyond 64 bits" in got[1][2]
    assert got[1][3] == bad.decode()  # its bytes, as read
    assert got[2][2] == {"id": 3, "n": 4300}


@pytest.mark.parametrize("digits", ["640", "4300", "0"])
def test_the_read_is_the_same_under_any_int_digit_limit(tmp_path: Path, digits: str) -> None:
    """A 1,000-digit integer crashed a process whose PYTHONINTMAXSTRDIGITS was under 1,000:
    now every setting reads the file alike, the integer's item named by its path."""
    bad = b'{"id": 2, "meta": {"n": [' + b"7" * 1000 + b"]}}"
    got = read_in_child(tmp_path, b'[{"id": 1}, %s, {"id": 3}]' % bad, digits=digits)
    assert [g[:2] for g in got] == [["record", 1], ["unsupported_value", 2], ["record", 3]]
    assert got[1][2].startswith("item 2: meta.n[0]: the number 777"), got[1][2]
    assert got[1][3] == bad.decode()  # its bytes, as read


def test_long_digit_runs_that_are_no_integer_are_read_as_before(tmp_path: Path) -> None:
    data = b'[{"s": "%s"}, {"d": 1.%s}, {"e": %se2}]' % (BIG, b"0" * 5000, b"0." + BIG)
    got = read_in_child(tmp_path, data)
    assert got[0] == ["record", 1, {"s": BIG.decode()}]
    assert got[1] == ["record", 2, {"d": 1.0}]
    assert got[2][:2] == ["unsupported_value", 3]  # a decimal a double cannot hold, as before


def read(tmp_path: Path, data: bytes) -> list[Any]:
    path = tmp_path / "data.json"
    path.write_bytes(data)
    return list(read_source(SourceFile(path, path.name), "json_array", {}, ReadLimits(), tmp_path))


@pytest.mark.parametrize("depth", [MAX_DEPTH, 20_000])
def test_nesting_deeper_than_the_limit_is_parse_error_with_flat_memory(
    tmp_path: Path, depth: int
) -> None:
    # 20,000 levels took ijson over 1 GB (its prefix per event is as long as the depth)
    deep = b'{"id": 2, "deep": ' + b"[" * depth + b"]" * depth + b"}"
    items = read(tmp_path, b'[{"id": 1}, %s, {"id": 3}]' % deep)
    assert items[0] == (1, {"id": 1}, b'{"id":1}')
    rejected = items[1]
    assert isinstance(rejected, Rejection)
    assert (rejected.position, rejected.reason) == (2, "parse_error")
    assert f"nested deeper than orjson's limit of {MAX_DEPTH} levels" in rejected.detail
    assert rejected.raw == deep
    assert items[2] == (3, {"id": 3}, b'{"id":3}')


def test_nesting_at_the_limit_is_left_to_the_parser(tmp_path: Path) -> None:
    inner = MAX_DEPTH - 1  # the item's object is one level
    deep = b'{"deep": ' + b"[" * inner + b"]" * inner + b"}"
    assert hostile_item(deep) is None
    items = read(tmp_path, b"[%s]" % deep)
    # a record, as the same JSONL line (orjson reads it; writing it is unserializable later)
    assert type(items[0]) is tuple and items[0][2] == deep.replace(b" ", b"")


def test_the_stream_guard_follows_strings_and_escapes_across_any_chunking() -> None:
    rng = random.Random(7)
    alphabet = ["a", "\\", '"', "[", "]", "{", "}", "1", "\n", "é", ","]

    def value(level: int) -> Any:
        r = rng.random()
        if level > 8 or r < 0.3:
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        if r < 0.4:
            return rng.randint(0, 10**6)
        if r < 0.7:
            return [value(level + 1) for _ in range(rng.randint(0, 3))]
        return {value(9): value(level + 1) for _ in range(rng.randint(0, 3))}

    def depth_of(v: Any) -> int:
        inner = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        return 0 if inner is None else 1 + max(map(depth_of, inner), default=0)

    for _ in range(1500):
        doc = [value(0) for _ in range(3)]
        data = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()
        limit = rng.randint(1, depth_of(doc) + 1)
        guard = StreamGuard(base=limit - MAX_DEPTH)
        step = rng.randint(1, 20)
        try:
            for i in range(0, len(data), step):
                guard.check(data[i : i + step])
            stopped = False
        except Hostile:
            stopped = True
        assert stopped == (depth_of(doc) > limit), data
        if not stopped:
            assert (guard.depth, guard.in_string, guard.escaped) == (0, False, False), data


def test_a_rendered_integer_keeps_every_digit_past_pythons_limit() -> None:
    assert rendered_raw({"n": 10**5000}, 1 << 20) == {"raw": b'{"n":1' + b"0" * 5000 + b"}"}
    assert rendered_raw([-(10**4400)], 1 << 20) == {"raw": b"[-1" + b"0" * 4400 + b"]"}
