"""The fast path of manifest parsing: libyaml, for the common case of a valid manifest.

ruamel.yaml is pure Python here and costs about 2 ms per manifest, which dominates a review of
thousands of them; libyaml (through PyYAML, a pure parser too) reads one in about 0.15 ms. So
:func:`gitberth.core.manifests.parse_manifest` first reads a file here, and when that reading is
certainly the one ruamel would produce and it validates, that is the answer. Anything else (a
validation error, an ambiguous scalar, a tag, a duplicate key, a directive, no libyaml) takes the
ruamel path, which stays the only source of error messages and positions. A wrong fast reading
is ruled out by reading plain scalars with YAML 1.2 core rules (what ruamel uses) and giving up
on every scalar whose meaning differs between YAML 1.1 and 1.2 (yes/no/on/off, octal, 1:30,
dates, ...).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml as libyaml
from pydantic import ValidationError

from gitberth.core.models import AppManifest

_C_LOADER: Any = getattr(libyaml, "CSafeLoader", None)  # None: PyYAML built without libyaml
_RESOLVER: Any = libyaml.resolver.Resolver()  # types-PyYAML leaves resolve() untyped


@functools.lru_cache(maxsize=4096)
def _resolved_tag(kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
    return str(_RESOLVER.resolve(kind, value, implicit))


if _C_LOADER is not None:

    class _CachedLoader(_C_LOADER):  # type: ignore[misc]
        """libyaml's loader, with the implicit tag of each scalar resolved once per process.

        libyaml composes in C but asks the Python resolver for the tag of every scalar (a scan
        of regular expressions each time); keys and common values repeat across manifests, so
        the answers are cached. Path resolvers (the only reason to descend and ascend) are
        never registered, so those calls are skipped.
        """

        def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
            if kind is libyaml.ScalarNode:
                return _resolved_tag(kind, value, implicit)
            return str(_RESOLVER.resolve(kind, value, implicit))

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

    FAST_LOADER: Any = _CachedLoader
else:
    FAST_LOADER = None

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+")
_AMBIGUOUS = re.compile(
    r"[-+]?[0-9.]|<<$|=$|(?i:y|n|yes|no|on|off|true|false|null|[-+]?\.inf|\.nan)$"
)

_UNIT_QUANTITY = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+|[0-9]+[kKmMgG]i?[bB]?")
"""Durations and sizes: digits then a unit letter, which neither YAML version reads as a
number, so they need not take the slow path."""


class NotCertain(Exception):
    """libyaml's reading might differ from ruamel's: the precise path must decide."""


def fast_data(text: str) -> dict[str, Any]:
    """The manifest data exactly as ruamel would load it (after :func:`plain_data`), read with
    libyaml; raise :class:`NotCertain` whenever the two readings could differ."""
    if FAST_LOADER is None or text.startswith("%") or "\n%" in text:
        raise NotCertain  # no libyaml, or a %YAML directive that may switch to 1.1 rules
    try:
        node = libyaml.compose(text, Loader=FAST_LOADER)
    except (libyaml.YAMLError, UnicodeError) as exc:  # UnicodeError: a lone surrogate
        raise NotCertain from exc
    if node is None or node.tag != _MAP:
        raise NotCertain
    data: dict[str, Any] = _node_data(node)
    return data


_UNCERTAIN = object()


@functools.lru_cache(maxsize=8192)
def _plain_scalar(value: str, tag: str) -> Any:
    """What ruamel makes of the plain (unquoted) scalar *value* that libyaml tagged *tag*, or
    :data:`_UNCERTAIN`; cached, because keys and common values repeat across manifests."""
    if tag != _resolved_tag(libyaml.ScalarNode, value, (True, False)):
        return _UNCERTAIN  # an explicit tag such as !!str 8080
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    if _UNIT_QUANTITY.fullmatch(value):
        return value  # 2s, 1m30s, 256Mi: a string in YAML 1.1 and 1.2 alike
    if _AMBIGUOUS.match(value):
        return _UNCERTAIN
    return value


def _node_data(node: Any) -> Any:
    kind = node.id  # "mapping", "sequence" or "scalar": cheaper than isinstance
    if kind == "mapping":
        if node.tag != _MAP:
            raise NotCertain
        data: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _node_data(key_node)
            key = key if isinstance(key, str) else str(key)  # as plain_data does
            if key in data:
                raise NotCertain  # ruamel rejects duplicate keys, with their position
            data[key] = _node_data(value_node)
        return data
    if kind == "sequence":
        if node.tag != _SEQ:
            raise NotCertain
        return [_node_data(item) for item in node.value]
    value: str = node.value
    if node.style:  # quoted or block scalar (libyaml marks plain ones with "" or None)
        if node.tag != _STR:
            raise NotCertain
        return value
    scalar = _plain_scalar(value, node.tag)
    if scalar is _UNCERTAIN:
        raise NotCertain
    return scalar


@functools.lru_cache(maxsize=2048)
def fast_manifest(text: str) -> AppManifest | None:
    """The manifest when libyaml reads it certainly as ruamel would and it validates; else
    None, and the precise path decides (and explains).

    Cached by text (the manifest is frozen, so sharing it is safe): a review reads most files
    unchanged at both revisions, and the loop reads every unchanged file again each pass. An
    unchanged file also yields the very same object, which the review compares by identity.
    """
    try:
        return AppManifest.model_validate(fast_data(text))
    except (NotCertain, ValidationError, RecursionError):
        return None
