"""Which Git sources one ``gitberth serve`` follows: ``--config gitberth.yaml`` or ``--source``.

Teams keep one repository per team or service, as Argo CD Applications and Flux GitRepositories
each name their own source. A serve follows any number of them; each source has a name (used in
status, metrics, history, and its webhook URL ``/hooks/git/<name>``), a URL or local path, a
branch, an apps directory, the gitberth secret holding its Git credentials and the environment
variable holding its webhook secret. The file looks like::

    sources:
      - name: team-a
        url: https://git.example.com/team-a/deploy.git
        branch: main
        appsDir: apps
        credentials: team-a-git          # a shared gitberth secret (USERNAME + PASSWORD, ...)
        webhookSecretEnv: TEAM_A_HOOK    # the variable holding the webhook secret
        default: true                    # POST /deploy of a new app commits here
      - name: team-b
        url: ssh://git@git.example.com/team-b/deploy.git
        credentials: team-b-deploy-key

No secret value is written in the file: credentials live in the encrypted store and webhook
secrets in the server's environment. A mistake is reported with the file, line and field.
``--source NAME=URL[#BRANCH][:DIR]`` says the same on the command line (without credentials
or per-source webhook secrets); the single ``--repo`` form is one source named ``default``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from gitberth.core.errors import ConfigError
from gitberth.defaults import DEFAULT_APPS_DIR, DEFAULT_BRANCH
from gitberth.source_id import source_id

DEFAULT_SOURCE_NAME = "default"
"""The name of the one source of ``serve --repo``."""
SOURCE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_CONFIG_BYTES = 256 * 1024
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SourceConfig(BaseModel):
    """One Git source of a serve."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    name: str = Field(pattern=SOURCE_NAME_PATTERN, max_length=63)
    url: str = Field(min_length=1, description="a local path or a git URL (https, ssh, git)")
    branch: str = Field(DEFAULT_BRANCH, min_length=1)
    apps_dir: str = Field(DEFAULT_APPS_DIR, min_length=1)
    credentials: str | None = Field(
        None, description="the shared gitberth secret with this remote's credentials"
    )
    webhook_secret_env: str | None = Field(
        None,
        pattern=ENV_NAME_PATTERN,
        description="the environment variable that holds this source's webhook secret",
    )
    default: bool = Field(False, description="POST /deploy of an app no source declares yet")

    @property
    def source_id(self) -> str:
        return source_id(self.url, branch=self.branch, apps_dir=self.apps_dir)


class ServeConfig(BaseModel):
    """The whole file: a list of sources with distinct names and distinct repositories."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> ServeConfig:
        names: set[str] = set()
        identities: dict[str, str] = {}
        for source in self.sources:
            if source.name in names:
                raise ValueError(f"two sources are named {source.name}")
            names.add(source.name)
            other = identities.setdefault(source.source_id, source.name)
            if other != source.name:
                raise ValueError(
                    f"sources {other} and {source.name} follow the same repository, branch and "
                    "apps directory: they would own the same containers"
                )
        defaults = [s.name for s in self.sources if s.default]
        if len(defaults) > 1:
            raise ValueError(f"only one source may be the default, not {', '.join(defaults)}")
        return self

    def default_source(self) -> SourceConfig | None:
        """Where ``POST /deploy`` commits an app no source declares: the one marked default,
        or the only source."""
        marked = [s for s in self.sources if s.default]
        if marked:
            return marked[0]
        return self.sources[0] if len(self.sources) == 1 else None


def load_config(path: Path) -> ServeConfig:
    """Read and validate ``gitberth.yaml``; a problem names the file, line and field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the config {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB")
    loader = YAML(typ="rt", pure=True)
    loader.allow_duplicate_keys = False
    try:
        document = loader.load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{where}: {problem}") from exc
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}:1: expected a mapping with a 'sources' list")
    try:
        return ServeConfig.model_validate(_plain(document))
    except ValidationError as exc:
        raise ConfigError(
            "\n".join(_problem(path, document, error) for error in exc.errors())
        ) from exc


def parse_source_option(text: str) -> SourceConfig:
    """``NAME=URL[#BRANCH][:DIR]``: the branch and apps directory follow the last ``#``, so a
    URL's own ``:`` (``https://``, ``git@host:org/repo``) never reads as a directory; an apps
    directory with the default branch is ``URL#:DIR``."""
    name, separator, rest = text.partition("=")
    if not separator or not name or not rest:
        raise ConfigError(f"--source {text!r}: expected NAME=URL[#BRANCH][:DIR]")
    url, hash_mark, suffix = rest.rpartition("#")
    if not hash_mark:
        url, suffix = rest, ""
    branch, _, apps_dir = suffix.partition(":")
    fields: dict[str, Any] = {"name": name, "url": url}
    if branch:
        fields["branch"] = branch
    if apps_dir:
        fields["apps_dir"] = apps_dir
    try:
        return SourceConfig.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"--source {name}: {where}: {_friendly(first)}") from exc


def webhook_secret(source: SourceConfig, *, environ: Mapping[str, str] | None = None) -> str | None:
    """The source's webhook secret, read from the variable it names (never from the file)."""
    if source.webhook_secret_env is None:
        return None
    value = (environ if environ is not None else os.environ).get(source.webhook_secret_env)
    if not value:
        raise ConfigError(
            f"source {source.name}: webhookSecretEnv names {source.webhook_secret_env}, "
            "which is not set in the server's environment"
        )
    return value


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _problem(path: Path, document: Any, error: Mapping[str, Any]) -> str:
    loc = tuple(error.get("loc") or ())
    line = _line(document, loc)
    where = f"{path}:{line}" if line is not None else str(path)
    field = ".".join(str(part) for part in loc)
    return f"{where}: {field or 'sources'}: {_friendly(error)}"


def _friendly(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if pattern == SOURCE_NAME_PATTERN:
            return "must be a DNS label: lowercase letters, digits and '-', at most 63"
        return "must be a variable name: letters, digits and '_', not starting with a digit"
    return re.sub(r"^Value error, ", "", str(error.get("msg", "invalid value")))


def _line(document: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the node at a pydantic location (the key, for an unknown field)."""
    node = document
    line: int | None = None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0]
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0]
            node = node[part]
        else:
            break
    if line is None and isinstance(document, CommentedMap):
        line = document.lc.line
    return line + 1 if line is not None else None
