"""Write a :class:`Conversion` as manifest YAML, and its notes as text or JSON.

The manifest starts with the ``yaml-language-server`` line (editors validate it against the
schema), then a header saying where it came from; strings that some YAML reader could take for
another type (``no``, ``1:30``, ``0755``) are quoted, so every reader sees what the converter
meant.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import yaml as libyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter

from gitberth.convert.mapping import Conversion
from gitberth.core.errors import ManifestProblem

_STR = "tag:yaml.org,2002:str"
_YAML11 = libyaml.resolver.Resolver()
_LIBYAML_LOADER: Any = getattr(libyaml, "CSafeLoader", libyaml.SafeLoader)
"""The loader gitberth's manifest fast path reads with (libyaml's C loader, as in
core/manifests.py), so the read-back check below tests that reader, not PyYAML's slower
pure-Python twin."""


def _ambiguous(text: str) -> bool:
    """True when a YAML 1.1 reader (PyYAML, libyaml) would not read *text* as a string."""
    tag = _YAML11.resolve(libyaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return str(tag) != _STR


class _Representer(RoundTripRepresenter):
    def represent_str(self, data: str) -> Any:
        if _ambiguous(data):
            return self.represent_scalar(_STR, data, style='"')
        return super().represent_str(data)


class _QuotingRepresenter(RoundTripRepresenter):
    def represent_str(self, data: str) -> Any:
        return self.represent_scalar(_STR, data, style='"')


_Representer.add_representer(str, _Representer.represent_str)
_QuotingRepresenter.add_representer(str, _QuotingRepresenter.represent_str)


def _dump(data: Any, *, quote_all: bool) -> str:
    dumper = YAML(typ="rt", pure=True)
    dumper.Representer = _QuotingRepresenter if quote_all else _Representer
    dumper.indent(mapping=2, sequence=4, offset=2)
    dumper.width = 100
    out = io.StringIO()
    dumper.dump(data, out)
    return out.getvalue()


def _reads_back(text: str, expected: Any) -> bool:
    """True when both YAML readers gitberth uses, and PyYAML's pure-Python reader that other
    tools load manifests with, read *text* as exactly *expected*.

    The pure-Python reader is stricter than libyaml in places (it refuses ``[0?]``, a ``?``
    inside a plain scalar of a flow sequence, which libyaml reads as the string ``0?``).
    """
    try:
        precise = YAML(typ="safe", pure=True).load(io.StringIO(text))
        fast = libyaml.load(text, Loader=_LIBYAML_LOADER)  # noqa: S506 (a safe loader)
        portable = libyaml.safe_load(text)
    except (YAMLError, libyaml.YAMLError):
        return False
    return bool(precise == expected and fast == expected and portable == expected)


def _manifest_body(manifest: dict[str, Any]) -> str:
    """Readable YAML (plain scalars where safe); every string double-quoted when an odd value
    (a control character, a line separator) would read back differently in either reader."""
    text = _dump(_styled(manifest, key=_ROOT), quote_all=False)
    if _reads_back(text, manifest):
        return text
    return _dump(_styled(manifest, key=_ROOT), quote_all=True)


_ROOT = ""
_BLOCK_MAPS = frozenset({_ROOT, "services[]", "env", "labels"})
"""Maps written one key per line however short: the manifest, its services, env, labels."""


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _styled(value: Any, *, key: str) -> Any:
    """Short lists and maps of scalars in flow style (``command: [sh, -c, ...]``,
    ``- {name: data, path: /data}``), everything else in block style."""
    if isinstance(value, list):
        items = [_styled(item, key=f"{key}[]") for item in value]
        seq = CommentedSeq(items)
        if all(_scalar(item) for item in value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        mapping = CommentedMap((k, _styled(v, key=k)) for k, v in value.items())
        if key not in _BLOCK_MAPS and all(_scalar(v) for v in value.values()):
            mapping.fa.set_flow_style()
        return mapping
    return value


def manifest_yaml(conversion: Conversion, *, source: str, schema: str) -> str:
    """The manifest file: schema line, header, then the manifest in block style."""
    out = io.StringIO()
    out.write(f"# yaml-language-server: $schema={schema}\n")
    out.write(f"# converted from {source} by gitberth convert\n")
    not_carried = [note for note in conversion.notes if note.kind in ("refused", "not carried")]
    if not_carried:
        out.write("# not carried over (see the report of gitberth convert):\n")
        for note in not_carried:
            who = f"{note.service}: " if note.service else ""
            out.write(f"#   {who}{note.key}\n")
    out.write(_manifest_body(dict(conversion.manifest)))
    return out.getvalue()


def report_text(
    conversion: Conversion,
    *,
    source: str,
    written: str | None,
    problems: Sequence[ManifestProblem],
) -> str:
    """What the user reads after a conversion: where it went, then every note by service."""
    lines = []
    services = len(conversion.manifest.get("services", ()))
    target = f"wrote {written}" if written else "printed the manifest"
    lines.append(f"{source}: {target}: app {conversion.app}, {services} service(s)")
    for title, kinds in (
        ("not carried over", ("refused", "not carried")),
        ("carried over differently", ("changed",)),
        ("to do before deploying", ("to do",)),
    ):
        chosen = [note for note in conversion.notes if note.kind in kinds]
        if chosen:
            lines.append(f"{title}:")
            lines.extend(f"  {note.describe()}" for note in chosen)
    if problems:
        lines.append("the manifest does not validate yet (fix these by hand):")
        lines.extend(f"  {problem}" for problem in problems)
    return "\n".join(lines) + "\n"


def report_json(
    conversion: Conversion,
    *,
    source: str,
    written: str | None,
    problems: Sequence[ManifestProblem],
    manifest_text: str,
) -> str:
    """The same report for scripts: the manifest (as data and as the text written), every
    note, every problem."""
    document = {
        "source": source,
        "app": conversion.app,
        "written": written,
        "manifest": conversion.manifest,
        "yaml": manifest_text,
        "notes": [
            {
                "service": note.service,
                "key": note.key,
                "kind": note.kind.name.lower(),
                "reason": note.reason,
                "line": note.line,
            }
            for note in conversion.notes
        ],
        "valid": not problems,
        "problems": [str(problem) for problem in problems],
    }
    return json.dumps(document, indent=2) + "\n"
