"""Reading manifest YAML with ruamel's round-trip loader, and pointing a pydantic error at
the line and column it is about.

ruamel.yaml keeps the line and column of every key and item, so a pydantic error location
(``services.0.port``) can be pointed at ``apps/shop.yaml:7:11``. That loader only builds plain
mappings, sequences and scalars (no arbitrary Python objects), and it rejects duplicate keys.
Kept apart from the loading flow because the cross-manifest checks point at fields too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gitberth.core.option_fields import REFUSED_FIELDS

if TYPE_CHECKING:
    from ruamel.yaml import YAML

# ruamel.yaml loads on first use: a manifest the libyaml fast path reads and validates (almost
# every one) never needs it, and a review's process is mostly start-up.

_FRIENDLY = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def yaml_loader() -> YAML:
    from ruamel.yaml import YAML

    loader = YAML(typ="rt", pure=True)
    loader.allow_duplicate_keys = False
    return loader


def plain_data(node: Any) -> Any:
    """Strip ruamel's comment-carrying types down to dict, list and scalars."""
    if isinstance(node, dict):  # CommentedMap and CommentedSeq are a dict and a list
        return {str(k) if not isinstance(k, str) else k: plain_data(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_data(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def position_of(
    root: Any, loc: tuple[int | str, ...], *, at_key: bool = False
) -> tuple[int | None, int | None]:
    """Find the 1-based line and column of the node at a pydantic error location.

    With *at_key* the last step points at the mapping key rather than its value (for unknown
    fields and invalid keys).
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node = root
    line: int | None = getattr(getattr(root, "lc", None), "line", None)
    column: int | None = getattr(getattr(root, "lc", None), "col", None)
    for index, part in enumerate(loc):
        if isinstance(node, CommentedMap) and part in node:
            key_pos = node.lc.key(part)
            value = node[part]
            if at_key and index == len(loc) - 1:
                line, column = key_pos
            elif isinstance(value, CommentedMap | CommentedSeq) and value:
                line, column = value.lc.line, value.lc.col
            else:
                line, column = node.lc.value(part) if value is not None else key_pos
            node = value
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, column = node.lc.item(part)
            node = node[part]
        elif isinstance(node, CommentedMap) and isinstance(part, str):
            # An unknown key: point at the key itself when it exists under another spelling.
            for key in node:
                if str(key) == part:
                    line, column = node.lc.key(key)
            break
        else:
            break
    return (line + 1 if line is not None else None, column + 1 if column is not None else None)


def field_path(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def problem_message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    loc = error.get("loc") or ()
    if kind == "extra_forbidden" and loc and str(loc[-1]) in REFUSED_FIELDS:
        return REFUSED_FIELDS[str(loc[-1])]
    if kind in _FRIENDLY:
        return _FRIENDLY[kind]
    message = str(error.get("msg", "invalid value"))
    if kind == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if "A-Za-z_" in pattern:
            return "must be a variable name: letters, digits and '_', not starting with a digit"
        if "a-z0-9" in pattern:
            return "must be a DNS label: lowercase letters, digits and '-', at most 63"
    return message.removeprefix("Value error, ")


def validation_loc(error: Mapping[str, Any]) -> tuple[int | str, ...]:
    """Drop pydantic's internal steps (function validators, union arms) from a location."""
    return tuple(
        part
        for part in error.get("loc", ())
        if not (isinstance(part, str) and ("[" in part or part.startswith("function-")))
    )
