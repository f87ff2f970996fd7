"""Message annotations: every key of a source message the adapter does not map is kept there,
and a key is never overwritten by another value (`adapter:annotation_conflict`).

What a message's parts or tool calls say beyond what spec parts hold goes there too, in the
source's shape: ``part_extras`` (OpenAI part keys such as ``cache_control``) by part index,
``call_extras`` (tool-call keys such as ``index`` or ``function.strict``) by call index."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.parts import ANNOTATION_CONFLICT
from jsonl_assets.core.adapters.unmapped import says_something, unmapped_keys
from jsonl_assets.core.value_text import value_text

__all__ = [
    "CALL_EXTRAS",
    "PART_EXTRAS",
    "add_annotation",
    "extra_annotations",
    "message_annotations",
    "same_json",
    "unmapped_keys",
]

PART_EXTRAS: Final = "part_extras"
CALL_EXTRAS: Final = "call_extras"


def extra_annotations(
    raw: Mapping[str, Any], known: frozenset[str] | set[str], where: str = "message"
) -> dict[str, Any] | None:
    """Annotations for a message: the raw ``annotations`` object (if it is one) followed by
    every other key of ``raw`` not in ``known`` (the keys the adapter mapped), in ``raw``'s
    order, by ``unmapped.py``'s rule (null says nothing; ``[]`` and ``{}`` are kept). Nothing
    the source says about a message is dropped: a key both in ``annotations`` and beside it
    with another value raises ``adapter:annotation_conflict`` (see ``add_annotation``)."""
    base = raw.get("annotations")
    out: dict[str, Any] = dict(base) if type(base) is dict else {}
    for key, value in raw.items():
        if key in known or not says_something(value):
            continue
        if key == "annotations" and type(value) is dict:
            continue
        add_annotation(out, key, value, where)
    return out or None


def message_annotations(
    raw: Mapping[str, Any],
    known: frozenset[str] | set[str],
    where: str,
    extras: Mapping[str, dict[str, Any]],
) -> dict[str, Any] | None:
    """A message's annotations: ``extra_annotations`` (every key of ``raw`` not in ``known``),
    then each non-empty ``extras`` value (e.g. ``{PART_EXTRAS: {...}, CALL_EXTRAS: {...}}``)
    under its key, never overwriting (``add_annotation``)."""
    annotations = None if known.issuperset(raw) else extra_annotations(raw, known, where)
    for key, value in extras.items():
        if value:
            annotations = annotations or {}
            add_annotation(annotations, key, value, where)
    return annotations


def add_annotation(annotations: dict[str, Any], key: str, value: Any, where: str) -> None:
    """``annotations[key] = value``, unless the key holds another value already: then
    ``adapter:annotation_conflict`` (one of the two would be lost). An equal value is fine."""
    if key in annotations and not same_json(annotations[key], value):
        raise AdapterError(
            ANNOTATION_CONFLICT,
            f"{where}: annotations.{key} is {value_text(annotations[key])} but the message also "
            f"gives {key} = {value_text(value)}; one of them would be lost",
        )
    annotations[key] = value


def same_json(a: Any, b: Any) -> bool:
    """Whether two JSON values are equal, types included (``1``, ``1.0`` and ``true`` differ;
    so do ``0.0`` and ``-0.0``, which are written apart; an object's key order does not
    matter). Compared without recursion: a value nested 1,000 deep (readers accept 1,024) is
    compared, not a RecursionError."""
    todo = [(a, b)]
    while todo:
        x, y = todo.pop()
        if type(x) is not type(y):
            return False
        if type(x) is dict:
            if x.keys() != y.keys():
                return False
            todo.extend((v, y[k]) for k, v in x.items())
        elif type(x) is list:
            if len(x) != len(y):
                return False
            todo.extend(zip(x, y, strict=True))
        elif x != y or (type(x) is float and math.copysign(1.0, x) != math.copysign(1.0, y)):
            return False
    return True
