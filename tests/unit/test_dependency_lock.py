"""requirements/lock.txt (what make run, make test and CI install) keeps up with pyproject.toml.

pyproject.toml holds open ranges for users; the lock pins one version of every dependency, dev
tools included, with the hashes of its files. A dependency added or a range moved without
``make lock`` fails here, not in somebody's fresh clone.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
RUNTIME_LOCK = ROOT / "requirements" / "runtime-lock.txt"
"""The image's lock: the project's own dependencies, at the pins of :data:`LOCK`."""
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


def declared(*, dev: bool = True) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = [*project["dependencies"], *(project["optional-dependencies"]["dev"] if dev else [])]
    return [Requirement(text) for text in texts]


def pinned(lock: Path = LOCK) -> dict[str, tuple[Version, int]]:
    """Name -> (version, how many hashes follow the pin)."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match["name"])
            pins[current] = (Version(match["version"]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = pinned()
    problems = []
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{requirement.name} {pins[name][0]} is outside {requirement}")
    assert problems == [], "run `make lock`: " + "; ".join(problems)


def test_every_pin_carries_hashes() -> None:
    pins = pinned()
    assert len(pins) > 50
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


def test_the_image_lock_pins_the_runtime_dependencies_as_the_dev_lock_does() -> None:
    runtime, everything = pinned(RUNTIME_LOCK), pinned()
    assert {canonicalize_name(r.name) for r in declared(dev=False)} <= set(runtime)
    assert {name: pin for name, pin in runtime.items() if everything.get(name) != pin} == {}
