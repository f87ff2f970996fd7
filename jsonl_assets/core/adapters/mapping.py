"""`mapping`: a declarative adapter for shapes no named adapter covers (any objective).

The options say where each piece of the record lives, as dotted field paths into the raw
record (``"data.q"``, ``"items.0.text"``; a digit segment also indexes a list). Which paths
are required or allowed depends on ``objective`` (required; must equal the source's):

| objective  | required                     | optional                                |
|------------|------------------------------|-----------------------------------------|
| sft        | user, assistant              | system                                  |
| preference | prompt, chosen, rejected     | system                                  |
| rft        | user, answer                 | system, assistant, grading, tolerance   |
| cpt        | document                     | system, user                            |

``id`` (optional, every objective) names the path of the source's own record id. The adapter
only checks that each record has a non-empty string or integer there (else
``adapter:missing_field`` / ``adapter:wrong_type``), so a record without one is quarantined
by this adapter; the id itself is assigned by the pipeline from the source's ``id_field``
(which takes the same dotted paths), never by an adapter.

Each path must lead to a string (``answer``: a string or number; for ``any_of`` grading also a
list), which becomes a single text message with the role of its option (``prompt`` -> user,
``chosen``/``rejected`` -> assistant candidates, ``document`` -> document). Message order is
system, user, assistant (sft, rft) or system, user, document (cpt). A required path that finds
nothing (a missing key, an index past the end, a step into a scalar or null) or null ->
``adapter:missing_field`` naming the path; another type -> ``adapter:wrong_type``. An optional
path (``system``; rft ``assistant``; cpt ``user``) is an optional text field, as everywhere:
nothing there, null or ``""`` is no value (no message), whitespace-only text is kept as given,
another type -> ``adapter:wrong_type``. rft references are built like `qa_reference`'s
(``grading`` exact_match | numeric | any_of, default exact_match; ``tolerance`` default 0).

The raw record's own ``metadata`` object is the record's metadata, as with every adapter
(``record_metadata``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import Field

from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    MISSING_FIELD,
    get_path,
    record_metadata,
    require_object,
    text_message,
    wrong_type,
)
from jsonl_assets.core.adapters.preference_pairs import preference_record
from jsonl_assets.core.adapters.qa_reference import make_reference
from jsonl_assets.core.field_paths import FieldPath, parse_path
from jsonl_assets.core.options import OptionsError
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES

PATH_OPTIONS: Final = (
    "system",
    "user",
    "assistant",
    "document",
    "prompt",
    "chosen",
    "rejected",
    "answer",
)

# objective -> (required paths, optional options)
RULES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "sft": (("user", "assistant"), ("system",)),
    "preference": (("prompt", "chosen", "rejected"), ("system",)),
    "rft": (("user", "answer"), ("system", "assistant", "grading", "tolerance")),
    "cpt": (("document",), ("system", "user")),
}


class Options(AdapterOptions):
    objective: Literal["sft", "preference", "rft", "cpt"] | None = Field(
        None, description="Objective (required; must equal the source's)."
    )
    system: str | None = Field(None, description="Dotted path of the system text.")
    user: str | None = Field(None, description="Dotted path of the user text.")
    assistant: str | None = Field(None, description="Dotted path of the assistant text.")
    document: str | None = Field(None, description="Dotted path of the document text.")
    prompt: str | None = Field(None, description="Dotted path of the prompt text.")
    chosen: str | None = Field(None, description="Dotted path of the chosen text.")
    rejected: str | None = Field(None, description="Dotted path of the rejected text.")
    answer: str | None = Field(None, description="Dotted path of the answer text.")
    grading: Literal["exact_match", "numeric", "any_of"] | None = Field(
        None, description="rft grading type."
    )
    tolerance: int | float | None = Field(None, description="rft numeric tolerance (default 0).")
    id: str | None = Field(None, description="Dotted path of the source's own record id.")


def check_options(options: Mapping[str, Any]) -> dict[str, FieldPath]:
    """Parsed paths of the options that are set; `OptionsError` naming the option whose value
    is wrong (None: options that do not fit together)."""
    objective = options.get("objective")
    if objective is None:
        raise OptionsError(
            "objective", f"mapping adapter needs option 'objective' (one of {list(OBJECTIVES)})"
        )
    required, optional = RULES[objective]
    given = [k for k in (*PATH_OPTIONS, "grading", "tolerance") if options.get(k) is not None]
    absent = [k for k in required if options.get(k) is None]
    if absent:
        raise OptionsError(
            None,
            f"mapping for objective {objective!r} needs option(s) {absent}; "
            f"required: {list(required)}, optional: {list(optional)}",
        )
    stray = [k for k in given if k not in required and k not in optional]
    if stray:
        raise OptionsError(
            None,
            f"mapping option(s) {stray} do not apply to objective {objective!r}; "
            f"it takes {list(required)} and optionally {list(optional)}",
        )
    tolerance = options.get("tolerance")
    if tolerance is not None and not (0 <= tolerance < float("inf")):
        raise OptionsError(
            "tolerance", f"tolerance must be a finite number >= 0, got {tolerance!r}"
        )
    paths = {}
    for k in (*PATH_OPTIONS, "id"):
        if options.get(k) is not None:
            try:
                paths[k] = parse_path(options[k])
            except ValueError as exc:
                raise OptionsError(k, str(exc)) from None
    return paths


def build(options: Mapping[str, Any]) -> AdaptFn:
    paths = check_options(options)
    labels: dict[str, str] = {k: options[k] for k in paths}
    objective: str = options["objective"]
    grading: str = options.get("grading") or "exact_match"
    tolerance = options.get("tolerance")
    tolerance = 0 if tolerance is None else tolerance
    id_path = paths.get("id")
    order = {
        "sft": ("system", "user", "assistant"),
        "rft": ("system", "user", "assistant"),
        "cpt": ("system", "user", "document"),
        "preference": ("system", "prompt"),
    }[objective]
    roles = {"system": "system", "user": "user", "prompt": "user"}
    roles |= {"assistant": "assistant", "document": "document"}
    optional = frozenset(RULES[objective][1])

    def value_at(raw: Any, key: str) -> Any:
        """The required value at ``key``'s path; nothing there or null -> missing_field."""
        value = get_path(raw, paths[key], labels[key])
        if value is None:
            raise AdapterError(MISSING_FIELD, f"field path {labels[key]!r} ({key}) is null")
        return value

    def as_text(key: str, value: Any) -> str:
        if type(value) is not str:
            raise wrong_type(f"field path {labels[key]!r} ({key})", "a string", value)
        return value

    def text_at(raw: Any, key: str) -> str | None:
        """The text at ``key``'s path; None for an optional one holding no value (nothing
        there, null or ``""``), as for any optional text field."""
        if key not in optional:
            return as_text(key, value_at(raw, key))
        try:
            value = get_path(raw, paths[key], labels[key])
        except AdapterError:
            return None
        return None if value is None or value == "" else as_text(key, value)

    def adapt_mapping(raw: Any) -> list[Adapted]:
        require_object(raw)
        if id_path is not None:
            value = get_path(raw, id_path, labels["id"])
            if value is None or value == "":
                raise AdapterError(MISSING_FIELD, f"field path {labels['id']!r} (id) is empty")
            if type(value) is not str and type(value) is not int:
                raise wrong_type(f"field path {labels['id']!r} (id)", "a string or integer", value)
        messages = [
            text_message(roles[k], text)
            for k in order
            if k in paths and (text := text_at(raw, k)) is not None
        ]
        if objective == "preference":
            record = preference_record(
                messages,
                [text_message("assistant", as_text("chosen", value_at(raw, "chosen")))],
                [text_message("assistant", as_text("rejected", value_at(raw, "rejected")))],
            )
        elif objective == "rft":
            answer = value_at(raw, "answer")
            where = f"field path {labels['answer']!r}"
            reference = make_reference(answer, grading, tolerance, None, where)
            record = {"messages": messages, "reference": reference}
        else:
            record = {"messages": messages}
        return [Adapted(record, metadata=record_metadata(raw))]

    return adapt_mapping
