"""Strict YAML for the pipeline config: only values JSON can hold, each key once.

The document is composed into nodes (no Python object built yet) and every node is checked
with its dotted key: strings, 64-bit integers, finite floats, true/false, null, lists and
mappings with string keys. Anything else a YAML tag can make (binary, set, omap, pairs,
timestamps, NaN/Infinity, python/* or custom tags), a key repeated in one mapping, and a
plain scalar that YAML 1.1 silently turns into something else (`no` -> false, `1:30` -> 90,
`0755` -> 493) is a `(key, message)` problem. Merge keys (`<<`) and aliases are allowed; an
alias loop, or aliases that add more than `MAX_EXPANDED_NODES` values once expanded, are
refused (billion laughs).
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# A config holds settings, not data: YAML costs about 10 µs a value in Python (resolving,
# checking, constructing), so 2 MiB of the densest YAML is read in a few seconds.
MAX_CONFIG_BYTES: Final = 2 << 20
MAX_EXPANDED_NODES: Final = 100_000
MAX_DEPTH: Final = 100

_T = "tag:yaml.org,2002:"
_INT_MIN: Final = -(1 << 63)
_INT_MAX: Final = (1 << 64) - 1  # orjson writes unsigned 64-bit integers too
_BOOL_WORDS = re.compile(r"^(true|false)$", re.IGNORECASE)
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")


class YamlProblem(Exception):
    """A value of the config that JSON cannot hold: dotted `key` and `message`."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key or '<root>'}: {message}")


