"""The report's figures recomputed here, from the shards (zstandard + orjson) and the
quarantine files, with this file's own reading of the definitions: no report code is used."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import zstandard

from jsonl_assets_tests.conftest import published_quarantine

DATA_SCRIPT = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def embedded_data(html: bytes) -> dict[str, Any]:
    """The JSON report.html carries (the figures its charts and tables were drawn from)."""
    match = DATA_SCRIPT.search(html.decode())
    assert match is not None, "report.html has no embedded report-data"
    return orjson.loads(match.group(1).replace("<\\/", "</"))


def published_records(package: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    manifest = orjson.loads((package / "metadata.json").read_bytes())
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in manifest["files"]:
        records = out.setdefault((entry["objective"], entry["split"]), [])
        for shard in entry["shards"]:
            with open(package / shard["path"], "rb") as handle:
                reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
                data = reader.read()
            records += [orjson.loads(line) for line in data.split(b"\n") if line]
    return out


def _text(messages: list[dict[str, Any]], roles: set[str]) -> list[str] | None:
    chosen = [m for m in messages if m["role"] in roles]
    if not chosen:
        return None
    return [p["text"] for m in chosen for p in m["content"] if p["type"] == "text"]


def _size(texts: list[str]) -> tuple[int, int]:
    return sum(len(t) for t in texts), sum(len(t.split()) for t in texts)


def _all_text(messages: list[dict[str, Any]]) -> int:
    return sum(len(p["text"]) for m in messages for p in m["content"] if p["type"] == "text")


def _has_tool_call(messages: list[dict[str, Any]]) -> bool:
    return any(p["type"] == "tool_call" for m in messages for p in m["content"])


def cell_figures(objective: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Lengths as (chars, words) lists per kind, and the counters, of one objective x split."""
    lengths: dict[str, list[tuple[int, int]]] = {"prompt": [], "response": [], "document": []}
    turns: Counter[str] = Counter()
    candidates: Counter[str] = Counter()
    grading: Counter[str] = Counter()
    records_by_source: Counter[str] = Counter()
    chars_by_source: Counter[str] = Counter()
    licences: dict[str, Counter[str]] = {}
    tool = 0
    for r in records:
        messages = r["messages"]
        every = [messages] + [c["messages"] for c in r.get("candidates", [])]
        if (t := _text(messages, {"system", "user"})) is not None:
            lengths["prompt"].append(_size(t))
        if (t := _text(messages, {"document"})) is not None:
            lengths["document"].append(_size(t))
        for ms in every[1:] if objective == "preference" else every[:1]:
            if (t := _text(ms, {"assistant"})) is not None:
                lengths["response"].append(_size(t))
        n = sum(1 for m in messages if m["role"] not in ("system", "document"))
        if n:
            turns[str(n)] += 1
        if objective == "preference":
            candidates[str(len(r["candidates"]))] += 1
        if objective == "rft":
            grading[r["reference"]["grading"]["type"]] += 1
        tool += any(_has_tool_call(ms) for ms in every)
        source = r["metadata"]["trace"]["source"]
        records_by_source[source] += 1
        chars_by_source[source] += sum(_all_text(ms) for ms in every)
        licence = r["metadata"].get("license")
        licences.setdefault(source, Counter())[licence if licence is not None else "(none)"] += 1
    return {
        "records": len(records),
        "lengths": lengths,
        "turns": dict(turns),
        "candidates": dict(candidates),
        "grading_types": dict(grading),
        "tool_call_records": tool,
        "sources": {
            s: {"records": records_by_source[s], "chars": chars_by_source[s]}
            for s in records_by_source
        },
        "licences": {s: dict(c) for s, c in licences.items()},
    }


def histogram(values: list[int], edges: list[int]) -> dict[str, Any]:
    bins = [0] * len(edges)
    for v in values:
        bins[bisect_right(edges, v) - 1] += 1
    return {
        "count": len(values),
        "sum": sum(values),
        "min": min(values, default=None),
        "max": max(values, default=None),
        "bins": bins,
    }


def quarantined(package: Path, quarantine_dir: Path) -> dict[str, Counter[str]]:
    """Reasons per partition ("objective|split"), from every quarantine file published with
    the package's metadata.json."""
    out: dict[str, Counter[str]] = {}
    for logical, path in sorted(published_quarantine(package, quarantine_dir).items()):
        objective, split, _ = logical.split("/")
        key = f"{objective}|{split}"
        for line in path.read_bytes().splitlines():
            if line.strip():
                out.setdefault(key, Counter())[orjson.loads(line)["reason"]] += 1
    return out
