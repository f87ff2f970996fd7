"""Key sets of records, messages and parts, and the value names used in messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from jsonl_assets.core.rules.spec_vocabulary import MEDIA_PART_TYPES, OBJECTIVES, PART_TYPES
from jsonl_assets.core.value_text import value_text

BASE_RECORD_KEYS: Final = frozenset({"id", "messages", "toolset_id", "metadata"})
RECORD_KEYS: Final = {
    "sft": BASE_RECORD_KEYS,
    "cpt": BASE_RECORD_KEYS,
    "preference": BASE_RECORD_KEYS | {"candidates"},
    "rft": BASE_RECORD_KEYS | {"reference"},
}
assert set(RECORD_KEYS) == set(OBJECTIVES)
OBJECTIVE_ONLY_KEYS: Final = {"candidates": "preference", "reference": "rft"}
MESSAGE_KEYS: Final = frozenset({"role", "content", "name", "annotations"})
CANDIDATE_KEYS: Final = frozenset({"candidate_id", "label", "messages"})
MEDIA_KEYS: Final = frozenset({"type", "ref", "mime_type", "sha256", "bytes"})
REF_KEYS: Final = frozenset({"asset_id", "uri"})
PART_KEYS: Final = {
    "text": frozenset({"type", "text"}),
    "reasoning": frozenset({"type", "text"}),
    "json": frozenset({"type", "data"}),
    "tool_call": frozenset({"type", "name", "call_id", "arguments"}),
    "tool_result": frozenset({"type", "name", "call_id", "result"}),
    **dict.fromkeys(MEDIA_PART_TYPES, MEDIA_KEYS),
}
assert set(PART_KEYS) == set(PART_TYPES)
REFERENCE_KEYS: Final = ("grading", "answer", "answers", "rubric")
GRADING_TYPES: Final = frozenset({"exact_match", "numeric", "any_of", "rubric"})
RUBRIC_LISTS: Final = ("must_have", "nice_to_have", "must_not_have")

ABSENT: Final[Any] = object()  # a key that is not there
NO_DICT: Final[dict[str, Any]] = {}  # default for optional object lookups; never mutated

JSON_NAMES: Final[dict[type, str]] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def json_type_name(value: object) -> str:
    """JSON name of a parsed value's type, for messages ("an object", "a string" ...)."""
    return JSON_NAMES.get(type(value), type(value).__name__)


def short(value: object, limit: int = 60) -> str:
    """A value for a rule message, at most `limit` characters (a cut one ends in `...`): a
    scalar as Python writes it (`'text'`, `True`, `None`, the checklist's quoting), an array
    or object as JSON by `value_text`, which never recurses (repr() raises RecursionError on
    a value nested 1,000 deep) and stops at the cut (a long string too: repr() would copy
    it whole first)."""
    if isinstance(value, (dict, list, tuple)) or (type(value) is int and value.bit_length() > 64):
        return value_text(value, limit)  # an integer past str()'s 4,300 digits too
    text = repr(value[: limit + 1] if isinstance(value, str) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


def is_count(value: object) -> bool:
    """A non-negative integer as JSON Schema 2020-12 reads one: `3` and `3.0` alike."""
    if type(value) is float:
        return value.is_integer() and value >= 0
    return type(value) is int and value >= 0


def is_iso_datetime(text: str) -> bool:
    """Whether `text` is a real ISO-8601 date-time (a bare date is not one)."""
    if len(text) < 11:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
