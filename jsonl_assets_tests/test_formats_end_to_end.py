"""Every input format and every adapter, end to end through the stages into a valid package.

Each format (jsonl, json_array, csv, tsv, parquet, text) is read plain, gzip and zstd, with
compression detected from magic bytes (also when the extension says otherwise); every adapter
gets realistic good records and at least one malformed input, which must land in quarantine
with its reason and trace while the rest is written. The stages run as plain Python
(`core/build.py`, then `publish_manifest`), exactly as the Dagster assets call them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import zstandard

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.config import PipelineConfig, load_config
from jsonl_assets.core.manifest_builder import PartitionShards
from jsonl_assets.core.rules.reject_reasons import THRESHOLD_KEYS
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.manifest_stage import publish_manifest
from jsonl_assets.core.store.work_files import partition_dirs
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.conftest import write_config

# ----------------------------------------------------------------------------- helpers


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def jsonl(*records: Any) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_package(config: Path) -> tuple[PipelineConfig, dict[str, StageReport]]:
    """Every partition that has sources, through the four stages, then metadata.json."""
    cfg = load_config(config)
    out = cfg.output
    built: list[PartitionShards] = []
    reports: dict[str, StageReport] = {}
    for objective in OBJECTIVES:
        for split in SPLITS:
            if not cfg.sources_for(objective, split):
                continue
            dirs = partition_dirs(out.work_dir, out.quarantine_dir, out.dir, objective, split)
            built_partition = build_partition(cfg, dirs.key)
            report = built_partition.shards
            assert report is not None and built_partition.verification is not None
            assert built_partition.verification["passed"], dirs.key
            reports[dirs.key] = report
            built.append(PartitionShards.from_report(objective, split, report.extra))
    result = publish_manifest(cfg, built)
    assert result.published and result.valid, [str(f) for f in result.findings[:5]]
    return cfg, reports


def read_package(package: Path) -> list[dict[str, Any]]:
    metadata = orjson.loads((package / "metadata.json").read_bytes())
    records = []
    for entry in metadata["files"]:
        for shard in entry["shards"]:
            with open(package / shard["path"], "rb") as handle:
                data = b"".join(iter_decompressed(handle, shard["compression"]))
            records.extend(orjson.loads(line) for line in data.splitlines())
    return records


def quarantined(root: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted(root.rglob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def where(entry: dict[str, Any]) -> tuple[str, str, int, str]:
    """(source, file name, position, reason) of a quarantine entry, a record or a trace."""
    if "trace" in entry:
        trace = entry["trace"]
    else:
        trace = entry["metadata"]["trace"] if "metadata" in entry else entry
    position = next(trace[k] for k in ("line", "row", "item") if k in trace)
    return trace["source"], Path(trace["file"]).name, position, entry.get("reason", "")


def package_hashes(package: Path) -> dict[str, str]:
    return {
        str(p.relative_to(package)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(package.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------- fixtures


def chat(n: int, tag: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "Réponds brièvement."},
            {"role": "user", "content": f"Question {n} from {tag}: naïve café?"},
            {"role": "assistant", "content": f"Answer {n} ({tag}) — ✓"},
        ]
    }


def write_chat(raw: Path) -> None:
    bad_role = chat(99, "bad")
    bad_role["messages"][0]["role"] = "developer"
    plain = jsonl(chat(1, "plain"), chat(2, "plain"))
    plain += b'{"messages": [{"role": "user", "content": "cut off\n' + jsonl(bad_role)
    put(raw / "chat" / "plain.jsonl", plain)
    put(raw / "chat" / "gzip.jsonl.gz", gz(jsonl(chat(1, "gz"), chat(2, "gz"))))
    put(raw / "chat" / "zstd.jsonl.zst", zst(jsonl(chat(1, "zst"), chat(2, "zst"))))
    # Extensions that lie: the magic bytes decide.
    put(raw / "chat" / "zstd_named_gz.jsonl.gz", zst(jsonl(chat(1, "lie1"))))
    put(raw / "chat" / "gzip_named_plain.jsonl", gz(jsonl(chat(1, "lie2"))))
    put(raw / "chat" / "plain_named_zst.jsonl.zst", jsonl(chat(1, "lie3")))
    # A zstd file cut short: the complete lines before the damage are kept.
    whole = zst(jsonl(*(chat(n, "cut") for n in range(1, 3001))))  # several zstd blocks
    put(raw / "chat" / "truncated.jsonl.zst", whole[: len(whole) * 2 // 3])


def conversation(n: int, tag: str) -> dict[str, Any]:
    return {
        "id": f"{tag}_{n}",
        "system": "You are Vicuna." if n % 2 else "",
        "conversations": [
            {"from": "human", "value": f"Who are you? ({tag} {n})"},
            {"from": "gpt", "value": "I am Vicuna, a language model. 你好"},
            {"from": "human", "value": "Have a nice day!"},
            {"from": "gpt", "value": "You too!"},
        ],
    }


def write_sharegpt(raw: Path) -> None:
    narrator = conversation(3, "a")
    narrator["conversations"][1]["from"] = "narrator"
    items = [conversation(1, "a"), 42, conversation(2, "a"), narrator]
    put(raw / "sharegpt" / "a.json", orjson.dumps(items, option=orjson.OPT_INDENT_2))
    put(raw / "sharegpt" / "b.json.gz", gz(orjson.dumps([conversation(n, "b") for n in (1, 2)])))
    put(raw / "sharegpt" / "c.json.zst", zst(orjson.dumps([conversation(n, "c") for n in (1, 2)])))


CSV_HEADER = "instruction,context,response,category\n"
CSV_ROWS = (
    '"Write a haiku about ""rain"",\nplease",,"Soft rain on the roof,\nslow drums",creative\n'
    '"Traduis « bonjour » en japonais",,こんにちは 👋,translation\n'
    'Summarise the text,"Line one of the context.\nLine two, with a comma.",'
    "A two-line text.,summarization\n"
    "Answer nothing,,,open_qa\n"
)


def write_dolly(raw: Path) -> None:
    put(raw / "dolly" / "a.csv", (CSV_HEADER + CSV_ROWS + "too,many,fields,here,!\n").encode())
    # Excel-style: CRLF line ends and a BOM, gzip.
    crlf = "\ufeff" + (CSV_HEADER + CSV_ROWS).replace("\n", "\r\n").replace("haiku", "poem")
    put(raw / "dolly" / "b.csv.gz", gz(crlf.encode()))
    # Semicolons, detected; zstd.
    semi = (CSV_HEADER + CSV_ROWS).replace(",", ";").replace("haiku", "limerick")
    put(raw / "dolly" / "c.csv.zst", zst(semi.replace("Traduis", "Translate").encode()))


def write_qa_tsv(raw: Path) -> None:
    def rows(prefix: str) -> bytes:
        text = "uid\tquestion\tanswer\n"
        text += f"{prefix}1\tHow many legs has a spider?\t8\n"
        text += f"{prefix}2\tWhat is 1,200 + 34? ({prefix})\t1,234\n"
        text += "\tA row without its uid\t5\n"
        text += f'{prefix}4\t"Pi, to two decimals, ""roughly""?"\t3.14\n'
        return text.encode()

    put(raw / "qa" / "a.tsv", rows("q"))
    put(raw / "qa" / "b.tsv.gz", gz(rows("r")))
    put(raw / "qa" / "c.tsv.zst", zst(rows("s")))


def write_pairs(raw: Path) -> None:
    pairs = pl.DataFrame(
        {
            "prompt": ["Best soil for tomatoes?", "Water cacti daily?", "Same?", "Prune roses?"],
            "chosen": ["Loamy, well drained.", "No, rarely.", "Yes.", "In late winter."],
            "rejected": ["Pure clay.", "Yes, daily.", "Yes.", "Never."],
        }
    )
    buf = io.BytesIO()
    pairs.write_parquet(buf, row_group_size=2)  # two row groups
    put(raw / "pairs" / "a.parquet", buf.getvalue())

    # UltraFeedback style: chosen/rejected are whole conversations repeating the prompt.
    def turns(question: str, answer: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]

    conv = pl.DataFrame(
        {
            "prompt": ["Is basil annual?", "Mulch in summer?"],
            "chosen": [
                turns("Is basil annual?", "Yes."),
                turns("Mulch in summer?", "Yes, it keeps moisture."),
            ],
            "rejected": [
                turns("Is basil annual?", "It lives forever."),
                turns("Mulch in summer?", "Never mulch."),
            ],
        }
    )
    buf = io.BytesIO()
    conv.write_parquet(buf)
    put(raw / "pairs" / "b.parquet.gz", gz(buf.getvalue()))
    buf = io.BytesIO()
    pairs.with_columns(pl.col("prompt") + " (zstd)").write_parquet(buf)
    put(raw / "pairs" / "c.parquet.zst", zst(buf.getvalue()))


LONG_PARAGRAPH = "".join(f"Line {n} of a long speech, spoken slowly.\n" for n in range(8))
BOOK_A = "\n\n\n" + LONG_PARAGRAPH + "\nA short second paragraph.\n\nThe end.\n"
BOOK_B = (
    b"First paragraph of book b, long enough that it fills more than half of a chunk of two "
    b"hundred characters.\n\n"
    b"A paragraph with a bad byte \xff here, also long enough to stand alone in its own chunk of "
    b"text.\n\n"
    b"The last paragraph is long as well, so long that it cannot join the chunk of the damaged "
    b"paragraph above it: together they would pass 200 characters.\n"
)
BOOK_C = "Ünïcödé paragraph — ŝtill text.\n\n" + "Ωμέγα and 漢字 and emoji 🌧.\n"


def write_books(raw: Path) -> None:
    put(raw / "books" / "a.txt", BOOK_A.encode())
    put(raw / "books" / "b.txt.gz", gz(BOOK_B))
    put(raw / "books" / "c.txt.zst", zst(BOOK_C.encode()))
    put(raw / "notes" / "a.md", b"# Notes\n\nOne file, one document.\n")
    put(raw / "notes" / "b.md.gz", gz(b"# More notes\n\nAlso one document.\n"))
    put(raw / "notes" / "empty.md.zst", zst(b" \n\n  \n"))


def write_jsonl_shapes(raw: Path) -> None:
    alpaca = [
        {"id": "t1", "instruction": "Name a fruit.", "input": "", "output": "Apple."},
        {
            "id": "t2",
            "instruction": "Classify the sentiment.",
            "instances": [
                {"input": "I love it", "output": "positive"},
                {"input": "I hate it", "output": "negative"},
            ],
        },
        {"id": "t3", "instruction": "Nothing to do.", "instances": []},
    ]
    put(raw / "alpaca" / "tasks.jsonl.gz", gz(jsonl(*alpaca)))
    hh = [
        {
            "chosen": "\n\nHuman: Hi, how do I boil an egg?\n\nAssistant: Simmer it 9 minutes.",
            "rejected": "\n\nHuman: Hi, how do I boil an egg?\n\nAssistant: Microwave it.",
        },
        {"chosen": "just some text", "rejected": "other text"},
        {
            "chosen": "\n\nHuman: Same?\n\nAssistant: Same.",
            "rejected": "\n\nHuman: Same?\n\nAssistant: Same.",
        },
    ]
    put(raw / "hh" / "hh.jsonl.zst", zst(jsonl(*hh)))
    gsm = [
        {"question": "Tom has 3 apples and buys 1,231 more.", "answer": "3+1231=1234\n#### 1,234"},
        {"question": "No final line here.", "answer": "The answer is 7."},
        {"question": "Words, not digits.", "answer": "It is twelve.\n#### twelve"},
        {"question": "Half of 5?", "answer": "5/2=2.5\n#### 2.5"},
    ]
    put(raw / "gsm" / "gsm.jsonl", jsonl(*gsm))
    doc = {"messages": [{"role": "document", "content": [{"type": "text", "text": "Doc."}]}]}
    extra = {**doc, "messages": [{"role": "document", "content": "Plain string content."}]}
    bad = {**doc, "source_url": "https://example.org"}  # a key the spec does not allow
    put(raw / "native" / "docs.jsonl", jsonl(doc, extra, bad))


def make_project(root: Path) -> Path:
    raw = root / "raw"
    write_chat(raw)
    write_sharegpt(raw)
    write_dolly(raw)
    write_qa_tsv(raw)
    write_pairs(raw)
    write_books(raw)
    write_jsonl_shapes(raw)

    def source(name: str, paths: str, objective: str, adapter: str, **kw: Any) -> dict[str, Any]:
        return {
            "name": name,
            "paths": [paths],
            "objective": objective,
            "adapter": adapter,
            "split": "train",
            **kw,
        }

    config = {
        "dataset": {"name": "formats", "description": "every format and adapter"},
        "output": {"max_records_per_shard": 1000},
        # Each format's bad inputs are quarantined on purpose: no rate check may stop a build.
        "thresholds": dict.fromkeys(THRESHOLD_KEYS.values(), 1.0),
        "sources": [
            source("chat_jsonl", "raw/chat/*", "sft", "chat"),
            source("sharegpt_array", "raw/sharegpt/*", "sft", "sharegpt", id_field="id"),
            source(
                "dolly_csv",
                "raw/dolly/*",
                "sft",
                "prompt_response",
                read_options={"empty_as_null": True},
            ),
            source(
                "qa_tsv",
                "raw/qa/*",
                "rft",
                "mapping",
                options={
                    "objective": "rft",
                    "user": "question",
                    "answer": "answer",
                    "grading": "numeric",
                    "id": "uid",
                },
            ),
            source("pairs_parquet", "raw/pairs/*", "preference", "preference_pairs"),
            source(
                "books_text",
                "raw/books/*",
                "cpt",
                "text",
                read_options={"max_chars": 200},
            ),
            source("notes_text", "raw/notes/*", "cpt", "text", read_options={"mode": "document"}),
            source("alpaca_jsonl", "raw/alpaca/*", "sft", "alpaca", id_field="id"),
            source("hh_jsonl", "raw/hh/*", "preference", "hh_rlhf"),
            source(
                "gsm_jsonl",
                "raw/gsm/*",
                "rft",
                "qa_reference",
                options={
                    "answer_regex": r"####\s*(.+?)\s*$",
                    "grading": "numeric",
                    "keep_solution": True,
                },
            ),
            source("native_cpt", "raw/native/*", "cpt", "native"),
        ],
    }
    return write_config(root / "pipeline.yaml", config)


# Inputs that must be quarantined: (source, file, position, reason).
EXPECTED_QUARANTINE = {
    ("chat_jsonl", "plain.jsonl", 3, "parse_error"),
    ("chat_jsonl", "plain.jsonl", 4, "adapter:unknown_role"),
    ("chat_jsonl", "truncated.jsonl.zst", None, "corrupt_file"),
    ("sharegpt_array", "a.json", 2, "not_an_object"),
    ("sharegpt_array", "a.json", 4, "adapter:unknown_role"),
    ("dolly_csv", "a.csv", 4, "adapter:missing_field"),
    ("dolly_csv", "a.csv", 5, "csv_field_count"),
    ("dolly_csv", "b.csv.gz", 2, "duplicate_id"),
    ("dolly_csv", "b.csv.gz", 4, "adapter:missing_field"),
    ("dolly_csv", "c.csv.zst", 4, "adapter:missing_field"),
    ("qa_tsv", "a.tsv", 3, "adapter:missing_field"),
    ("qa_tsv", "b.tsv.gz", 3, "adapter:missing_field"),
    ("qa_tsv", "c.tsv.zst", 3, "adapter:missing_field"),
    ("pairs_parquet", "a.parquet", 3, "adapter:no_differing_turn"),
    ("pairs_parquet", "c.parquet.zst", 3, "adapter:no_differing_turn"),
    ("books_text", "b.txt.gz", 3, "invalid_utf8"),
    ("notes_text", "empty.md.zst", 1, "adapter:empty_text"),
    ("alpaca_jsonl", "tasks.jsonl.gz", 3, "adapter:no_instances"),
    ("hh_jsonl", "hh.jsonl.zst", 2, "adapter:transcript_unparseable"),
    ("hh_jsonl", "hh.jsonl.zst", 3, "adapter:no_differing_turn"),
    ("gsm_jsonl", "gsm.jsonl", 2, "adapter:answer_not_found"),
    ("gsm_jsonl", "gsm.jsonl", 3, "adapter:not_numeric"),
    ("native_cpt", "docs.jsonl", 3, "schema:"),
}

# Records written per (source, file).
EXPECTED_WRITTEN = {
    ("chat_jsonl", "plain.jsonl"): 2,
    ("chat_jsonl", "gzip.jsonl.gz"): 2,
    ("chat_jsonl", "zstd.jsonl.zst"): 2,
    ("chat_jsonl", "zstd_named_gz.jsonl.gz"): 1,
    ("chat_jsonl", "gzip_named_plain.jsonl"): 1,
    ("chat_jsonl", "plain_named_zst.jsonl.zst"): 1,
    ("sharegpt_array", "a.json"): 2,
    ("sharegpt_array", "b.json.gz"): 2,
    ("sharegpt_array", "c.json.zst"): 2,
    ("dolly_csv", "a.csv"): 3,
    ("dolly_csv", "b.csv.gz"): 2,
    ("dolly_csv", "c.csv.zst"): 3,
    ("qa_tsv", "a.tsv"): 3,
    ("qa_tsv", "b.tsv.gz"): 3,
    ("qa_tsv", "c.tsv.zst"): 3,
    ("pairs_parquet", "a.parquet"): 3,
    ("pairs_parquet", "b.parquet.gz"): 2,
    ("pairs_parquet", "c.parquet.zst"): 3,
    ("books_text", "a.txt"): 2,
    ("books_text", "b.txt.gz"): 2,
    ("books_text", "c.txt.zst"): 1,
    ("notes_text", "a.md"): 1,
    ("notes_text", "b.md.gz"): 1,
    ("alpaca_jsonl", "tasks.jsonl.gz"): 3,
    ("hh_jsonl", "hh.jsonl.zst"): 1,
    ("gsm_jsonl", "gsm.jsonl"): 2,
    ("native_cpt", "docs.jsonl"): 2,
}


# ----------------------------------------------------------------------------- the test


def test_every_format_and_adapter_builds_a_valid_package(tmp_path: Path) -> None:
    config = make_project(tmp_path / "one")
    cfg, reports = build_package(config)
    package = cfg.output.dir
    assert verify_package(package).ok

    # Compression comes from the magic bytes, whatever the extension says.
    files = {Path(f["file"]).name: f for report in reports.values() for f in report.extra["files"]}
    assert {name: f["compression"] for name, f in files.items() if "named" in name} == {
        "zstd_named_gz.jsonl.gz": "zstd",
        "gzip_named_plain.jsonl": "gzip",
        "plain_named_zst.jsonl.zst": "none",
    }
    for name, f in files.items():
        if "named" not in name:
            expected = {".gz": "gzip", ".zst": "zstd"}.get(Path(name).suffix, "none")
            assert f["compression"] == expected, name
    kinds = {f["format"]: f["kind"] for f in files.values()}
    assert kinds == {
        "jsonl": "line",
        "json_array": "item",
        "csv": "row",
        "tsv": "row",
        "parquet": "row",
        "text": "line",
    }

    # Every malformed input is in quarantine, once, with a reason, a detail and a trace.
    entries = quarantined(cfg.output.quarantine_dir)
    found = set()
    for entry in entries:
        source, file, position, reason = where(entry)
        assert entry["detail"] and entry["trace"]["sha256"] == files[file]["sha256"]
        assert "raw" in entry or "raw_b64" in entry, entry
        if reason.startswith("schema:"):
            reason = "schema:"
        if reason == "corrupt_file":
            position = None
        found.add((source, file, position, reason))
    assert len(entries) == len(EXPECTED_QUARANTINE)
    assert found == EXPECTED_QUARANTINE
    details = {where(e)[::3]: e["detail"] for e in entries}
    assert "developer" in details[("chat_jsonl", "adapter:unknown_role")]
    assert "narrator" in details[("sharegpt_array", "adapter:unknown_role")]
    assert "response" in details[("dolly_csv", "adapter:missing_field")]
    assert "uid" in details[("qa_tsv", "adapter:missing_field")]
    assert "twelve" in details[("gsm_jsonl", "adapter:not_numeric")]
    assert "zstd" in details[("chat_jsonl", "corrupt_file")]
    assert "source_url" in details[("native_cpt", "schema:D6")]
    duplicate = next(e for e in entries if e["reason"] == "duplicate_id")
    assert where(duplicate["kept"])[:3] == ("dolly_csv", "a.csv", 2)

    # Everything else is written, and read = written + quarantined per source.
    records = read_package(package)
    written = Counter(where(r)[:2] for r in records)
    truncated = written.pop(("chat_jsonl", "truncated.jsonl.zst"))
    assert 0 < truncated < 3000
    assert written == Counter(EXPECTED_WRITTEN)
    corrupt = next(e for e in entries if e["reason"] == "corrupt_file")
    assert corrupt["trace"]["line"] == truncated + 1  # the line the damage cut
    per_source: Counter[str] = Counter()
    for report in reports.values():
        for name, counts in report.extra["accounting"]["per_source"].items():
            assert counts["read"] == counts["written"] + counts["quarantined"], name
            per_source[name] += counts["quarantined"]
    assert per_source == Counter(source for source, *_ in EXPECTED_QUARANTINE)

    # Content survives exactly: CSV quoting, multi-line fields, CRLF, BOM, unicode, empties.
    by_place = {where(r)[:3]: r for r in records}

    def texts(record: dict[str, Any]) -> list[str]:
        return [m["content"][0]["text"] for m in record["messages"]]

    assert texts(by_place[("dolly_csv", "a.csv", 1)]) == [
        'Write a haiku about "rain",\nplease',
        "Soft rain on the roof,\nslow drums",
    ]
    assert texts(by_place[("dolly_csv", "a.csv", 2)]) == [
        "Traduis « bonjour » en japonais",
        "こんにちは 👋",
    ]
    assert texts(by_place[("dolly_csv", "a.csv", 3)])[0] == (
        "Summarise the text\n\nLine one of the context.\nLine two, with a comma."
    )
    assert texts(by_place[("dolly_csv", "b.csv.gz", 1)])[0] == (
        'Write a poem about "rain",\r\nplease'
    )
    assert texts(by_place[("dolly_csv", "c.csv.zst", 3)])[1] == "A two-line text."
    assert by_place[("qa_tsv", "b.tsv.gz", 2)]["reference"]["answer"] == 1234
    pi = by_place[("qa_tsv", "a.tsv", 4)]
    assert pi["id"] == "qa_tsv:q4" and texts(pi) == ['Pi, to two decimals, "roughly"?']
    assert pi["reference"] == {"grading": {"type": "numeric", "tolerance": 0}, "answer": 3.14}
    gsm = by_place[("gsm_jsonl", "gsm.jsonl", 1)]
    assert gsm["reference"]["answer"] == 1234 and texts(gsm)[1].endswith("#### 1,234")
    ultra = by_place[("pairs_parquet", "b.parquet.gz", 1)]
    assert texts(ultra) == ["Is basil annual?"]
    assert [texts(c) for c in ultra["candidates"]] == [["Yes."], ["It lives forever."]]
    assert [r["id"] for r in records if r["metadata"]["trace"]["source"] == "alpaca_jsonl"] == [
        "alpaca_jsonl:t1",
        "alpaca_jsonl:t2#1",
        "alpaca_jsonl:t2#2",
    ]
    assert texts(by_place[("sharegpt_array", "c.json.zst", 1)])[0] == "You are Vicuna."

    # Text: accepted chunks and quarantined inputs, in line order, rebuild each file exactly.
    def original(entry: dict[str, Any]) -> bytes:
        if entry["stage"] == "extracted":  # the reader's rejection holds the exact bytes
            return entry["raw"].encode() if "raw" in entry else base64.b64decode(entry["raw_b64"])
        return orjson.loads(entry["raw"])["text"].encode()  # the adapter's: the raw record

    for name, text in (("a.txt", BOOK_A.encode()), ("b.txt.gz", BOOK_B)):
        pieces = [(where(r)[2], texts(r)[0].encode()) for r in records if where(r)[1] == name]
        pieces += [(where(e)[2], original(e)) for e in entries if where(e)[1] == name]
        assert b"".join(piece for _, piece in sorted(pieces)) == text, name
    # max_chars 200, plus at most max_chars of blank text attached each side (README, text)
    book_texts = [texts(r)[0] for r in records if where(r)[0] == "books_text"]
    assert all(len(t.strip()) <= 200 and len(t) <= 3 * 200 for t in book_texts)

    # The same inputs elsewhere give the same bytes (trace paths are config-relative).
    other = tmp_path / "two"
    shutil.copytree(tmp_path / "one" / "raw", other / "raw")
    shutil.copyfile(config, other / "pipeline.yaml")
    cfg_two, _ = build_package(other / "pipeline.yaml")
    assert package_hashes(cfg_two.output.dir) == package_hashes(package)
