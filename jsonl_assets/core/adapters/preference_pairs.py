"""`preference_pairs`: a prompt with a chosen and a rejected answer (preference).

Input: ``{"prompt", "chosen", "rejected"}`` (field names are options), each either a string or
a list of chat messages (``{"role", "content"}``, converted like the `chat` adapter does):

* prompt string -> one user message; prompt list -> those messages (the shared context);
* chosen/rejected string -> one assistant message; list -> those messages;
* chosen/rejected lists that repeat the prompt (UltraFeedback-style full conversations) have
  the repeated prefix stripped: the leading messages that, as written (converted), equal the
  context the prompt makes (a prompt string: ``{"role": "user", "content": <the prompt>}``,
  content also as one text part). Messages are compared the way they are written, as JSON,
  types included: a key holding null is as absent (the conversion reads it so; Parquet gives
  every message each key some message has), while a repeated message saying more (``name``,
  ``weight``, ``annotations``...), or differing in a value's JSON type, is written with it,
  so it stays in its side;
* no prompt at all and chosen/rejected lists (full conversations): their longest common prefix
  (messages equal as written, compared alike; leaving each side at least one message) is the
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
from typing import Any

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


def _written(messages: list[Any], where: str, tracker: CallTracker) -> list[dict[str, Any]] | None:
    """``messages`` as they would be written (converted like `chat`, with a copy of
    ``tracker``), or None when they cannot be (the real conversion reports why)."""
    try:
        return convert_messages(messages, where, tracker.fork())
    except AdapterError:
        return None


def _repeats(
    side: list[Any], context: list[dict[str, Any]], where: str, tracker: CallTracker
) -> bool:
    """Whether ``side`` starts with the ``context`` messages, compared as written: converted
    from the state the context was converted from (``tracker``), equal as JSON, types
    included (``1``, ``1.0`` and ``true`` differ). A key holding null is as absent, as the
    conversion reads it, so a Parquet message's ``"name": null`` is no difference; a message
    saying more (``name``, ``weight``...) is written with it, so it differs and stays."""
    n = len(context)
    if len(side) < n:
        return False
    return same_json(_written(side[:n], where, tracker), context)


def _common_prefix(
    a: list[Any], b: list[Any], where_a: str, where_b: str, tracker: CallTracker
) -> int:
    """How many leading messages ``a`` and ``b`` share as written (leaving each at least
    one), converted one by one as a whole side would be."""
    limit = min(len(a), len(b)) - 1
    ta, tb = tracker.fork(), tracker.fork()
    k = 0
    while k < limit:
        try:
            wa = convert_messages(a[k : k + 1], where_a, ta, k)
            wb = convert_messages(b[k : k + 1], where_b, tb, k)
        except AdapterError:
            break  # the side's own conversion reports it
        if not same_json(wa, wb):
            break
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
        before = tracker.fork()  # the state a repeated context is converted from
        if prompt_raw is None:
            if type(chosen_raw) is not list or type(rejected_raw) is not list:
                raise missing(prompt_field)
            k = _common_prefix(chosen_raw, rejected_raw, chosen_field, rejected_field, before)
            if k == 0:
                raise AdapterError(
                    NO_SHARED_CONTEXT,
                    f"no {prompt_field} and {chosen_field}/{rejected_field} share no leading "
                    "messages to use as context",
                )
            context = convert_messages(chosen_raw[:k], chosen_field, tracker)
            strip = {chosen_field: k, rejected_field: k}
        else:
            if type(prompt_raw) is str:
                context = [text_message("user", prompt_raw)]
            elif type(prompt_raw) is list:
                context = convert_messages(prompt_raw, prompt_field, tracker)
            else:
                raise wrong_type(prompt_field, "a string or an array of messages", prompt_raw)
            for field, side in ((chosen_field, chosen_raw), (rejected_field, rejected_raw)):
                if type(side) is list and context and _repeats(side, context, field, before):
                    strip[field] = len(context)

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
