"""Property: arbitrary unicode text goes from a source file to a shard byte-exactly.

Hypothesis draws texts from all of unicode (no lone surrogates: they are not valid UTF-8 and
cannot be in a JSON document) mixed with the characters that break naive pipelines: U+2028 and
U+2029 (line separators to JavaScript and to `str.splitlines`), NUL, CR/LF inside strings,
emoji ZWJ sequences, right-to-left text and bidi controls, a BOM, the highest code point.
Each text is written to a JSONL source twice, once as raw UTF-8 and once fully `\\uXXXX`-escaped
(astral characters as surrogate pairs), and the core stages run on it; the shard must hold
the same text, serialised as orjson serialises it (so the bytes are the same whatever the
source's escaping), on exactly one line per record.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import orjson
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stages.record_stages import run_record_stages
from jsonl_assets.core.stages.shard_stage import run_shards
from jsonl_assets.core.store.work_files import partition_dirs

SPECIAL = [
    "\u2028",
    "\u2029",
    "\x00",
    "\r\n",
    "\n",
    "\t",
    "\x7f",
    '"',
    "\\",
    "\ufeff",
    "\U0010ffff",
    "\ud7ff\ue000",
    "👩\u200d👩\u200d👧\u200d👦",  # family: ZWJ sequence
    "🏳️\u200d🌈",  # flag + variation selector + ZWJ
    "👍🏽",  # skin-tone modifier
    "مرحبا بالعالم",  # Arabic (RTL)
    "שָׁלוֹם",  # Hebrew with niqqud (RTL, combining marks)
    "\u200f\u202eabc\u202c",  # RLM, RLO ... PDF
    "e\u0301",  # combining acute (not normalised away)
    "ﷺ",  # one code point, wide ligature
]

TEXT = (
    st.lists(st.one_of(st.text(max_size=20), st.sampled_from(SPECIAL)), min_size=1, max_size=8)
    .map("".join)
    .filter(lambda s: s.strip() != "")
)


def _source_lines(texts: list[str]) -> list[bytes]:
    """Each text twice: raw UTF-8 (orjson) and ASCII-escaped (json.dumps), numbered titles."""
    lines = []
    for i, text in enumerate(texts):
        lines.append(orjson.dumps({"title": f"raw {i}", "text": text}))
        escaped = json.dumps({"title": f"escaped {i}", "text": text}, ensure_ascii=True)
        lines.append(escaped.encode("ascii"))
    return lines


def _build(root: Path, lines: list[bytes]) -> list[bytes]:
    """Run the four core stages on one source; return the shard lines in order."""
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "texts.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = {
        "dataset": {"name": "unicode", "description": "round trip"},
        "output": {"dir": "package", "compression": "zstd"},
        # Invisible-only texts (a lone BOM) must round-trip here, not meet the quality policy.
        "quality": {"empty_document": "keep"},
        "sources": [
            {
                "name": "texts",
                "paths": ["raw/texts.jsonl"],
                "objective": "cpt",
                "adapter": "text",
                "options": {"title_field": "title"},
                "split": "train",
            }
        ],
    }
    (root / "pipeline.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    cfg = load_config(root / "pipeline.yaml")
    out = cfg.output
    dirs = partition_dirs(out.work_dir, out.quarantine_dir, out.dir, "cpt", "train")
    run_record_stages(cfg, dirs)
    report = run_shards(cfg, dirs)
    assert report.quarantined == 0 and report.records_out == len(lines)
    data = b""
    for shard in report.extra["shards"]:
        with open(out.dir / shard["path"], "rb") as handle:
            data += b"".join(iter_decompressed(handle, "zstd"))
    data.decode("utf-8")  # the shard is valid UTF-8 throughout
    assert data.count(b"\n") == len(lines) and data.endswith(b"\n")
    return data.split(b"\n")[:-1]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(TEXT, min_size=1, max_size=6))
@example([f"<{c}>" for c in SPECIAL])  # each alone (a text of only whitespace is rejected)
@example(["a\u2028b\u2029c", "\\u0000 is text, \x00 is NUL", "👩\u200d💻 עברית العربية"])
def test_unicode_text_round_trips_byte_exactly(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shard_lines = _build(Path(tmp), _source_lines(texts))
    assert len(shard_lines) == 2 * len(texts)
    for n, line in enumerate(shard_lines):
        text = texts[n // 2]
        record = orjson.loads(line)
        title, body = record["messages"]
        assert body["content"][0]["text"] == text
        assert title["content"][0]["data"]["title"].endswith(f" {n // 2}")
        # The exact bytes: the text as orjson writes it, whichever escaping the source used.
        assert b'"text":' + orjson.dumps(text) in line
        if not any(c < " " or c in '"\\' for c in text):  # nothing JSON must escape: verbatim
            assert text.encode("utf-8") in line
