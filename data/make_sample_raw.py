"""Regenerate the sample raw sources in data/raw/ (deterministic; the output is committed).

The sample is synthetic text written for this project (licence: CC0-1.0). It covers the four
objectives, both adapters of the foundation (chat, native) and all three compressions, and it
holds deliberately bad lines so the first build shows quarantine at work:
a truncated JSON line and a duplicated conversation in the chat source, and a record that
breaks the rft rules (no `reference`) in the rft source.

    python data/make_sample_raw.py
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import orjson
import zstandard

RAW = Path(__file__).resolve().parent / "raw"

PLANTS = [
    "basil",
    "tomatoes",
    "mint",
    "lavender",
    "roses",
    "ferns",
    "orchids",
    "cacti",
    "lettuce",
    "peppers",
    "thyme",
    "sunflowers",
]
ISSUES = [
    "yellow leaves",
    "brown tips",
    "drooping stems",
    "white spots",
    "slow growth",
    "leggy shoots",
    "wilting at noon",
]
ADVICE = [
    "water only when the top two centimetres of soil are dry",
    "move it where it gets at least six hours of sun",
    "feed it with a balanced fertiliser every two weeks",
    "improve drainage by mixing perlite into the potting soil",
    "pinch off the flower buds so the plant keeps its leaves",
    "check the underside of the leaves for aphids and rinse them off",
    "repot it into a container one size larger in spring",
]
FACTS = [
    "Le basilic craint le froid : rentrez-le dès que les nuits passent sous 10 °C.",
    "Tomatoes ripen faster at 20–25 °C than in full midsummer heat.",
    "ミントは地下茎で広がるので、鉢植えにすると管理しやすい。",
    "Lavender prefers poor, stony soil; rich compost makes it floppy.",
    "Ferns like humidity — a tray of wet pebbles under the pot helps.",
    "Cacti need a cool, dry rest in winter to flower in spring 🌵.",
]


def chat_records(rng: random.Random) -> list[bytes]:
    lines: list[bytes] = []
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup_watering_log",
                "description": "Return the last watering dates recorded for a plant",
                "parameters": {
                    "type": "object",
                    "properties": {"plant": {"type": "string"}},
                    "required": ["plant"],
                },
            },
        }
    ]
    for i in range(300):
        plant, issue, advice = rng.choice(PLANTS), rng.choice(ISSUES), rng.choice(ADVICE)
        messages: list[dict[str, object]] = [
            {
                "role": "system",
                "content": "You are a friendly gardening assistant. Answer briefly.",
            },
            {"role": "user", "content": f"My {plant} show {issue}. What should I do? (case {i})"},
        ]
        record: dict[str, object] = {"messages": messages}
        if i % 10 == 0:
            call_id = f"call_{i}"
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": "lookup_watering_log",
                                "arguments": orjson.dumps({"plant": plant}).decode(),
                            },
                        }
                    ],
                }
            )
            days = rng.randint(1, 9)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call_id,
                    "content": orjson.dumps({"last_watered_days_ago": days}).decode(),
                }
            )
            messages.append(
                {
                    "role": "assistant",
                    "content": f"Your log says {days} days since the last watering. For {issue}, {advice}.",
                }
            )
            record["tools"] = tools
        else:
            messages.append({"role": "assistant", "content": f"For {issue} on {plant}, {advice}."})
            if i % 3 == 0:
                messages.append({"role": "user", "content": "Thanks! Anything else?"})
                messages.append({"role": "assistant", "content": rng.choice(FACTS)})
        lines.append(orjson.dumps(record))
    lines.insert(42, lines[17])  # a duplicated conversation: quarantined as duplicate_id
    lines.insert(100, b'{"messages": [{"role": "user", "content": "cut off mid-line')  # broken JSON
    return lines


def preference_records(rng: random.Random) -> list[bytes]:
    lines = []
    for i in range(200):
        plant = rng.choice(PLANTS)
        good, bad = rng.sample(ADVICE, 2)
        lines.append(
            orjson.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"Quick tip for healthier {plant}? (#{i})"}
                    ],
                    "candidates": [
                        {
                            "candidate_id": "a",
                            "label": "chosen",
                            "messages": [{"role": "assistant", "content": f"Best tip: {good}."}],
                        },
                        {
                            "candidate_id": "b",
                            "label": "rejected",
                            "messages": [
                                {"role": "assistant", "content": f"Just {bad}, or ignore it."}
                            ],
                        },
                    ],
                    "metadata": {"rater": f"r{i % 7}"},
                }
            )
        )
    return lines


def rft_records(rng: random.Random, start: int, count: int) -> list[bytes]:
    lines = []
    for i in range(start, start + count):
        rows, per_row = rng.randint(2, 30), rng.randint(2, 25)
        lines.append(
            orjson.dumps(
                {
                    "id": f"beds-{i:04d}",
                    "messages": [
                        {
                            "role": "user",
                            "content": f"A bed has {rows} rows of {per_row} seedlings. How many seedlings in total?",
                        }
                    ],
                    "reference": {
                        "grading": {"type": "numeric", "tolerance": 0},
                        "answer": rows * per_row,
                    },
                }
            )
        )
    return lines


def cpt_records(rng: random.Random) -> list[bytes]:
    lines = []
    for i in range(200):
        body = " ".join(rng.sample(FACTS, 3))
        lines.append(
            orjson.dumps(
                {
                    "messages": [
                        {
                            "role": "document",
                            "content": [
                                {
                                    "type": "json",
                                    "data": {"title": f"Garden note {i}", "year": 2020 + i % 5},
                                }
                            ],
                        },
                        {"role": "document", "content": f"{body} ({i})"},
                    ]
                }
            )
        )
    return lines


def write(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"\n".join(lines) + b"\n"
    if path.suffix == ".gz":
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
            gz.write(data)
        data = buf.getvalue()
    elif path.suffix == ".zst":
        data = zstandard.ZstdCompressor(level=10).compress(data)
    path.write_bytes(data)


def main() -> None:
    rng = random.Random(20261122)
    write(RAW / "sft" / "support_chats.jsonl", chat_records(rng))
    write(RAW / "preference" / "ranked_tips.jsonl.gz", preference_records(rng))
    train = rft_records(rng, 0, 200)
    train.insert(
        7,
        orjson.dumps(
            {"id": "beds-broken", "messages": [{"role": "user", "content": "No reference here."}]}
        ),
    )
    write(RAW / "rft" / "seedlings_train.jsonl.zst", train)
    write(RAW / "rft" / "seedlings_test.jsonl", rft_records(rng, 1000, 50))
    write(RAW / "cpt" / "garden_notes.jsonl", cpt_records(rng))


if __name__ == "__main__":
    main()
