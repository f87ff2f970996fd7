"""`hh_rlhf`: Anthropic HH-RLHF transcripts (preference).

Input: ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": "..."}``.

Each transcript is split on the markers ``"\\n\\nHuman:"`` and ``"\\n\\nAssistant:"`` into
user/assistant turns. The format's syntax is all that is removed: each marker and the one space
that follows it (the separator, when there); a turn's text is everything else up to the next
marker, verbatim (no whitespace stripped: U+3000 indentation, NBSP, a trailing space or
newline are content). Text before the first marker (whitespace included), or no marker at
all -> ``adapter:transcript_unparseable``.

The turns both transcripts share from the start are the context ``messages``; what follows in
each (normally the final assistant turn) is its candidate. The shared prefix always leaves each
side at least one turn. Reasons: identical transcripts, or a side whose differing turns hold no
assistant turn -> ``adapter:no_differing_turn``; transcripts differing from their first turn
-> ``adapter:no_shared_context``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field

from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    NO_DIFFERING_TURN,
    NO_SHARED_CONTEXT,
    TRANSCRIPT_UNPARSEABLE,
    record_metadata,
    require_object,
    require_str,
    text_message,
)
from jsonl_assets.core.adapters.preference_pairs import candidate
from jsonl_assets.core.value_text import value_text

# A marker and the one separator space after it (when there): the format's only syntax.
_MARKER: Final = re.compile(r"\n\n(Human|Assistant): ?")
_ROLE: Final = {"Human": "user", "Assistant": "assistant"}


class Options(AdapterOptions):
    chosen_field: str = Field("chosen", description="Key of the preferred transcript.")
    rejected_field: str = Field("rejected", description="Key of the dispreferred transcript.")


Turn = tuple[str, str]


def parse_transcript(text: str, field: str) -> list[Turn]:
    """``(role, text)`` turns of one HH transcript."""
    pieces = _MARKER.split(text)
    if len(pieces) < 3:
        raise AdapterError(
            TRANSCRIPT_UNPARSEABLE,
            f"{field} has no '\\n\\nHuman:' or '\\n\\nAssistant:' marker: {value_text(text, 120)}",
        )
    if pieces[0]:
        raise AdapterError(
            TRANSCRIPT_UNPARSEABLE,
            f"{field} has text before its first turn marker (kept nowhere, so the record is "
            f"not written): {value_text(pieces[0], 120)}",
        )
    return [(_ROLE[pieces[i]], pieces[i + 1]) for i in range(1, len(pieces), 2)]


def build(options: Mapping[str, Any]) -> AdaptFn:
    chosen_field: str = options["chosen_field"]
    rejected_field: str = options["rejected_field"]
    if chosen_field == rejected_field:
        raise ValueError("chosen_field and rejected_field must differ")

    def adapt_hh_rlhf(raw: Any) -> list[Adapted]:
        require_object(raw)
        chosen_text = require_str(raw, chosen_field)
        rejected_text = require_str(raw, rejected_field)
        if chosen_text == rejected_text:
            raise AdapterError(
                NO_DIFFERING_TURN, f"{chosen_field} and {rejected_field} are identical"
            )
        chosen = parse_transcript(chosen_text, chosen_field)
        rejected = parse_transcript(rejected_text, rejected_field)
        if chosen == rejected:
            raise AdapterError(
                NO_DIFFERING_TURN,
                f"{chosen_field} and {rejected_field} differ only in the separator space after a "
                "turn marker",
            )
        limit = min(len(chosen), len(rejected)) - 1
        k = 0
        while k < limit and chosen[k] == rejected[k]:
            k += 1
        if k == 0:
            raise AdapterError(
                NO_SHARED_CONTEXT, f"{chosen_field} and {rejected_field} differ from the first turn"
            )
        for field, turns in ((chosen_field, chosen), (rejected_field, rejected)):
            if all(role != "assistant" for role, _ in turns[k:]):
                raise AdapterError(
                    NO_DIFFERING_TURN,
                    f"{field} differs from turn {k + 1} on, but has no assistant turn there",
                )
        context = [text_message(role, text) for role, text in chosen[:k]]
        record = {
            "messages": context,
            "candidates": [
                candidate("chosen", [text_message(r, t) for r, t in chosen[k:]]),
                candidate("rejected", [text_message(r, t) for r, t in rejected[k:]]),
            ],
        }
        return [Adapted(record, metadata=record_metadata(raw))]

    return adapt_hh_rlhf
