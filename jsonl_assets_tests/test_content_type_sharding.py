"""`output.shard_by: content_type`: one shard family per content type within each partition.

Shards are named data/<objective>-<split>-<digest>/<objective>-<split>-<content_type>-NNNNN
.jsonl.zst, by each record's own metadata.content_type (the source's where the record sets
none; records without one form the family `general`; metadata.json's `notes` say so), a
content type that cannot name a shard is quarantined, rotation by records and by on-disk bytes applies within each family, metadata.json lists every family's shards under its partition's file entry, and
switching the sharding setting removes the shards of the earlier layout.
"""

from __future__ import annotations

import base64
import posixpath
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import yaml

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import shard_relpaths, write_config
from jsonl_assets_tests.test_formats_end_to_end import build_package

SHARD_NAME = re.compile(
    r"^data/(?:sft|cpt)-(?:train|test)-[0-9a-f]{16}/"
    r"(sft|cpt)-(train|test)-(?:([a-z0-9_]+)-)?(\d{5})\.jsonl\.zst$"
)


def chats(tag: str, count: int, rng: random.Random) -> bytes:
    lines = []
    for n in range(count):
        # Random base64 barely compresses: a record is ~600 bytes on disk.
        noise = base64.b64encode(rng.randbytes(600)).decode()
        record = {
            "messages": [
                {"role": "user", "content": f"{tag} question {n}"},
                {"role": "assistant", "content": f"{tag} answer {n}: {noise}"},
            ]
        }
        lines.append(orjson.dumps(record) + b"\n")
    return b"".join(lines)


def make_project(root: Path) -> Path:
    rng = random.Random(7)
    raw = root / "raw"
    raw.mkdir(parents=True)
    (raw / "chats.jsonl").write_bytes(chats("chat", 20, rng))
    (raw / "code.jsonl").write_bytes(chats("code", 15, rng))
    (raw / "misc.jsonl").write_bytes(chats("misc", 5, rng))
    notes = [
        {"text": f"Note {n}. {base64.b64encode(rng.randbytes(60)).decode()}"} for n in range(3)
    ]
    (raw / "notes.jsonl").write_bytes(b"".join(orjson.dumps(n) + b"\n" for n in notes))

    def source(name: str, objective: str, adapter: str, **kw: Any) -> dict[str, Any]:
        return {
            "name": name,
            "paths": [f"raw/{name}.jsonl"],
            "objective": objective,
            "adapter": adapter,
            "split": kw.pop("split", "train"),
            **kw,
        }

    config = {
        "dataset": {"name": "by-content-type", "description": "content-type sharding"},
        # retention 0: a rebuild's unlisted shards go at once (the listing below checks it)
        "output": {"shard_by": "content_type", "max_records_per_shard": 7, "retention_hours": 0},
        "sources": [
            source("chats", "sft", "chat", content_type="chat"),
            source("code", "sft", "chat", content_type="code"),
            source("misc", "sft", "chat"),  # no content_type: family `general`
            source("notes", "cpt", "text", split="test", content_type="field_notes"),
        ],
    }
    return write_config(root / "pipeline.yaml", config)