def load_strict(text: str) -> Any:
    """The document as plain JSON values; `YamlProblem` for a value JSON cannot hold,
    `yaml.YAMLError` for text that is not YAML."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlProblem("", "nested too deeply") from None
        if node is None:
            return None
        _Checker(loader).check(node, "", 0)
        return loader.construct_document(node)
    finally:
        loader.dispose()


# libyaml composes the document when PyYAML has it (its wheels do): a large config is
# composed about 20x faster than by the pure-Python loader.
_Loader: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class _Checker:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.sizes: dict[int, int] = {}  # expanded size of each node already checked
        self.open: set[int] = set()  # nodes being checked (an alias to one is a loop)
        self.distinct = 0  # nodes checked, each once: the values written out

    def check(self, node: Node, key: str, depth: int) -> int:
        """Check `node` (at dotted `key`); return its size with every alias expanded."""
        done = self.sizes.get(id(node))
        if done is not None:
            return done
        if id(node) in self.open:
            raise YamlProblem(key, "an alias refers to the node that contains it (a loop)")
        if depth > MAX_DEPTH:
            raise YamlProblem(key, f"nested deeper than {MAX_DEPTH} levels")
        self.open.add(id(node))
        self.distinct += 1
        if isinstance(node, ScalarNode):
            _check_scalar(self.loader, node, key)
            size = 1
        elif isinstance(node, SequenceNode):
            size = self._sequence(node, key, depth)
        elif isinstance(node, MappingNode):
            size = self._mapping(node, key, depth)
        else:  # pragma: no cover - the composer makes only these three
            raise YamlProblem(key, f"unexpected YAML node {type(node).__name__}")
        self.open.discard(id(node))
        # What aliases add: the expanded size beyond the values written out (a lower bound
        # below the root, exact at the root); only that can grow past the file's size.
        if size - self.distinct > MAX_EXPANDED_NODES:
            raise YamlProblem(
                key,
                f"aliases add more than {MAX_EXPANDED_NODES} values once expanded (a YAML "
                "bomb?); use fewer nested aliases",
            )
        self.sizes[id(node)] = size
        return size

    def _sequence(self, node: SequenceNode, key: str, depth: int) -> int:
        if node.tag != _T + "seq":
            raise YamlProblem(key, _tag_message(node.tag))
        return 1 + sum(
            self.check(item, f"{key}[{i}]", depth + 1) for i, item in enumerate(node.value)
        )

    def _mapping(self, node: MappingNode, key: str, depth: int) -> int:
        if node.tag != _T + "map":
            raise YamlProblem(key, _tag_message(node.tag))
        size = 1
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _T + "merge":
                size += self._merge(value_node, key, depth)
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (
                _T + "str",
                _T + "value",  # `=`, which the constructor reads as the string "="
            ):
                shown = key_node.value if isinstance(key_node, ScalarNode) else None
                raise YamlProblem(
                    _join(key, shown) if isinstance(shown, str) else key,
                    f"mapping keys must be strings, got {_describe(key_node)}"
                    + (f"; quote it ('{shown}')" if isinstance(shown, str) else ""),
                )
            name = key_node.value
            sub = _join(key, name)
            if name in seen:
                raise YamlProblem(sub, "duplicate key (YAML would keep only the last one)")
            seen.add(name)
            size += self.check(value_node, sub, depth + 1)
        return size

    def _merge(self, value: Node, key: str, depth: int) -> int:
        """`<<: *a` or `<<: [*a, *b]`: each merged node must be a mapping."""
        merged = value.value if isinstance(value, SequenceNode) else [value]
        size = 0
        for item in merged:
            if not isinstance(item, MappingNode):
                raise YamlProblem(_join(key, "<<"), "a merge key takes a mapping or a list of them")
            size += self.check(item, key, depth + 1)
        return size


def _check_scalar(loader: Any, node: ScalarNode, key: str) -> None:
    tag, text, plain = node.tag, node.value, not node.style  # None, or "" from libyaml
    if tag == _T + "str" or tag == _T + "null":
        return
    if tag == _T + "bool":
        if plain and not _BOOL_WORDS.match(text):
            raise YamlProblem(
                key,
                f"YAML 1.1 reads {text!r} as a boolean; write true or false, "
                f"or quote it for the string ('{text}')",
            )
        return
    if tag == _T + "int":
        if plain and (":" in text or _LEADING_ZERO.match(text)):
            kind = "a base-60 number" if ":" in text else "an octal number"
            raise YamlProblem(key, f"YAML 1.1 reads {text!r} as {kind}; quote it ('{text}')")
        try:
            value = loader.construct_yaml_int(node)
        except ValueError as exc:
            raise YamlProblem(key, f"not an integer: {text!r}") from exc
        if not _INT_MIN <= value <= _INT_MAX:
            raise YamlProblem(
                key, f"integer {text} does not fit in 64 bits (JSON readers lose it); quote it"
            )
        return
    if tag == _T + "float":
        if plain and ":" in text:
            raise YamlProblem(key, f"YAML 1.1 reads {text!r} as a base-60 number; quote it")
        try:
            value = loader.construct_yaml_float(node)
        except ValueError as exc:
            raise YamlProblem(key, f"not a number: {text!r}") from exc
        if math.isnan(value):
            raise YamlProblem(key, f"{text} is NaN, which JSON cannot hold")
        if math.isinf(value):
            raise YamlProblem(key, f"{text} is Infinity, which JSON cannot hold")
        return
    if tag == _T + "timestamp":
        raise YamlProblem(
            key,
            f"YAML reads {text!r} as a date/time, which JSON cannot hold; quote it ('{text}')",
        )
    raise YamlProblem(key, _tag_message(tag))


def _tag_message(tag: str) -> str:
    short = tag.removeprefix(_T)
    if short in ("binary", "set", "omap", "pairs"):
        return (
            f"!!{short} makes a value JSON cannot hold (a {short}); use a string, list or mapping"
        )
    shown = f"!!{short}" if tag.startswith(_T) else tag
    return f"the YAML tag {shown} is not allowed (only plain JSON values)"


def _describe(node: Node) -> str:
    if isinstance(node, ScalarNode):
        kind = node.tag.removeprefix(_T)
        return f"{kind} {node.value!r}"
    return "a list" if isinstance(node, SequenceNode) else "a mapping"
