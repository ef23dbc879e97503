"""``gitberth VERB`` imports only the module that registers VERB (start-up time of a CI job's
``gitberth plan``), so the verb-to-module table must name the module that really registers it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import typer

from gitberth.cli import COMMAND_MODULES, app
from tests.support.gitrepo import GitRepo, app_yaml

REGISTERED_BY_EACH_MODULE_ALONE = """
import json, os, sys
import typer
import gitberth.cli as cli
# Only gitberth.cli registers verbs: libraries, and gitberth.core (which imports nothing of
# gitberth outside core, a layer contract), are imported once, before the forks.
import git, httpx, pydantic, rich.console, ruamel.yaml
import gitberth.core.manifests, gitberth.core.models
assert not [name for name in sys.modules if name.startswith("gitberth.cli.")], "preloaded a verb"
for module in sys.argv[1:]:
    child = os.fork()
    if child == 0:  # a fresh copy of this process: only this module's verbs get registered
        app = cli._load(module)
        print(json.dumps([module, sorted(typer.main.get_group(app).commands)]), flush=True)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    if status != 0:
        sys.exit(f"loading {module} alone failed")
"""


def test_the_table_names_every_verb_of_the_app() -> None:
    assert sorted(COMMAND_MODULES) == sorted(typer.main.get_group(app).commands)


def test_loading_a_verbs_module_alone_registers_that_verb() -> None:
    modules = sorted(set(COMMAND_MODULES.values()))
    done = subprocess.run(
        [sys.executable, "-c", REGISTERED_BY_EACH_MODULE_ALONE, *modules],
        capture_output=True,
        text=True,
        check=True,
    )
    registered_by = dict(json.loads(line) for line in done.stdout.splitlines())

    assert sorted(registered_by) == modules
    for module in modules:
        expected = {verb for verb, owner in COMMAND_MODULES.items() if owner == module}
        assert expected <= set(registered_by[module]), (
            module,
            expected - set(registered_by[module]),
        )


def test_a_module_with_one_verb_still_parses_the_verb_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitberth", "status", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: gitberth status" in done.stdout


REVIEW_IMPORTS = """
import atexit, json, os, sys
def imported():
    print(json.dumps(sorted(sys.modules)), flush=True)
atexit.register(imported)
real_exit = os._exit  # main() ends a review with os._exit, which skips atexit
os._exit = lambda code: (imported(), real_exit(code))
sys.argv = ["gitberth", *sys.argv[1:]]
from gitberth.cli import main
main()
"""

NOT_FOR_AN_OFFLINE_REVIEW = (
    # The engine, the server, the crypto and the HTTP client: never part of a review.
    "docker",
    "fastapi",
    "uvicorn",
    "starlette",
    "httpx",
    "cryptography",
    "sqlite3",
    # GitPython (the review reads Git with its plumbing), ruamel (only an invalid manifest
    # needs its positions), Rich (JSON with nothing wrong prints nothing through it), and the
    # server's status models (only --server reads them).
    "git",
    "gitdb",
    "ruamel",
    "rich",
    "gitberth.core.sync_status",
    "gitberth.cli.review_server",
)


def test_an_offline_json_review_imports_only_what_it_needs(git_repo: GitRepo) -> None:
    """A CI job's ``gitberth plan --base --head`` is mostly start-up: each library it does not
    need is imported by no step of it."""
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"apps/web.yaml": app_yaml("web", port=9090)})
    done = subprocess.run(
        [sys.executable, "-c", REVIEW_IMPORTS, "plan", "--repo", str(git_repo.path)]
        + ["--base", "main", "--head", "feature", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    *report, modules = done.stdout.rstrip("\n").split("\n")
    assert json.loads("\n".join(report))["summary"]["appsChanged"] == 1
    imported = [
        name
        for name in json.loads(modules)
        for unwanted in NOT_FOR_AN_OFFLINE_REVIEW
        if name == unwanted or name.startswith(unwanted + ".")
    ]
    assert imported == []
