"""`alpaca`: instruction-tuning records (sft).

* ``{"instruction", "input"?, "output"}`` -> one record: user = instruction, followed by
  ``"\\n\\n" + input`` when the input is a non-empty string (whitespace-only included: it is
  kept as given; ``""`` and null count as absent); assistant = output.
* The self-instruct seed variant ``{"instruction", "instances": [{"input", "output"}, ...]}``
  -> one record per instance, with ``id_suffix`` ``"#1"``, ``"#2"``, ... (1-based, like every
  position in this project; always present in this variant, so adding an instance later does
  not rename the first). An empty ``instances`` list -> ``adapter:no_instances``. An
  instance's other keys (an instance ``id``, an explanation...) go to its record's metadata,
  after the record's own ``metadata`` object; a key both give with different values ->
  ``adapter:metadata_conflict``.
* A record giving ``instances`` and also ``output``, or a top-level ``input`` with text, is
  ambiguous (which output, which input?): mapping it either way would drop values, so it is
  refused as ``adapter:conflicting_fields``.
* LLaMA-Factory extras: an optional ``system`` string -> leading system message (``""``
  counts as absent, whitespace-only text is kept); an optional ``history`` list of
  ``[user, assistant]`` pairs -> earlier turns before the instruction.

Field names are options; the instruction and output must be strings (an empty one is mapped
as it is: a valid, if useless, turn, which the validated stage's quality policy quarantines by
default as `quality:empty_user` / `quality:empty_assistant`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from jsonl_assets.core.adapters.annotations import same_json, unmapped_keys
from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    CONFLICTING_FIELDS,
    METADATA_CONFLICT,
    NO_INSTANCES,
    joined_text,
    optional_text,
    record_metadata,
    require_object,
    require_str,
    text_message,
    wrong_type,
)


class Options(AdapterOptions):
    instruction_field: str = Field("instruction", description="Key of the instruction.")
    input_field: str = Field("input", description="Key of the optional input.")
    output_field: str = Field("output", description="Key of the response.")
    instances_field: str = Field(
        "instances", description="Key of the list of {input, output} instances (seed variant)."
    )
    system_field: str = Field("system", description="Key of an optional system prompt.")
    history_field: str = Field(
        "history", description="Key of optional earlier [user, assistant] turn pairs."
    )


def instance_metadata(
    meta: dict[str, Any] | None, extras: dict[str, Any] | None, where: str
) -> dict[str, Any] | None:
    """A record's own metadata followed by its instance's other keys (``extras``); a key both
    hold with different values -> ``adapter:metadata_conflict`` (one would be lost)."""
    if not extras:
        return meta
    out = dict(meta) if meta else {}
    for key, value in extras.items():
        if key in out and not same_json(out[key], value):
            raise AdapterError(
                METADATA_CONFLICT,
                f"{where}.{key} differs from the record's metadata.{key}; one would be lost "
                "(the whole input record is refused, with its other instances)",
            )
        out[key] = value
    return out


def _history(raw: Mapping[str, Any], field: str) -> list[dict[str, Any]]:
    pairs = raw.get(field)
    if pairs is None:
        return []
    if type(pairs) is not list:
        raise wrong_type(field, "an array of [user, assistant] pairs", pairs)
    out: list[dict[str, Any]] = []
    for i, pair in enumerate(pairs):
        if (
            type(pair) is not list
            or len(pair) != 2
            or type(pair[0]) is not str
            or type(pair[1]) is not str
        ):
            raise wrong_type(f"{field}[{i}]", "a [user, assistant] pair of strings", pair)
        out.append(text_message("user", pair[0]))
        out.append(text_message("assistant", pair[1]))
    return out


def build(options: Mapping[str, Any]) -> AdaptFn:
    instruction_field: str = options["instruction_field"]
    input_field: str = options["input_field"]
    output_field: str = options["output_field"]
    instances_field: str = options["instances_field"]
    system_field: str = options["system_field"]
    history_field: str = options["history_field"]

    def adapt_alpaca(raw: Any) -> list[Adapted]:
        require_object(raw)
        instruction = require_str(raw, instruction_field)
        system = optional_text(raw, system_field)
        history = raw.get(history_field)

        def prefix() -> list[dict[str, Any]]:
            # Built afresh for every record, so that no two records share a message dict.
            head = [text_message("system", system)] if system is not None else []
            if history is not None:
                head.extend(_history(raw, history_field))
            return head

        meta = record_metadata(raw)
        instances = raw.get(instances_field)
        top_input = optional_text(raw, input_field)
        if instances is None:
            text = joined_text(instruction, top_input)
            messages = [
                *prefix(),
                text_message("user", text),
                text_message("assistant", require_str(raw, output_field)),
            ]
            return [Adapted({"messages": messages}, metadata=meta)]
        for field, value in ((output_field, raw.get(output_field)), (input_field, top_input)):
            if value is not None:
                raise AdapterError(
                    CONFLICTING_FIELDS,
                    f"record has both {instances_field} and {field}: which one the records "
                    f"take is ambiguous, and mapping either would drop the other",
                )
        if type(instances) is not list:
            raise wrong_type(instances_field, "an array of {input, output} objects", instances)
        mapped = frozenset((input_field, output_field))
        if not instances:
            raise AdapterError(NO_INSTANCES, f"{instances_field} is an empty array")
        out: list[Adapted] = []
        for n, instance in enumerate(instances, start=1):
            where = f"{instances_field}[{n - 1}]"
            if type(instance) is not dict:
                raise wrong_type(where, "an object", instance)
            text = joined_text(instruction, optional_text(instance, input_field, where))
            messages = [
                *prefix(),
                text_message("user", text),
                text_message("assistant", require_str(instance, output_field, where)),
            ]
            own = instance_metadata(meta, unmapped_keys(instance, mapped), where)
            out.append(
                Adapted(
                    {"messages": messages}, id_suffix=f"#{n}", metadata=own, metadata_from=where
                )
            )
        return out

    return adapt_alpaca
