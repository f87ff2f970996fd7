"""A generated hostile corpus goes through the whole build without crashing.

Every damaged or odd input of the issue is here, each in its own source so the accounting can
be checked per source: truncated gzip and zstd files, invalid UTF-8, a BOM with CRLF line ends,
blank lines and no final newline, NaN/Infinity, trailing commas, single quotes, control
characters in strings, JSON values that are not objects, nesting past what orjson can write
(255-1023 levels) and past what it can read (> 1024), a 50 MB line, a zero-byte file. The good
records are written, each bad one is quarantined once with a stable reason and a trace, and
`read = written + quarantined` holds for every source, counted independently from the shards
and the quarantine files. A file that changes while it is read fails its partition with a
clear message and no package, and a file full of bad lines is quarantined in bounded memory.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import tracemalloc
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import yaml
import zstandard

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.config import load_config
from jsonl_assets.core.readers.source_file import SourceFile
from jsonl_assets.core.stages.extract_stage import run_extract
from jsonl_assets.core.store.work_files import partition_dirs
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import materialize, package_shards

KEY = "cpt|train"
HUGE_LINE_BYTES = 50 * 1024 * 1024 + 17
MAX_RECORD_BYTES = 1024 * 1024
REASON = re.compile(r"^[a-z][a-z0-9_]*(:[A-Za-z0-9_]+)?$")


def _text(i: int, source: str = "") -> bytes:
    noise = hashlib.sha256(f"{source}{i}".encode()).hexdigest()
    return orjson.dumps({"text": f"{source} record {i}: {noise} — ünïcödé ✿"})


def _complete_lines(decodable: bytes) -> int:
    """Lines that end with a newline inside the bytes a damaged stream still yields."""
    return decodable.count(b"\n")


def _doc(text: bytes) -> bytes:
    """A native cpt record (one document message) around JSON string content `text`."""
    return b'{"messages":[{"role":"document","content":"' + text + b'"}]}'


def _deep(depth: int) -> bytes:
    """A native cpt record whose json part nests `depth` arrays (5 levels around them)."""
    data = b"[" * depth + b"]" * depth
    return b'{"messages":[{"role":"document","content":[{"type":"json","data":' + data + b"}]}]}"


# Each messy line with what must become of it (None: a blank line, neither read nor rejected).
MESSY: list[tuple[bytes, str | None]] = [
    (_doc(b"first line, after a BOM"), "written"),
    (b"", None),
    (_doc(b"CRLF line ends are fine"), "written"),
    (b'{"messages": NaN}', "parse_error"),
    (b'{"messages": Infinity}', "parse_error"),
    (b'{"messages": -Infinity}', "parse_error"),
    (b'{"messages": [],}', "parse_error"),  # trailing comma
    (b"{'messages': []}", "parse_error"),  # single quotes
    (_doc(b"a control \x01 character"), "parse_error"),
    (_doc(b"a tab \t inside"), "parse_error"),
    (_doc(b"caf\xe9 in latin-1"), "invalid_utf8"),
    (_doc(b"\xff\xfe broken"), "invalid_utf8"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'"just a string"', "not_an_object"),
    (b"42", "not_an_object"),
    (b"null", "not_an_object"),
    (b"true", "not_an_object"),
    (_deep(300), "unserializable"),  # 305 levels: orjson reads it, cannot write it
    (_deep(1019), "unserializable"),  # 1024 levels: orjson's read limit exactly
    (_deep(5000), "parse_error"),  # past orjson's read limit
    (b"   \t ", None),
    (_doc(b"escapes \\u2028 \\u2029 \\u0000 \\ud83d\\ude00 survive"), "written"),
    (_doc(b"last line, no newline"), "written"),
]


def make_hostile_project(root: Path) -> tuple[Path, dict[str, dict[str, int]]]:
    """The corpus and its config; returns the config path and the expected counts per source."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    expected: dict[str, dict[str, int]] = {}

    lines = b"\n".join(_text(i, "gz") for i in range(3000)) + b"\n"
    gz = gzip.compress(lines, mtime=0)
    cut = gz[: len(gz) // 2]
    (raw / "truncated.jsonl.gz").write_bytes(cut)
    good = _complete_lines(zlib.decompressobj(wbits=31).decompress(cut))
    expected["truncated_gzip"] = {"read": good + 1, "written": good, "corrupt_file": 1}

    lines = b"\n".join(_text(i, "zst") for i in range(3000)) + b"\n"
    zst = zstandard.ZstdCompressor(level=3).compress(lines)
    cut = zst[: len(zst) * 2 // 3]
    (raw / "truncated.jsonl.zst").write_bytes(cut)
    good = _complete_lines(zstandard.ZstdDecompressor().decompressobj().decompress(cut))
    expected["truncated_zstd"] = {"read": good + 1, "written": good, "corrupt_file": 1}

    messy = b"\xef\xbb\xbf" + b"\r\n".join(line for line, _ in MESSY)  # no final newline
    (raw / "messy.jsonl").write_bytes(messy)
    fates = Counter(fate for _, fate in MESSY if fate is not None)
    expected["messy"] = {"read": sum(fates.values()), **fates}

    with open(raw / "huge.jsonl", "wb") as handle:
        handle.write(_text(1, "huge") + b"\n" + b'{"text":"')
        block = b"a" * (1 << 20)
        left = HUGE_LINE_BYTES - len(b'{"text":"') - len(b'"}')
        while left > 0:
            handle.write(block[: min(left, len(block))])
            left -= len(block)
        handle.write(b'"}\n' + _text(2, "huge") + b"\n")
    expected["huge"] = {"read": 3, "written": 2, "too_large": 1}

    (raw / "empty.jsonl").write_bytes(b"")
    expected["empty"] = {"read": 0, "written": 0}

    files = {
        "truncated_gzip": "raw/truncated.jsonl.gz",
        "truncated_zstd": "raw/truncated.jsonl.zst",
        "messy": "raw/messy.jsonl",
        "huge": "raw/huge.jsonl",
        "empty": "raw/empty.jsonl",
    }
    config = {
        "dataset": {"name": "hostile", "description": "every kind of damaged input"},
        "output": {"dir": "package", "max_records_per_shard": 500},
        "limits": {"max_record_bytes": MAX_RECORD_BYTES},
        "thresholds": {
            "max_parse_failure_rate": 1.0,
            "max_duplicate_id_rate": 1.0,
            "max_invalid_rate": 1.0,
            "max_adapter_reject_rate": 1.0,
        },
        "sources": [
            {
                "name": name,
                "paths": [path],
                "objective": "cpt",
                "adapter": "native" if name == "messy" else "text",
                "split": "train",
            }
            for name, path in files.items()
        ],
    }
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path, expected


def _shard_records(package: Path) -> list[dict[str, Any]]:
    records = []
    for path in package_shards(package):
        with open(path, "rb") as handle:
            data = b"".join(iter_decompressed(handle, "zstd"))
        records.extend(orjson.loads(line) for line in data.splitlines())
    return records


def _quarantine(root: Path) -> list[dict[str, Any]]:
    entries = []
    for path in sorted((root / "quarantine").rglob("*.jsonl")):
        entries.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
    return entries


def test_hostile_corpus_builds_and_every_input_is_accounted_for(tmp_path: Path) -> None:
    config, expected = make_hostile_project(tmp_path)
    cfg = load_config(config)
    dirs = partition_dirs(
        cfg.output.work_dir, cfg.output.quarantine_dir, cfg.output.dir, "cpt", "train"
    )
    # Extraction streams the 50 MB line: it is never held whole.
    tracemalloc.start()
    try:
        run_extract(cfg, dirs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16_000_000, f"extraction peaked at {peak} bytes with a 50 MB line"

    with dg.instance_for_test() as instance:
        assert materialize(config, instance, KEY).success
        assert materialize(config, instance, None).success
    package = tmp_path / "package"
    report = verify_package(package)
    assert report.ok, report.findings[:5]

    shards_report = orjson.loads((dirs.work / "shards.json").read_bytes())["report"]
    accounting = shards_report["extra"]["accounting"]["per_source"]
    records = _shard_records(package)
    entries = _quarantine(tmp_path)
    written = Counter(r["metadata"]["trace"]["source"] for r in records)
    quarantined = Counter(e["trace"]["source"] for e in entries)
    reasons = {name: Counter() for name in expected}
    for e in entries:
        reasons[e["trace"]["source"]][e["reason"]] += 1
    for name, want in expected.items():
        acc = accounting.get(name, {"read": 0, "written": 0, "quarantined": 0})
        assert acc["read"] == acc["written"] + acc["quarantined"], name
        assert acc["read"] == want["read"], (name, acc, want)
        assert acc["written"] == written[name] == want["written"], (name, acc, want)
        assert acc["quarantined"] == quarantined[name], name
        assert dict(reasons[name]) == {
            k: v for k, v in want.items() if k not in ("read", "written")
        }, name
        print(
            f"{name:15} read {acc['read']:5} = written {acc['written']:5} + quarantined "
            f"{acc['quarantined']:3}  {dict(reasons[name])}"
        )

    # Every quarantine entry: a stable reason, a detail, a full trace; raw kept (or a prefix).
    sha = {f["file"]: f["sha256"] for f in shards_report["extra"]["files"]}
    for e in entries:
        assert REASON.match(e["reason"]) and e["detail"], e
        trace = e["trace"]
        assert trace["sha256"] == sha[trace["file"]] and trace["line"] >= 1, e
        assert trace["source"] in expected and not trace["file"].startswith("/"), e
    by_reason = {e["reason"]: e for e in entries}
    assert by_reason["invalid_utf8"]["raw_b64"]  # not UTF-8: kept as base64
    big = by_reason["too_large"]
    assert big["raw_truncated"] and big["raw_size"] == HUGE_LINE_BYTES and big["trace"]["line"] == 2
    assert len(big["raw"]) <= 1024
    for entry in (e for e in entries if e["reason"] == "corrupt_file"):
        assert "compressed offset" in entry["detail"], entry
    deep = [e for e in entries if e["reason"] == "unserializable"]
    assert [e["trace"]["line"] for e in deep] == [18, 19] and deep[0]["stage"] == "transformed"

    # The good messy lines came through, BOM and CR stripped, escapes decoded.
    texts = [
        r["messages"][0]["content"][0]["text"]
        for r in records
        if r["metadata"]["trace"]["source"] == "messy"
    ]
    assert texts == [
        "first line, after a BOM",
        "CRLF line ends are fine",
        "escapes \u2028 \u2029 \x00 \U0001f600 survive",
        "last line, no newline",
    ]
    # The zero-byte file is listed with the sha256 of nothing.
    assert sha["raw/empty.jsonl"] == hashlib.sha256(b"").hexdigest()


def test_a_file_changing_while_read_fails_the_partition_with_no_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    growing = raw / "growing.jsonl"
    growing.write_bytes(b"\n".join(_text(i) for i in range(50)) + b"\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dataset": {"name": "growing", "description": "a log still being written"},
                "sources": [
                    {
                        "name": "log",
                        "paths": ["raw/growing.jsonl"],
                        "objective": "cpt",
                        "adapter": "text",
                        "split": "train",
                    }
                ],
            }
        )
    )
    original = SourceFile.chunks

    def appending_chunks(self: SourceFile, size: int = 1 << 20) -> Any:
        for n, chunk in enumerate(original(self, size)):
            yield chunk
            if n == 0:
                with open(self.path, "ab") as handle:  # another process appends meanwhile
                    handle.write(_text(99) + b"\n")

    monkeypatch.setattr(SourceFile, "chunks", appending_chunks)
    with dg.instance_for_test() as instance:
        result = materialize(config, instance, KEY)
        assert not result.success
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert [f.step_key for f in failures] == ["record_stages"]  # stages 1-3: one step
        error = failures[0].event_specific_data.error
        while error.cls_name.startswith("Dagster"):  # Dagster's wrapper around the stage's error
            error = error.cause
        message = error.message
        # the step's one-line Failure (defs/user_errors.py), the partition named once
        assert "Failure: cpt|train: raw/growing.jsonl: file changed" in message, message
        assert "size" in message and "nothing of this partition was written" in message
        assert not (tmp_path / "package").exists() or not any((tmp_path / "package").rglob("*"))
        assert not (tmp_path / "work" / "cpt" / "train" / "extracted.json").exists()

        monkeypatch.setattr(SourceFile, "chunks", original)  # the writer is done: rebuild
        assert materialize(config, instance, KEY).success
    assert len(_shard_records(tmp_path / "package")) == 51


def test_a_file_of_bad_lines_is_quarantined_in_bounded_memory(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    bad = b"{'not json': '" + b"x" * 2000 + b"'}"
    lines = [bad.replace(b"not json", b"bad %d" % i) for i in range(6000)]  # 12 MB of bad lines
    (raw / "bad.jsonl").write_bytes(b"\n".join(lines) + b"\n" + _text(0) + b"\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dataset": {"name": "bad", "description": "a file that is all bad lines"},
                "sources": [
                    {
                        "name": "bad",
                        "paths": ["raw/bad.jsonl"],
                        "objective": "cpt",
                        "adapter": "text",
                        "split": "train",
                    }
                ],
            }
        )
    )
    cfg = load_config(config)
    out = cfg.output
    dirs = partition_dirs(out.work_dir, out.quarantine_dir, out.dir, "cpt", "train")
    tracemalloc.start()
    try:
        report = run_extract(cfg, dirs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.quarantined == 6000 and report.records_out == 1
    assert peak < 9_000_000, f"peak {peak} bytes for 12 MB of rejected lines"
    quarantine = (dirs.quarantine / "extracted.jsonl").read_bytes()
    entries = [orjson.loads(x) for x in quarantine.splitlines()]
    assert [e["trace"]["line"] for e in entries] == list(range(1, 6001))
    assert [e["raw"].encode() for e in entries] == lines
    assert not dirs.scratch.exists() or not any(dirs.scratch.iterdir())  # the spill is gone
