"""The adapter contract: one raw record in, zero or more spec records out.

An adapter maps one raw value (a dict from a reader) to spec records for its objective. It
returns the record body only; the stage adds `id` and `metadata` (trace, source fields).
A raw value that cannot be mapped raises ``AdapterError`` with a stable reason code; the
stage quarantines it with the trace and goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from pydantic import ValidationInfo, field_validator

from jsonl_assets.core.blank_text import is_blank
from jsonl_assets.core.options import Options
from jsonl_assets.core.picklable_errors import Picklable


class AdapterError(Picklable):
    """A raw record this adapter cannot map. `reason` is a stable code, e.g. `adapter:missing_field`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Adapted:
    """One spec record made by an adapter.

    `record` holds `messages` plus `candidates` (preference) or `reference` (rft) and
    optionally `toolset_id`; never `id` or `metadata`. `toolset` is the spec toolset the record
    uses when the adapter derived one from the raw data (its `id` equals record["toolset_id"]).
    `id_suffix` distinguishes several records made from one raw value: `#` and a 1-based
    number (`#1`), only from an adapter registered with `id_suffixes`.
    `metadata` is record-level metadata carried over from the raw value, if any: the raw
    record's own `metadata` object, then keys the adapter found elsewhere, in the part of the
    raw value `metadata_from` names (alpaca: an instance's other keys, `instances[0]`).
    """

    record: dict[str, Any]
    toolset: dict[str, Any] | None = None
    id_suffix: str = ""
    metadata: dict[str, Any] | None = None
    metadata_from: str = ""


AdaptFn = Callable[[Any], Iterable[Adapted]]


class AdapterOptions(Options):
    """Base of an adapter's options model (each adapter module declares `Options`).

    Its string options name things (a record key, a dotted path, a toolset id): a blank one
    (`blank_text.is_blank`) names nothing and is refused when the config loads, naming the
    option. An option whose value is text, not a name (a separator, a regex), is listed in
    the model's `TEXT_OPTIONS`.
    """

    TEXT_OPTIONS: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _name_not_blank(cls, value: Any, info: ValidationInfo) -> Any:
        if type(value) is str and info.field_name not in cls.TEXT_OPTIONS and is_blank(value):
            raise ValueError(
                f"option {info.field_name!r} names a record key, path or toolset: it must not "
                f"be blank (empty, only whitespace or invisible characters), got {value!r}"
            )
        return value


# The key of `AdapterSpec.build`'s options holding the config's `defaults.toolset_id`, when set
# (never an option a source gives: `build_adapter` adds it).
DEFAULT_TOOLSET: Final = "default_toolset_id"


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    """A registered adapter: which objectives it serves, its options, and its factory.

    `build(options)` receives the validated options (defaults filled in), the source's
    objective under the key `objective` and, under `DEFAULT_TOOLSET` when the config sets
    one, its `defaults.toolset_id` (the toolset records without their own inherit), and
    returns the per-record function.
    `id_suffixes`: whether its records may carry an `id_suffix` (`#<n>`); the ids of such a
    source escape `#` in the source's own id value (record_ids.source_id), so that a suffixed
    id never equals a plain one.
    """

    name: str
    objectives: frozenset[str]
    build: Callable[[Mapping[str, Any]], AdaptFn]
    options: type[AdapterOptions] = AdapterOptions
    doc: str = ""
    id_suffixes: bool = False
