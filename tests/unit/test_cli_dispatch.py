"""``gitberth VERB`` imports only the module that registers VERB (start-up time of a CI job's
``gitberth plan``), so the verb-to-module table must name the module that really registers it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import typer

from gitberth.cli import COMMAND_MODULES, app

REGISTERED_BY_ONE_MODULE = """
import json, sys, typer
import gitberth.cli as cli
app = cli._load(sys.argv[1])
print(json.dumps(sorted(typer.main.get_group(app).commands)))
"""


def test_the_table_names_every_verb_of_the_app() -> None:
    assert sorted(COMMAND_MODULES) == sorted(typer.main.get_group(app).commands)


def test_loading_a_verbs_module_alone_registers_that_verb() -> None:
    for module in sorted(set(COMMAND_MODULES.values())):
        done = subprocess.run(
            [sys.executable, "-c", REGISTERED_BY_ONE_MODULE, module],
            capture_output=True,
            text=True,
            check=True,
        )
        registered = set(json.loads(done.stdout))
        expected = {verb for verb, owner in COMMAND_MODULES.items() if owner == module}
        assert expected <= registered, (module, expected - registered)


def test_a_module_with_one_verb_still_parses_the_verb_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitberth", "status", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: gitberth status" in done.stdout