def set_output(config: Path, **output: Any) -> None:
    data = yaml.safe_load(config.read_text())
    data["output"] = {"retention_hours": 0, **output}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def listing(package: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Shards per (objective, split) file entry of metadata.json; checks the folder matches."""
    metadata = orjson.loads((package / "metadata.json").read_bytes())
    entries = {(f["objective"], f["split"]): f["shards"] for f in metadata["files"]}
    listed = {s["path"] for shards in entries.values() for s in shards}
    assert shard_relpaths(package) == listed
    return entries


def families(shards: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Record counts of the shards of each family, in shard-number order."""
    out: dict[str, list[int]] = {}
    for shard in sorted(shards, key=lambda s: s["path"]):
        match = SHARD_NAME.match(shard["path"])
        assert match, shard["path"]
        out.setdefault(match.group(3) or "", []).append(shard["record_count"])
    return out


def content_types(package: Path, shard: dict[str, Any]) -> Counter[str | None]:
    with open(package / shard["path"], "rb") as handle:
        data = b"".join(iter_decompressed(handle, "zstd"))
    return Counter(orjson.loads(line)["metadata"].get("content_type") for line in data.splitlines())


def test_content_type_families_rotate_and_are_listed_under_their_partition(
    tmp_path: Path,
) -> None:
    config = make_project(tmp_path)
    cfg, _ = build_package(config)
    package = cfg.output.dir
    assert verify_package(package, forbid_split_leakage=True).ok

    # Rotation by records, within each family; numbering restarts per family.
    entries = listing(package)
    assert set(entries) == {("sft", "train"), ("cpt", "test")}
    assert families(entries[("sft", "train")]) == {
        "chat": [7, 7, 6],
        "code": [7, 7, 1],
        "general": [5],
    }
    assert families(entries[("cpt", "test")]) == {"field_notes": [3]}
    assert [s["path"].split("/", 2)[2] for s in entries[("sft", "train")]][:4] == [
        "sft-train-chat-00000.jsonl.zst",
        "sft-train-chat-00001.jsonl.zst",
        "sft-train-chat-00002.jsonl.zst",
        "sft-train-code-00000.jsonl.zst",
    ]
    # Each shard holds only its family's records (`general`: records without content_type).
    for shards in entries.values():
        for shard in shards:
            family = SHARD_NAME.match(shard["path"]).group(3)
            expected = None if family == "general" else family
            assert content_types(package, shard) == Counter({expected: shard["record_count"]})

    # Rotation by on-disk bytes, still within each family; the old shards are removed.
    limit = 2048
    set_output(
        config, shard_by="content_type", max_records_per_shard=1000, max_bytes_per_shard=limit
    )
    cfg, _ = build_package(config)
    assert verify_package(package).ok
    entries = listing(package)
    by_bytes = families(entries[("sft", "train")])
    assert {k: sum(v) for k, v in by_bytes.items()} == {"chat": 20, "code": 15, "general": 5}
    assert all(len(counts) >= 2 for counts in by_bytes.values()), by_bytes
    sizes = [(package / s["path"]).stat().st_size for s in entries[("sft", "train")]]
    assert max(sizes) <= limit

    # Back to one family per partition: the content-type shards go away.
    set_output(config, max_records_per_shard=1000)
    cfg, _ = build_package(config)
    entries = listing(package)
    assert [s["path"].split("/", 2)[2] for s in entries[("sft", "train")]] == [
        "sft-train-00000.jsonl.zst"
    ]
    assert [s["path"].split("/", 2)[2] for s in entries[("cpt", "test")]] == [
        "cpt-test-00000.jsonl.zst"
    ]
    assert verify_package(package).ok


def test_the_notes_of_a_file_entry_say_where_its_shards_are(tmp_path: Path) -> None:
    """The `notes` of each file entry name the folder and the file names its shards have."""
    config = make_project(tmp_path)
    cfg, _ = build_package(config)
    metadata = orjson.loads((cfg.output.dir / "metadata.json").read_bytes())
    for entry in metadata["files"]:
        prefix = f"{entry['objective']}-{entry['split']}"
        folders = {posixpath.dirname(shard["path"]) for shard in entry["shards"]}
        assert len(folders) == 1
        (folder,) = folders
        assert re.fullmatch(rf"data/{prefix}-[0-9a-f]{{16}}", folder)
        note = entry["notes"]
        assert note == (
            f"sharded by content type: {folder}/{prefix}-<content_type>-NNNNN.jsonl.zst"
        )
        pattern = re.escape(note.split(": ", 1)[1])
        pattern = pattern.replace(re.escape("<content_type>"), "[a-z0-9_]+")
        pattern = pattern.replace("NNNNN", r"\d{5}")
        for shard in entry["shards"]:
            assert re.fullmatch(pattern, shard["path"]), (note, shard["path"])


def _shard_bytes(package: Path) -> dict[str, bytes]:
    return {rel.rsplit("/", 1)[1]: (package / rel).read_bytes() for rel in shard_relpaths(package)}


def _own_types_project(root: Path, chunk_bytes: int) -> Path:
    """A `chat` source some of whose records carry another content type of their own, and a
    source without one whose records each carry one (or null, or none)."""
    raw = root / "raw"
    raw.mkdir(parents=True)

    def chat(n: int, **metadata: Any) -> bytes:
        turns = [{"role": "user", "content": f"q{n} " + "x" * 200}, {"role": "assistant",
                 "content": f"a{n}"}]  # fmt: skip
        record = {"id": f"r{n}", "messages": turns, **({"metadata": metadata} if metadata else {})}
        return orjson.dumps(record) + b"\n"

    typed = [chat(n, content_type="forum") if n % 3 == 0 else chat(n) for n in range(30)]
    (raw / "typed.jsonl").write_bytes(b"".join(typed))
    kinds = [{"content_type": "code"}, {"content_type": "forum"}, {"content_type": None}, {}]
    (raw / "untyped.jsonl").write_bytes(b"".join(chat(100 + n, **kinds[n % 4]) for n in range(20)))

    def source(name: str, **kw: Any) -> dict[str, Any]:
        return {"name": name, "paths": [f"raw/{name}.jsonl"], "objective": "sft",
                "adapter": "native", "id_field": "id", "split": "train", **kw}  # fmt: skip

    config = {
        "dataset": {"name": "own-types", "description": "records' own content types"},
        "output": {"shard_by": "content_type", "retention_hours": 0, "chunk_bytes": chunk_bytes},
        "sources": [source("typed", content_type="chat"), source("untyped")],
    }
    return write_config(root / "pipeline.yaml", config)


def test_a_record_goes_to_the_shard_of_its_own_content_type(tmp_path: Path) -> None:
    """A record's own metadata.content_type (kept: the source's only fills it where the record
    sets none) names its shard family, not its source's: every shard's name agrees with each
    record in it, null or no content type is `general`, and the bytes are the same whether
    the partition is read as one chunk or many."""
    packages = []
    for chunk_bytes in (256 << 20, 4096):
        root = tmp_path / str(chunk_bytes)
        cfg, _ = build_package(_own_types_project(root, chunk_bytes))
        assert verify_package(cfg.output.dir).ok
        packages.append(cfg.output.dir)
    entries = listing(packages[0])
    found: Counter[str | None] = Counter()
    for shard in entries[("sft", "train")]:
        family = SHARD_NAME.match(shard["path"]).group(3)
        types = content_types(packages[0], shard)
        assert set(types) == {None if family == "general" else family}, (shard["path"], types)
        found.update(types)
    assert found == Counter({"chat": 20, "forum": 10 + 5, "code": 5, None: 10})
    assert _shard_bytes(packages[0]) == _shard_bytes(packages[1])


def test_a_content_type_that_cannot_name_a_shard_is_quarantined(tmp_path: Path) -> None:
    """With shard_by: content_type, a record whose own content type cannot be part of a shard
    name (not a string, upper case, a path, too long) is quarantined as `content_type_name`,
    named; no shard name holds it. Sharded by objective, the same records are written."""
    raw = tmp_path / "raw"
    raw.mkdir()
    bad = [5, "Forum Posts", "../x", "a" * 101, ""]
    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    lines = [
        orjson.dumps({"id": f"r{n}", "messages": turns, "metadata": {"content_type": v}})
        for n, v in enumerate([*bad, "ok"])
    ]
    (raw / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    source = {"name": "a", "paths": ["raw/a.jsonl"], "objective": "sft", "adapter": "native",
              "id_field": "id", "split": "train"}  # fmt: skip
    config = {
        "dataset": {"name": "bad-types", "description": "content types that name no shard"},
        "output": {"shard_by": "content_type", "retention_hours": 0},
        "thresholds": {"max_adapter_reject_rate": 1},
        "sources": [source],
    }
    path = write_config(tmp_path / "pipeline.yaml", config)
    cfg, reports = build_package(path)
    assert [p.rsplit("/", 1)[1] for p in shard_relpaths(cfg.output.dir)] == [
        "sft-train-ok-00000.jsonl.zst"
    ]
    accounting = reports["sft|train"].extra["accounting"]
    assert accounting["per_source"]["a"]["quarantined_by_reason"] == {"content_type_name": 5}
    quarantined = [
        orjson.loads(line)
        for line in (cfg.output.work_dir / "sft" / "train" / "quarantine" / "transformed.jsonl")
        .read_bytes()
        .splitlines()
    ]
    assert [q["reason"] for q in quarantined] == ["content_type_name"] * 5
    assert '"Forum Posts" cannot name a shard' in quarantined[1]["detail"]

    config["output"] = {"retention_hours": 0}
    cfg, reports = build_package(write_config(tmp_path / "pipeline.yaml", config))
    assert reports["sft|train"].records_out == 6
