"""What the data report measures in one record: text lengths by role, turns, tool calls,
candidates, grading type and source. The definitions are written out in the report."""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from jsonl_assets.core.blank_text import count_words
from jsonl_assets.core.report.bounded_counts import bounded_key
from jsonl_assets.core.report.licences import licence_key

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
    "licences": "records per `metadata.license` as written (the record's own, or its "
    "source's configured licence where it had none), per source",
}


Size = tuple[int, int]  # (chars, words)


def _walk(messages: list[Any]) -> tuple[int, bool, int, Size | None, Size | None, Size | None]:
    """One pass over a list of messages: all text chars, whether a `tool_call` part occurs,
    the turns, and the (chars, words) of the prompt, response and document roles (None for a
    role with no message). The hot loop of the report: locals only, no objects per record."""
    chars = turns = 0
    tool_call = False
    p_chars = p_words = r_chars = r_words = d_chars = d_words = 0
    p_seen = r_seen = d_seen = False
    for m in messages:
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        kind = _KINDS.get(role)  # type: ignore[arg-type]
        if role not in NOT_A_TURN:
            turns += 1
        if kind == PROMPT:
            p_seen = True
        elif kind == RESPONSE:
            r_seen = True
        elif kind == DOCUMENT:
            d_seen = True
        content = m.get("content")
        if not isinstance(content, list | tuple):  # a tuple: an adapter's, before dumps
            continue
        for part in content:
            if not isinstance(part, dict):
                continue
            ptype = part.get("type")
            if ptype == "text":
                text = part.get("text")
                if isinstance(text, str):
                    n = len(text)
                    chars += n
                    if kind == PROMPT:
                        p_chars += n
                        p_words += count_words(text)
                    elif kind == RESPONSE:
                        r_chars += n
                        r_words += count_words(text)
                    elif kind == DOCUMENT:
                        d_chars += n
                        d_words += count_words(text)
            elif ptype == "tool_call":
                tool_call = True
    return (
        chars,
        tool_call,
        turns,
        (p_chars, p_words) if p_seen else None,
        (r_chars, r_words) if r_seen else None,
        (d_chars, d_words) if d_seen else None,
    )


PROMPT, RESPONSE, DOCUMENT = 0, 1, 2
_KINDS: Final = {
    **dict.fromkeys(PROMPT_ROLES, PROMPT),
    **dict.fromkeys(RESPONSE_ROLES, RESPONSE),
    **dict.fromkeys(DOCUMENT_ROLES, DOCUMENT),
}


class RecordMeasures(NamedTuple):
    """One record's values; a kind of text is None when the record has no such message."""

    source: str
    licence: str | int  # licences.licence_key
    chars: int
    prompt: Size | None
    responses: list[Size]
    document: Size | None
    turns: int | None
    tool_call: bool
    candidates: int | None
    grading: str | None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list | tuple) else []


def measure(record: dict[str, Any], objective: str) -> RecordMeasures:
    """The report's values of one published record of `objective`."""
    metadata = record.get("metadata")
    trace = metadata.get("trace") if isinstance(metadata, dict) else None
    source = trace.get("source") if isinstance(trace, dict) else None
    chars, tool_call, turns, prompt, response, document = _walk(_list(record.get("messages")))
    candidates = grading = None
    if objective != "preference":
        responses = [response] if response is not None else []
    else:
        responses = []
        listed = _list(record.get("candidates"))
        candidates = len(listed)
        for c in listed:
            c_chars, c_tool, _, _, response, _ = _walk(
                _list(c.get("messages")) if isinstance(c, dict) else []
            )
            chars += c_chars
            tool_call = tool_call or c_tool
            if response is not None:
                responses.append(response)
    if objective == "rft":
        reference = record.get("reference")
        spec = reference.get("grading") if isinstance(reference, dict) else None
        kind = spec.get("type") if isinstance(spec, dict) else None
        grading = bounded_key(kind) if isinstance(kind, str) else NO_GRADING
    return RecordMeasures(
        source if isinstance(source, str) else NO_TRACE,
        licence_key(metadata),
        chars,
        prompt,
        responses,
        document,
        turns or None,
        tool_call,
        candidates,
        grading,
    )
