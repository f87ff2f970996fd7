"""What the data report measures in one record: text lengths by role, turns, tool calls,
candidates, grading type and source. The definitions are written out in the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

PROMPT_ROLES: Final = frozenset({"system", "user"})
RESPONSE_ROLES: Final = frozenset({"assistant"})
DOCUMENT_ROLES: Final = frozenset({"document"})
NOT_A_TURN: Final = frozenset({"system", "document"})
NO_TRACE: Final = "(no trace)"
NO_GRADING: Final = "(no grading type)"

DEFINITIONS: Final = {
    "chars": "Unicode code points in the `text` of a message's `text` parts",
    "words": "whitespace-separated tokens of the same text",
    "prompt": "system and user messages of a record's `messages`, one value per record",
    "response": "assistant messages: one value per sft record that has one, one per "
    "preference candidate",
    "document": "document messages of a record's `messages`, one value per record",
    "turns": "messages of a record's `messages` other than system and document ones",
    "tool-call share": "records with at least one `tool_call` part (messages or candidates)",
    "characters per source": "all `text` parts of the record",
}


@dataclass(frozen=True, slots=True)
class TextSize:
    chars: int
    words: int


@dataclass(slots=True)
class RecordMeasures:
    """One record's values; a kind of text is absent when the record has no such message."""

    source: str
    chars: int = 0
    prompt: TextSize | None = None
    responses: list[TextSize] = field(default_factory=list)
    document: TextSize | None = None
    turns: int | None = None
    tool_call: bool = False
    candidates: int | None = None
    grading: str | None = None


def _parts(message: Any) -> list[Any]:
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, list) else []


def _size(messages: list[Any], roles: frozenset[str]) -> TextSize | None:
    chars = words = 0
    seen = False
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in roles:
            continue
        seen = True
        for part in _parts(m):
            if isinstance(part, dict) and part.get("type") == "text":
                text = part.get("text")
                if isinstance(text, str):
                    chars += len(text)
                    words += len(text.split())
    return TextSize(chars, words) if seen else None


def _all_chars(messages: list[Any]) -> tuple[int, bool]:
    chars, tool = 0, False
    for m in messages:
        for part in _parts(m):
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                chars += len(part["text"])
            elif kind == "tool_call":
                tool = True
    return chars, tool


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def measure(record: dict[str, Any], objective: str) -> RecordMeasures:
    """The report's values of one published record of `objective`."""
    metadata = record.get("metadata")
    trace = metadata.get("trace") if isinstance(metadata, dict) else None
    source = trace.get("source") if isinstance(trace, dict) else None
    out = RecordMeasures(source=source if isinstance(source, str) else NO_TRACE)
    messages = _list(record.get("messages"))
    out.chars, out.tool_call = _all_chars(messages)
    out.prompt = _size(messages, PROMPT_ROLES)
    out.document = _size(messages, DOCUMENT_ROLES)
    turns = sum(1 for m in messages if isinstance(m, dict) and m.get("role") not in NOT_A_TURN)
    out.turns = turns or None
    if objective != "preference":
        response = _size(messages, RESPONSE_ROLES)
        out.responses = [response] if response is not None else []
    else:
        candidates = _list(record.get("candidates"))
        out.candidates = len(candidates)
        for c in candidates:
            c_messages = _list(c.get("messages")) if isinstance(c, dict) else []
            chars, tool = _all_chars(c_messages)
            out.chars += chars
            out.tool_call = out.tool_call or tool
            response = _size(c_messages, RESPONSE_ROLES)
            if response is not None:
                out.responses.append(response)
    if objective == "rft":
        reference = record.get("reference")
        grading = reference.get("grading") if isinstance(reference, dict) else None
        kind = grading.get("type") if isinstance(grading, dict) else None
        out.grading = kind if isinstance(kind, str) else NO_GRADING
    return out
