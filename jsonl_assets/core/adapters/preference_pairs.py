"""`preference_pairs`: a prompt with a chosen and a rejected answer (preference).

Input: ``{"prompt", "chosen", "rejected"}`` (field names are options), each either a string or
a list of chat messages (``{"role", "content"}``, converted like the `chat` adapter does):

* prompt string -> one user message; prompt list -> those messages (the shared context);
* chosen/rejected string -> one assistant message; list -> those messages;
* chosen/rejected lists that repeat the prompt (UltraFeedback-style full conversations) have
  the repeated prefix stripped: the leading messages equal to the prompt list, or a leading
  message that is exactly ``{"role": "user", "content": <the prompt string>}`` (content also
  as one text part). Only messages that say nothing the context does not are stripped: a
  repeated message with any other key (``name``, ``weight``, ``annotations``...), or one that
  differs in a value's JSON type, stays in its side, converted like any message;
* no prompt at all and chosen/rejected lists (full conversations): their longest common prefix
  (messages equal as JSON, types included; leaving each side at least one message) is the
  context;
* an optional ``system`` string -> a system message before the context, whitespace-only text
  as given (``""`` counts as absent).

Tool calls and results inside message lists are converted as in `chat` (calls in the context
can be answered in a candidate), but no toolset is derived: give such sources a toolset through
the file entry or ``defaults``.

Output: ``messages`` = context, ``candidates`` = chosen (``candidate_id`` "chosen") then
rejected. Reasons: identical sides -> ``adapter:no_differing_turn``; a side left empty after
stripping -> ``adapter:empty_candidate``; no prompt and nothing shared ->
``adapter:no_shared_context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field

from jsonl_assets.core.adapters.annotations import same_json
from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.chat import convert_messages, source_call_ids
from jsonl_assets.core.adapters.parts import (
    EMPTY_CANDIDATE,
    NO_DIFFERING_TURN,
    NO_SHARED_CONTEXT,
    CallTracker,
    missing,
    optional_text,
    record_metadata,
    require_object,
    text_message,
    wrong_type,
)


class Options(AdapterOptions):
    prompt_field: str = Field("prompt", description="Key of the prompt (string or messages).")
    chosen_field: str = Field("chosen", description="Key of the preferred answer.")
    rejected_field: str = Field("rejected", description="Key of the dispreferred answer.")
    system_field: str = Field("system", description="Key of an optional system prompt.")


def candidate(label: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"candidate_id": label, "label": label, "messages": messages}


def preference_record(
    context: list[dict[str, Any]], chosen: list[dict[str, Any]], rejected: list[dict[str, Any]]
) -> dict[str, Any]:
    """A preference record body; identical sides -> ``adapter:no_differing_turn``."""
    if same_json(chosen, rejected):
        raise AdapterError(NO_DIFFERING_TURN, "chosen and rejected are identical")
    return {
        "messages": context,
        "candidates": [candidate("chosen", chosen), candidate("rejected", rejected)],
    }


_PROMPT_KEYS: Final = frozenset({"role", "content"})


def _is_prompt_message(msg: Any, prompt: str) -> bool:
    """Whether ``msg`` repeats a prompt string and nothing else: exactly a role ``user`` and
    the prompt as content (a string or one text part). A message with any other key is not
    the prompt's repetition (stripping it would drop that key), as with a prompt list, whose
    repetition must equal it whole."""
    if type(msg) is not dict or msg.keys() != _PROMPT_KEYS or msg["role"] != "user":
        return False
    content = msg["content"]
    return same_json(content, prompt) or same_json(content, [{"type": "text", "text": prompt}])


def _repeats(side: list[Any], prefix: list[Any]) -> bool:
    """Whether ``side`` starts with the messages of ``prefix``, equal as JSON (types
    included: ``1``, ``1.0`` and ``true`` differ, so no value is stripped for another)."""
    n = len(prefix)
    return len(side) >= n and all(same_json(a, b) for a, b in zip(side, prefix, strict=False))


def _common_prefix(a: list[Any], b: list[Any]) -> int:
    limit = min(len(a), len(b)) - 1
    k = 0
    while k < limit and same_json(a[k], b[k]):
        k += 1
    return k


def build(options: Mapping[str, Any]) -> AdaptFn:
    prompt_field: str = options["prompt_field"]
    chosen_field: str = options["chosen_field"]
    rejected_field: str = options["rejected_field"]
    system_field: str = options["system_field"]
    if len({prompt_field, chosen_field, rejected_field}) != 3:
        raise ValueError("prompt_field, chosen_field and rejected_field must be distinct")

    def side_value(raw: Mapping[str, Any], field: str) -> str | list[Any]:
        value = raw.get(field)
        if type(value) is str or type(value) is list:
            return value
        if value is None:
            raise missing(field)
        raise wrong_type(field, "a string or an array of messages", value)

    def adapt_preference_pairs(raw: Any) -> list[Adapted]:
        require_object(raw)
        chosen_raw = side_value(raw, chosen_field)
        rejected_raw = side_value(raw, rejected_field)
        prompt_raw = raw.get(prompt_field)
        tracker = CallTracker(lambda: source_call_ids(prompt_raw, chosen_raw, rejected_raw))
        strip = {chosen_field: 0, rejected_field: 0}
        if prompt_raw is None:
            if type(chosen_raw) is not list or type(rejected_raw) is not list:
                raise missing(prompt_field)
            k = _common_prefix(chosen_raw, rejected_raw)
            if k == 0:
                raise AdapterError(
                    NO_SHARED_CONTEXT,
                    f"no {prompt_field} and {chosen_field}/{rejected_field} share no leading "
                    "messages to use as context",
                )
            context = convert_messages(chosen_raw[:k], chosen_field, tracker)
            strip = {chosen_field: k, rejected_field: k}
        elif type(prompt_raw) is str:
            context = [text_message("user", prompt_raw)]
            for field, side in ((chosen_field, chosen_raw), (rejected_field, rejected_raw)):
                if type(side) is list and side and _is_prompt_message(side[0], prompt_raw):
                    strip[field] = 1
        elif type(prompt_raw) is list:
            context = convert_messages(prompt_raw, prompt_field, tracker)
            n = len(prompt_raw)
            for field, side in ((chosen_field, chosen_raw), (rejected_field, rejected_raw)):
                if type(side) is list and n and _repeats(side, prompt_raw):
                    strip[field] = n
        else:
            raise wrong_type(prompt_field, "a string or an array of messages", prompt_raw)

        sides: list[list[dict[str, Any]]] = []
        for field, side in ((chosen_field, chosen_raw), (rejected_field, rejected_raw)):
            if type(side) is str:
                msgs = [text_message("assistant", side)]
            else:
                k = strip[field]
                msgs = convert_messages(side[k:], field, tracker.fork(), start=k)
                if not msgs:
                    raise AdapterError(
                        EMPTY_CANDIDATE,
                        f"{field} has no messages beyond the prompt it repeats",
                    )
            sides.append(msgs)

        system = optional_text(raw, system_field)
        if system is not None:
            context.insert(0, text_message("system", system))
        record = preference_record(context, sides[0], sides[1])
        return [Adapted(record, metadata=record_metadata(raw))]

    return adapt_preference_pairs
