"""The adapter registry: names (the config interface) -> ``AdapterSpec``.

Use ``resolve_options`` once per source to validate its adapter options against the source's
objective (it fills defaults and adds ``"objective"``), then ``build_adapter`` to get the
per-record function. Every configuration mistake is a ``ValueError`` at resolve time, never a
surprise per record: ``resolve_options`` also builds the adapter once, so the adapter's own
cross-option checks (a regex that does not compile, mapping paths that do not fit the
objective, ...) run there too.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any, Final

from jsonl_assets.core.adapters import (
    alpaca,
    chat,
    hh_rlhf,
    mapping,
    native,
    preference_pairs,
    prompt_response,
    qa_reference,
    sharegpt,
    text,
)
from jsonl_assets.core.adapters.base import DEFAULT_TOOLSET, AdapterSpec, AdaptFn
from jsonl_assets.core.options import OptionsError, validate_options
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES

__all__ = ["ADAPTERS", "build_adapter", "resolve_options"]

ALL_OBJECTIVES: Final = frozenset(OBJECTIVES)


def _spec(
    name: str,
    module: ModuleType,
    objectives: frozenset[str] | set[str],
    *,
    id_suffixes: bool = False,
) -> AdapterSpec:
    doc = (module.__doc__ or "").strip()
    return AdapterSpec(
        name=name,
        objectives=frozenset(objectives),
        build=module.build,
        options=module.Options,
        doc=doc,
        id_suffixes=id_suffixes,
    )


ADAPTERS: Final[dict[str, AdapterSpec]] = {
    spec.name: spec
    for spec in (
        _spec("native", native, ALL_OBJECTIVES),
        _spec("chat", chat, {"sft"}),
        _spec("sharegpt", sharegpt, {"sft"}),
        _spec("alpaca", alpaca, {"sft"}, id_suffixes=True),
        _spec("prompt_response", prompt_response, {"sft"}),
        _spec("preference_pairs", preference_pairs, {"preference"}),
        _spec("hh_rlhf", hh_rlhf, {"preference"}),
        _spec("qa_reference", qa_reference, {"rft"}),
        _spec("text", text, {"cpt"}),
        _spec("mapping", mapping, ALL_OBJECTIVES),
    )
}


def resolve_options(
    adapter: str, options: Mapping[str, Any] | None, objective: str
) -> dict[str, Any]:
    """Validated options for ``adapter`` on a source of ``objective``, defaults filled in and
    ``"objective"`` added. ValueError (with the valid names) for an unknown adapter or an
    objective the adapter cannot produce; `OptionsError` (a ValueError) naming the option for
    an unknown option, a wrong type, choice or value (an adapter's build raises `OptionsError`
    for a value it refuses), with no option for options that do not work together."""
    spec = ADAPTERS.get(adapter)
    if spec is None:
        raise ValueError(f"unknown adapter {adapter!r}; valid adapters: {sorted(ADAPTERS)}")
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; valid objectives: {list(OBJECTIVES)}")
    if objective not in spec.objectives:
        valid = [o for o in OBJECTIVES if o in spec.objectives]
        raise ValueError(
            f"adapter {adapter!r} cannot produce {objective!r} records; it produces {valid}"
        )
    given: Any = {} if options is None else options
    if isinstance(given, Mapping) and "objective" in given:
        if given["objective"] != objective:
            raise OptionsError(
                "objective",
                f"adapter {adapter!r}: option objective {given['objective']!r} does not match "
                f"the source's objective {objective!r}",
            )
        if "objective" not in spec.options.model_fields:
            given = {k: v for k, v in given.items() if k != "objective"}
    if "objective" in spec.options.model_fields and "objective" not in given:
        raise OptionsError(
            "objective",
            f"adapter {adapter!r} needs option 'objective' (set it to {objective!r}, "
            "the source's objective)",
        )
    resolved = validate_options(spec.options, given, f"adapter {adapter!r}")
    resolved["objective"] = objective
    try:
        spec.build(resolved)
    except OptionsError as exc:  # one option's value: keyed to it
        raise OptionsError(exc.option, f"adapter {adapter!r}: {exc}") from None
    except ValueError as exc:  # options that do not work together
        raise OptionsError(None, f"adapter {adapter!r}: {exc}") from None
    return resolved


def build_adapter(
    adapter: str, options: Mapping[str, Any], default_toolset_id: str | None = None
) -> AdaptFn:
    """The per-record function of ``adapter``; ``options`` come from ``resolve_options``;
    ``default_toolset_id`` is the config's ``defaults.toolset_id`` (records declaring no
    tools inherit it: ``toolsets.attach_toolset``)."""
    spec = ADAPTERS.get(adapter)
    if spec is None:
        raise ValueError(f"unknown adapter {adapter!r}; valid adapters: {sorted(ADAPTERS)}")
    if default_toolset_id is not None:
        options = {**options, DEFAULT_TOOLSET: default_toolset_id}
    return spec.build(options)
