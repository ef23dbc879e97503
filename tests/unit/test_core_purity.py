"""gitberth.core does no I/O: it imports only pure standard modules, pydantic and the YAML
parsers, and nothing of gitberth outside itself.

An allowlist, so a new import into the core is a decision someone makes here, not a slip. The
layer contracts of ``[tool.importlinter]`` (pyproject.toml, run by ``make lint``) check the same
boundary from the other side; :func:`test_layer_contracts_hold` runs them here too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import gitberth.core

ALLOWED = {
    # pure standard modules (values, text, hashing; no clock is read, no file is opened)
    "__future__", "collections", "dataclasses", "datetime", "decimal", "enum", "functools",
    "hashlib", "io", "ipaddress", "json", "posixpath", "re", "shlex", "typing",
    # pure third-party libraries: models and the YAML parsers of manifests
    "pydantic", "ruamel", "yaml",
    # itself
    "gitberth.core",
}  # fmt: skip

CORE = Path(gitberth.core.__file__).parent
REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside gitberth.core only if it does not climb out
                names.add("gitberth.core" if node.level == 1 else "gitberth")
            elif node.module:
                names.add(node.module)
    return names


def is_allowed(name: str, *, allowed: set[str] = ALLOWED) -> bool:
    return any(name == module or name.startswith(module + ".") for module in allowed)


def test_core_modules_exist() -> None:
    assert {p.stem for p in CORE.glob("*.py")} >= {
        "models", "manifests", "resolve", "plan", "fingerprint", "errors",
    }  # fmt: skip


def test_core_imports_only_allowed_modules() -> None:
    offenders = {}
    for path in sorted(CORE.glob("*.py")):
        bad = sorted(name for name in imported_modules(path) if not is_allowed(name))
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


@pytest.mark.parametrize(
    "name", ["gitberth.loop", "gitberth.render", "gitberth.state", "os", "sqlite3", "docker"]
)
def test_the_allowlist_refuses_what_the_old_denylist_missed(name: str) -> None:
    assert not is_allowed(name)


def test_allowed_standard_modules_are_standard() -> None:
    stdlib = {name for name in ALLOWED if "." not in name and name not in {"pydantic", "ruamel"}}
    assert stdlib - {"yaml"} <= set(sys.stdlib_module_names) | {"__future__"}


def test_layer_contracts_hold() -> None:
    """The import-linter contracts of pyproject.toml: core, adapters, API and CLI."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
