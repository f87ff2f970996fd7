"""`prompt_response`: one question, one answer (sft).

Options ``prompt_field`` / ``response_field`` name the two keys (set both or neither). When
neither is set, the pair is detected per record among

    prompt/response, prompt/completion, question/answer, instruction/response

(a pair is given when both its keys hold a value: null is as absent). A record with none of
them -> ``adapter:missing_field`` listing the accepted pairs (a pair whose keys are present
but null names the null key). A detected pair beside any other key of those pairs holding a
value (``completion`` beside ``prompt``/``response``, a second pair) is ambiguous - which
one is the answer? - and mapping it either way would drop the other:
``adapter:conflicting_fields``, as `alpaca` refuses ``instances`` beside an ``output``.

``context_field`` (default: ``context``, as in Databricks Dolly, or ``input``, as in alpaca's
``instruction``/``input``) is appended to the user turn after a blank line when it is a
non-empty string; a record whose ``context`` and ``input`` both hold text ->
``adapter:conflicting_fields`` (which goes first is a guess). ``system_field`` (default:
``system`` when present) becomes a leading system message when it is a non-empty string.
Whitespace-only text is kept as given in both (``""`` and null count as absent). Context and
system are optional by nature, so a record without them is fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field

from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    CONFLICTING_FIELDS,
    MISSING_FIELD,
    joined_text,
    optional_text,
    record_metadata,
    require_object,
    require_str,
    text_message,
)

PAIRS: Final = (
    ("prompt", "response"),
    ("prompt", "completion"),
    ("question", "answer"),
    ("instruction", "response"),
)
_PAIR_LIST: Final = ", ".join(f"{p}/{r}" for p, r in PAIRS)
# Every key of a detected pair, in first-seen order (for details).
_PAIR_KEYS: Final = tuple(dict.fromkeys(k for pair in PAIRS for k in pair))
# The keys a detected record's context may come from (Dolly, alpaca).
_CONTEXT_KEYS: Final = ("context", "input")


class Options(AdapterOptions):
    prompt_field: str | None = Field(None, description="Key of the user turn (default: detected).")
    response_field: str | None = Field(
        None, description="Key of the assistant turn (default: detected)."
    )
    context_field: str | None = Field(
        None,
        description="Key of extra context appended to the user turn (default: context or input).",
    )
    system_field: str | None = Field(
        None, description="Key of a system prompt (default: system, when present)."
    )


def _detect(raw: Mapping[str, Any]) -> tuple[str, str]:
    """The record's one pair; none -> missing_field, several keys of pairs -> conflicting."""
    given = [(p, r) for p, r in PAIRS if raw.get(p) is not None and raw.get(r) is not None]
    if not given:
        for prompt, response in PAIRS:
            if prompt in raw and response in raw:
                return prompt, response  # a null one is named by require_str
        raise AdapterError(
            MISSING_FIELD,
            f"record has none of the field pairs {_PAIR_LIST} (keys: {list(raw)[:20]})",
        )
    pair = given[0]
    others = [k for k in _PAIR_KEYS if k not in pair and raw.get(k) is not None]
    if others:
        raise AdapterError(
            CONFLICTING_FIELDS,
            f"record has {pair[0]}/{pair[1]} and also {', '.join(others)}: which of them "
            "is the prompt and the answer is ambiguous, and mapping either would drop the "
            "other (set prompt_field and response_field)",
        )
    return pair


def _context(raw: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    """The one context text among ``fields``; two holding text -> conflicting_fields."""
    texts = [(f, t) for f in fields if (t := optional_text(raw, f)) is not None]
    if len(texts) > 1:
        raise AdapterError(
            CONFLICTING_FIELDS,
            f"record has both {texts[0][0]} and {texts[1][0]}: which one comes first in the "
            "user turn is ambiguous (set context_field)",
        )
    return texts[0][1] if texts else None


def build(options: Mapping[str, Any]) -> AdaptFn:
    prompt_field: str | None = options["prompt_field"]
    response_field: str | None = options["response_field"]
    if (prompt_field is None) != (response_field is None):
        raise ValueError("prompt_field and response_field must be set together (or neither)")
    context_field: str | None = options["context_field"]
    system_field: str = options["system_field"] or "system"

    def adapt_prompt_response(raw: Any) -> list[Adapted]:
        require_object(raw)
        if prompt_field is None or response_field is None:
            pkey, rkey = _detect(raw)
        else:
            pkey, rkey = prompt_field, response_field
        prompt = require_str(raw, pkey)
        response = require_str(raw, rkey)
        if context_field is not None:
            context = optional_text(raw, context_field)
        else:
            context = _context(raw, tuple(k for k in _CONTEXT_KEYS if k not in (pkey, rkey)))
        prompt = joined_text(prompt, context)
        messages: list[dict[str, Any]] = []
        system = optional_text(raw, system_field)
        if system is not None:
            messages.append(text_message("system", system))
        messages.append(text_message("user", prompt))
        messages.append(text_message("assistant", response))
        return [Adapted({"messages": messages}, metadata=record_metadata(raw))]

    return adapt_prompt_response
