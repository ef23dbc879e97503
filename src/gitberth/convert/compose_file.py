"""Read a docker compose file into plain data, safely, keeping the line of each service key.

Compose files lean on YAML anchors: an ``x-common: &common`` block merged into services with
``<<: *common``. ruamel.yaml's round-trip loader resolves anchors, aliases and merge keys (the
explicit keys of a service win over merged ones, as in compose) and rejects duplicate keys. An
alias is a reference, so a few lines can stand for billions of values once expanded ("billion
laughs"); the expansion here counts every value it produces and stops at
:data:`MAX_EXPANDED_VALUES`, and the text itself is capped at :data:`MAX_COMPOSE_BYTES`. No tag
builds a Python object: the round-trip loader only makes mappings, sequences and scalars.

Flow collections (``[[[...]]]``) nest no deeper than :data:`MAX_FLOW_NESTING`: ruamel's scanner
rechecks every open bracket at each token, so deep nesting costs time quadratic in the depth
(5,000 brackets took seconds before the parser gave up with a RecursionError). Counting the
depth as brackets open refuses such text at the first bracket too many, naming its line.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scanner import RoundTripScanner, ScannerError

from gitberth.core.errors import ComposeError

MAX_COMPOSE_BYTES = 1024 * 1024
MAX_EXPANDED_VALUES = 100_000
MAX_FLOW_NESTING = 64


class _DepthCappedScanner(RoundTripScanner):
    """ruamel's round-trip scanner, refusing a flow collection opened deeper than the cap."""

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:  # noqa: N803
        if len(self.flow_context) >= MAX_FLOW_NESTING:
            raise ScannerError(
                problem=f"nested too deeply (more than {MAX_FLOW_NESTING} levels of [ or {{)",
                problem_mark=self.reader.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass, to_push)


@dataclass(frozen=True)
class ComposeFile:
    """A compose file as plain dicts, lists and scalars, with anchors and merges expanded.

    ``key_lines`` gives the 1-based line of each key of each service (a merged key has the line
    of its service), so a note can point at the compose text.
    """

    data: Mapping[str, Any]
    file: str
    key_lines: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    service_lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, service: str, key: str | None = None) -> int | None:
        if key is not None and key in self.key_lines.get(service, {}):
            return self.key_lines[service][key]
        return self.service_lines.get(service)


class _Expansion:
    """Turn ruamel's nodes into plain values, counting them against the cap."""

    def __init__(self, *, file: str) -> None:
        self.file = file
        self.values = 0

    def plain(self, node: Any) -> Any:
        self.values += 1
        if self.values > MAX_EXPANDED_VALUES:
            raise ComposeError(
                f"{self.file}: anchors and aliases expand to more than {MAX_EXPANDED_VALUES} "
                "values; refusing to expand further"
            )
        if isinstance(node, CommentedMap | dict):
            return {self._key(k): self.plain(v) for k, v in node.items()}
        if isinstance(node, CommentedSeq | list):
            return [self.plain(v) for v in node]
        if isinstance(node, AbstractSet):  # a !!set: its members, in order
            return [self.plain(v) for v in node]
        if isinstance(node, bool):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, str):
            return str(node)
        if node is None:
            return None
        return str(node)  # dates and other scalars compose reads as text

    def _key(self, key: Any) -> str:
        if isinstance(key, bool):
            return "true" if key else "false"
        return str(key)


def load_compose(text: str, *, file: str) -> ComposeFile:
    """Parse compose text; raise :class:`ComposeError` naming the file and line when it is not
    a compose file gitberth can read."""
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_COMPOSE_BYTES:
        raise ComposeError(f"{file}: larger than {MAX_COMPOSE_BYTES // 1024} KiB")
    loader = YAML(typ="rt", pure=True)
    loader.Scanner = _DepthCappedScanner
    loader.allow_duplicate_keys = False
    try:
        root = loader.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        if "duplicate key" in reason:
            reason = (
                "duplicate key "
                + reason.split("duplicate key", 1)[1].split(" with value")[0].strip()
            )
        raise ComposeError(f"{where}: {reason}") from None
    except (YAMLError, RecursionError) as exc:
        raise ComposeError(f"{file}: invalid YAML: {type(exc).__name__}") from None
    if not isinstance(root, CommentedMap):
        raise ComposeError(f"{file}: a compose file must be a mapping with `services:`")
    try:
        data = _Expansion(file=file).plain(root)
    except RecursionError:
        raise ComposeError(f"{file}: nested too deeply") from None
    services = root.get("services")
    if not isinstance(services, CommentedMap) or not services:
        raise ComposeError(f"{file}: no `services:` mapping with at least one service")
    key_lines: dict[str, dict[str, int]] = {}
    service_lines: dict[str, int] = {}
    for name, body in services.items():
        service_lines[str(name)] = services.lc.key(name)[0] + 1
        if isinstance(body, CommentedMap):
            key_lines[str(name)] = {
                str(key): body.lc.key(key)[0] + 1 for key in body if key in body.lc.data
            }
        elif body is not None:
            raise ComposeError(f"{file}:{service_lines[str(name)]}: service {name}: not a mapping")
    return ComposeFile(data=data, file=file, key_lines=key_lines, service_lines=service_lines)
