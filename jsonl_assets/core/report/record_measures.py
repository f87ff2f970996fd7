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


class _Texts:
    """Text of one list of messages, summed in one pass: all of it, and per kind of role."""

    __slots__ = ("chars", "sizes", "tool_call")

    def __init__(self, messages: list[Any], kinds: dict[str, int]) -> None:
        self.chars = 0
        self.tool_call = False
        # [chars, words, seen] per kind of role (prompt 0, response 1, document 2)
        self.sizes = [[0, 0, False], [0, 0, False], [0, 0, False]]
        for m in messages:
            if not isinstance(m, dict):
                continue
            kind = kinds.get(m.get("role"))  # type: ignore[arg-type]
            size = self.sizes[kind] if kind is not None else None
            if size is not None:
                size[2] = True
            content = m.get("content")
            if not isinstance(content, list):
                continue
            for part in content:
                if not isinstance(part, dict):
                    continue
                ptype = part.get("type")
                if ptype == "text":
                    text = part.get("text")
                    if isinstance(text, str):
                        self.chars += len(text)
                        if size is not None:
                            size[0] += len(text)
                            size[1] += len(text.split())
                elif ptype == "tool_call":
                    self.tool_call = True

    def size(self, kind: int) -> TextSize | None:
        chars, words, seen = self.sizes[kind]
        return TextSize(chars, words) if seen else None


PROMPT, RESPONSE, DOCUMENT = 0, 1, 2
_KINDS: Final = {
    **dict.fromkeys(PROMPT_ROLES, PROMPT),
    **dict.fromkeys(RESPONSE_ROLES, RESPONSE),
    **dict.fromkeys(DOCUMENT_ROLES, DOCUMENT),
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def measure(record: dict[str, Any], objective: str) -> RecordMeasures:
    """The report's values of one published record of `objective`."""
    metadata = record.get("metadata")
    trace = metadata.get("trace") if isinstance(metadata, dict) else None
    source = trace.get("source") if isinstance(trace, dict) else None
    out = RecordMeasures(source=source if isinstance(source, str) else NO_TRACE)
    messages = _list(record.get("messages"))
    texts = _Texts(messages, _KINDS)
    out.chars, out.tool_call = texts.chars, texts.tool_call
    out.prompt = texts.size(PROMPT)
    out.document = texts.size(DOCUMENT)
    turns = sum(1 for m in messages if isinstance(m, dict) and m.get("role") not in NOT_A_TURN)
    out.turns = turns or None
    if objective != "preference":
        response = texts.size(RESPONSE)
        out.responses = [response] if response is not None else []
    else:
        candidates = _list(record.get("candidates"))
        out.candidates = len(candidates)
        for c in candidates:
            c_messages = _list(c.get("messages")) if isinstance(c, dict) else []
            c_texts = _Texts(c_messages, _KINDS)
            out.chars += c_texts.chars
            out.tool_call = out.tool_call or c_texts.tool_call
            response = c_texts.size(RESPONSE)
            if response is not None:
                out.responses.append(response)
    if objective == "rft":
        reference = record.get("reference")
        grading = reference.get("grading") if isinstance(reference, dict) else None
        kind = grading.get("type") if isinstance(grading, dict) else None
        out.grading = kind if isinstance(kind, str) else NO_GRADING
    return out
