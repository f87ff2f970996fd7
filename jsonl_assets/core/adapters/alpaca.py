"""`alpaca`: instruction-tuning records (sft).

* ``{"instruction", "input"?, "output"}`` -> one record: user = instruction, followed by
  ``"\\n\\n" + input`` when the input has any non-space text; assistant = output.
* The self-instruct seed variant ``{"instruction", "instances": [{"input", "output"}, ...]}``
  -> one record per instance, with ``id_suffix`` ``"#1"``, ``"#2"``, ... (1-based, like every
  position in this project; always present in this variant, so adding an instance later does
  not rename the first). An empty ``instances`` list -> ``adapter:no_instances``.
* LLaMA-Factory extras: an optional ``system`` string -> leading system message; an optional
  ``history`` list of ``[user, assistant]`` pairs -> earlier turns before the instruction.

Field names are options; the instruction and output must be strings (an empty one is mapped
as it is: a valid, if useless, turn, which the validated stage's quality policy quarantines by
default as `quality:empty_user` / `quality:empty_assistant`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    NO_INSTANCES,
    optional_str,
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


def user_text(instruction: str, extra: str | None) -> str:
    """The instruction, plus the input after a blank line when the input has text."""
    if extra and not extra.isspace():
        return f"{instruction}\n\n{extra}"
    return instruction


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
        system = optional_str(raw, system_field)
        history = raw.get(history_field)

        def prefix() -> list[dict[str, Any]]:
            # Built afresh for every record, so that no two records share a message dict.
            head = [text_message("system", system)] if system else []
            if history is not None:
                head.extend(_history(raw, history_field))
            return head

        meta = record_metadata(raw)
        instances = raw.get(instances_field)
        if instances is None or output_field in raw:
            text = user_text(instruction, optional_str(raw, input_field))
            messages = [
                *prefix(),
                text_message("user", text),
                text_message("assistant", require_str(raw, output_field)),
            ]
            return [Adapted({"messages": messages}, metadata=meta)]
        if type(instances) is not list:
            raise wrong_type(instances_field, "an array of {input, output} objects", instances)
        if not instances:
            raise AdapterError(NO_INSTANCES, f"{instances_field} is an empty array")
        out: list[Adapted] = []
        for n, instance in enumerate(instances, start=1):
            where = f"{instances_field}[{n - 1}]"
            if type(instance) is not dict:
                raise wrong_type(where, "an object", instance)
            text = user_text(instruction, optional_str(instance, input_field, where))
            messages = [
                *prefix(),
                text_message("user", text),
                text_message("assistant", require_str(instance, output_field, where)),
            ]
            out.append(Adapted({"messages": messages}, id_suffix=f"#{n}", metadata=meta))
        return out

    return adapt_alpaca
