"""Quality rules: content a record's objective needs, found empty or blank.

They judge records that already pass the spec's error rules (rules/), so shapes are
known good; each looks only at the messages it needs (from the end, where the final turns
are), never walking the whole record. The rules, and where each applies:

* `empty_assistant` (sft): the final assistant turn has no answer;
* `empty_user` (sft, preference, rft): the last user turn (in sft the one before the final
  assistant turn, in preference the context's) is blank; an rft record with no user turn at all;
* `empty_reference` (rft): `reference.answer`, `reference.answers` or one of its entries is
  blank (null, a blank string, an empty array or object); numbers are never blank;
* `empty_candidate` (preference): a candidate whose final message has no answer;
* `empty_document` (cpt): no document message carries text or media (a record without
  document messages: no message does).

Blank text (`blank_text.is_blank`): every character is Unicode whitespace (White_Space: NBSP,
U+3000, U+2028 ...; not the control characters U+001C..U+001F, which `str.isspace` counts) or
invisible: a format character (category Cf: zero-width space/joiners, BOM, bidi marks, soft
hyphen) or a blank-rendering filler (Hangul fillers, braille blank, variation selectors).
A part carries content when it is text with non-blank text, a json part with a non-empty
`data`, or a media, tool_call or tool_result part. An *answer* (a final assistant turn, a
candidate's final message) does not count reasoning parts: reasoning with no answer after it
teaches the model to stop. A *document* does not count json parts (bibliographic context).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Final

from jsonl_assets.core.blank_text import BLANK_CHARS, BLANK_SET, is_blank

RULE_OBJECTIVES: Final[dict[str, tuple[str, ...]]] = {
    "empty_assistant": ("sft",),
    "empty_user": ("sft", "preference", "rft"),
    "empty_reference": ("rft",),
    "empty_candidate": ("preference",),
    "empty_document": ("cpt",),
}


Finding = tuple[str, str]  # (rule, detail)

# What a part must be to carry content, per kind of turn.
_TURN: Final = 0  # any content
_ANSWER: Final = 1  # reasoning does not count
_DOCUMENT: Final = 2  # reasoning and json do not count


def _value_blank(value: object) -> bool:
    if value is None:
        return True
    kind = type(value)
    if kind is str:
        return is_blank(value)  # type: ignore[arg-type]
    if kind is list or kind is dict:
        return not value
    return False


def content_blank(content: object, mode: int = _TURN) -> bool:
    """True when a message's `content` (a list of parts, or a string) carries nothing."""
    if type(content) is str:
        return is_blank(content)
    if type(content) is not list:
        return content is None
    for part in content:
        if type(part) is not dict:
            return False  # not a spec part: the spec rules' business, not ours
        kind = part.get("type")
        if kind == "text" or (kind == "reasoning" and mode == _TURN):
            text = part.get("text")
            if type(text) is not str or (
                text and (text[0] not in BLANK_SET or text.strip(BLANK_CHARS))
            ):
                return False
        elif kind == "reasoning":
            pass  # not an answer, not a document
        elif kind == "json":
            if mode != _DOCUMENT and not _value_blank(part.get("data")):
                return False
        else:
            return False  # media, tool_call, tool_result
    return True


def quality_findings(
    record: dict[str, Any], objective: str, rules: Container[str]
) -> list[Finding] | None:
    """The findings of the `rules` asked for on one spec-valid record, None when clean."""
    messages: list[Any] = record["messages"]
    found: list[Finding] | None = None
    if objective == "sft":
        end = _last(messages, "assistant", len(messages))
        if (
            "empty_assistant" in rules
            and end >= 0
            and content_blank(messages[end]["content"], _ANSWER)
        ):
            found = _add(found, "empty_assistant", _turn(messages, end, "the final assistant"))
        if "empty_user" in rules:
            user = _last(messages, "user", end if end >= 0 else len(messages))
            if user >= 0 and content_blank(messages[user]["content"]):
                found = _add(found, "empty_user", _turn(messages, user, "the prompting user"))
    elif objective == "rft":
        if "empty_user" in rules:
            user = _last(messages, "user", len(messages))
            if user < 0:
                found = _add(
                    found, "empty_user", "messages: no user turn (the question is missing)"
                )
            elif content_blank(messages[user]["content"]):
                found = _add(found, "empty_user", _turn(messages, user, "the last user"))
        if "empty_reference" in rules:
            detail = _reference_blank(record["reference"])
            if detail is not None:
                found = _add(found, "empty_reference", detail)
    elif objective == "preference":
        if "empty_user" in rules:
            user = _last(messages, "user", len(messages))
            if user >= 0 and content_blank(messages[user]["content"]):
                found = _add(found, "empty_user", _turn(messages, user, "the context's last user"))
        if "empty_candidate" in rules:
            for k, candidate in enumerate(record["candidates"]):
                continuation = candidate["messages"]
                if not continuation:  # spec-valid (a D4 warning), but nothing to prefer
                    where = f"candidates[{k}].messages"
                    found = _add(
                        found,
                        "empty_candidate",
                        f"{where} (the {candidate['label']} candidate): no message",
                    )
                    break
                if content_blank(continuation[-1]["content"], _ANSWER):
                    where = f"candidates[{k}].messages[{len(continuation) - 1}]"
                    label = candidate["label"]
                    found = _add(
                        found,
                        "empty_candidate",
                        f"{where} (the final message of the {label} candidate): "
                        "content is empty or blank",
                    )
                    break
    elif objective == "cpt" and "empty_document" in rules and _documents_blank(messages):
        found = _add(
            found, "empty_document", "messages: every document is empty or blank (no text)"
        )
    return found


def _last(messages: list[Any], role: str, before: int) -> int:
    """Index of the last message with `role` before index `before`, or -1."""
    i = before - 1
    while i >= 0:
        if messages[i].get("role") == role:
            return i
        i -= 1
    return -1


def _add(found: list[Finding] | None, rule: str, detail: str) -> list[Finding]:
    if found is None:
        return [(rule, detail)]
    found.append((rule, detail))
    return found


def _turn(messages: list[Any], i: int, what: str) -> str:
    detail = f"messages[{i}] ({what} turn): content is empty or blank"
    content = messages[i]["content"]
    if type(content) is list and any(
        type(p) is dict and p.get("type") == "reasoning" for p in content
    ):
        detail += " (it holds only reasoning, no answer)"
    return detail


def _documents_blank(messages: list[Any]) -> bool:
    documents = False
    for message in messages:
        if message.get("role") == "document":
            documents = True
            if not content_blank(message["content"], _DOCUMENT):
                return False
    if documents:
        return True
    return all(content_blank(m["content"], _DOCUMENT) for m in messages)


def _reference_blank(reference: dict[str, Any]) -> str | None:
    if "answer" in reference and _value_blank(reference["answer"]):
        return "reference.answer: empty or blank"
    if "answers" in reference:
        answers = reference["answers"]
        if _value_blank(answers):
            return "reference.answers: empty or blank"
        if type(answers) is list:
            for k, answer in enumerate(answers):
                if _value_blank(answer):
                    return f"reference.answers[{k}]: empty or blank"
    return None
