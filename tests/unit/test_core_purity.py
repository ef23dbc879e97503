"""gitberth.core does no I/O: it imports no engine, git, web, crypto or database library."""

from __future__ import annotations

import ast
from pathlib import Path

import gitberth
import gitberth.core

FORBIDDEN = {
    "docker", "git", "gitdb", "fastapi", "starlette", "uvicorn", "cryptography", "sqlite3",
    "requests", "httpx", "socket", "subprocess", "os", "pathlib", "shutil", "time", "watchfiles",
    "gitberth.runtime", "gitberth.secrets", "gitberth.api", "gitberth.source",
    "gitberth.reconciler", "gitberth.cli",
}  # fmt: skip

CORE = Path(gitberth.core.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_modules_exist() -> None:
    assert {p.stem for p in CORE.glob("*.py")} >= {
        "models", "manifests", "resolve", "plan", "fingerprint", "errors",
    }  # fmt: skip


def test_core_imports_no_io_library() -> None:
    offenders = {}
    for path in sorted(CORE.glob("*.py")):
        bad = {
            name
            for name in imported_modules(path)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}
