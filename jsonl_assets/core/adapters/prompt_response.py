"""`prompt_response`: one question, one answer (sft).

Options ``prompt_field`` / ``response_field`` name the two keys (set both or neither). When
neither is set, the pair is detected per record, first match wins, among

    prompt/response, prompt/completion, question/answer, instruction/response

and a record with none of them -> ``adapter:missing_field`` listing the accepted pairs.

``context_field`` (default: ``context`` when the record has it, as in Databricks Dolly) is
appended to the user turn after a blank line when it is a non-empty string. ``system_field``
(default: ``system`` when present) becomes a leading system message when it is a non-empty
string. Whitespace-only text is kept as given in both (``""`` and null count as absent).
Context and system are optional by nature, so a record without them is fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field

from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
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


class Options(AdapterOptions):
    prompt_field: str | None = Field(None, description="Key of the user turn (default: detected).")
    response_field: str | None = Field(
        None, description="Key of the assistant turn (default: detected)."
    )
    context_field: str | None = Field(
        None, description="Key of extra context appended to the user turn (default: context)."
    )
    system_field: str | None = Field(
        None, description="Key of a system prompt (default: system, when present)."
    )


def _detect(raw: Mapping[str, Any]) -> tuple[str, str]:
    for prompt, response in PAIRS:
        if prompt in raw and response in raw:
            return prompt, response
    raise AdapterError(
        MISSING_FIELD, f"record has none of the field pairs {_PAIR_LIST} (keys: {list(raw)[:20]})"
    )


def build(options: Mapping[str, Any]) -> AdaptFn:
    prompt_field: str | None = options["prompt_field"]
    response_field: str | None = options["response_field"]
    if (prompt_field is None) != (response_field is None):
        raise ValueError("prompt_field and response_field must be set together (or neither)")
    context_field: str = options["context_field"] or "context"
    system_field: str = options["system_field"] or "system"

    def adapt_prompt_response(raw: Any) -> list[Adapted]:
        require_object(raw)
        if prompt_field is None or response_field is None:
            pkey, rkey = _detect(raw)
        else:
            pkey, rkey = prompt_field, response_field
        prompt = require_str(raw, pkey)
        response = require_str(raw, rkey)
        prompt = joined_text(prompt, optional_text(raw, context_field))
        messages: list[dict[str, Any]] = []
        system = optional_text(raw, system_field)
        if system is not None:
            messages.append(text_message("system", system))
        messages.append(text_message("user", prompt))
        messages.append(text_message("assistant", response))
        return [Adapted({"messages": messages}, metadata=record_metadata(raw))]

    return adapt_prompt_response
