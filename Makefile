# Two entry points for a fresh Debian machine (as root): `make run` and `make test`.
SHELL := /bin/bash
export GITBERTH_DOCKERD_DIR ?= /var/lib/gitberth-dockerd
export DOCKER_HOST ?= unix://$(GITBERTH_DOCKERD_DIR)/docker.sock
VENV := .venv
PY := $(VENV)/bin/python
EXAMPLE_IMAGE := gitberth/example-web:1.0
EXAMPLE_REPO ?= /tmp/gitberth-example-repo
GITBERTH_IMAGE ?= gitberth:dev

.PHONY: run test unit bootstrap dockerd swarm-engine secrets-tmpfs images image example-repo lint typecheck pytest bench clean lock

run: bootstrap dockerd secrets-tmpfs images example-repo
	@scripts/run.sh $(EXAMPLE_REPO)

test: bootstrap dockerd swarm-engine secrets-tmpfs images image lint typecheck pytest

bootstrap:
	@scripts/bootstrap.sh

dockerd: bootstrap
	@scripts/dockerd.sh

# A second engine, a single-node swarm, for the Swarm runtime's tests (beside the main engine,
# which runs the Docker runtime's); GITBERTH_SWARM_* variables move it (see the script).
swarm-engine: bootstrap
	@scripts/swarm-engine.sh >/dev/null

secrets-tmpfs:
	@scripts/secrets-tmpfs.sh

images: dockerd
	@scripts/build-images.sh $(EXAMPLE_IMAGE)

# gitberth's own image from the top-level Dockerfile, on a local Debian base (no registry);
# cached by the hash of its inputs, and tagged gitberth:test for tests/integration/test_gitberth_image.py.
image: dockerd
	@scripts/build-gitberth-image.sh $(GITBERTH_IMAGE) >/dev/null
	@scripts/build-gitberth-image.sh gitberth:test

example-repo: bootstrap
	@scripts/example-repo.sh $(EXAMPLE_REPO)

# ruff, then the layer contracts of [tool.importlinter] in pyproject.toml (ARCHITECTURE.md).
lint: bootstrap
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports

typecheck: bootstrap
	$(VENV)/bin/mypy

pytest: bootstrap
	$(VENV)/bin/pytest

# The tests that need no engine, no server and no browser (tests/unit, where each test runs with
# DOCKER_HOST pointing nowhere), on UNIT_WORKERS processes: the quick loop while editing.
# Property tests draw a third of their examples here (tests/support/examples.py), and the
# schemathesis and anyio plugins, which no unit test uses, are not loaded by each worker.
# `make test` runs them too, once, with everything else, at full counts.
UNIT_WORKERS ?= 2
unit: bootstrap
	$(VENV)/bin/pytest -q -n $(UNIT_WORKERS) -p no:schemathesis -p no:anyio \
		--hypothesis-profile=quick tests/unit

# Every scenario beside its baseline, recorded in bench/results/ and reported in
# docs/benchmarks.md and README.md. QUICK=1: a smoke run (fewer rounds, smaller scales),
# recorded apart (<date>-<host>-quick.json) and reported on the terminal only.
# The 1,000-app scenario needs an engine address pool of 1,000+ networks: see README.
bench: bootstrap dockerd secrets-tmpfs images
	$(PY) bench/run.py $(if $(QUICK),--quick)

# Refresh requirements/lock.txt, which make run, make test and CI install from: every dependency
# of pyproject.toml's ranges (dev tools included) at its newest version today, pinned with the
# hashes of its files; and requirements/runtime-lock.txt, the same pins without the dev tools,
# which gitberth's image installs. Run it after changing a dependency, or to take updates;
# commit the result.
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --quiet \
	--custom-compile-command "make lock"
lock: bootstrap
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --upgrade $(LOCK_FLAGS) \
		--output-file requirements/lock.txt
	$(VENV)/bin/uv pip compile pyproject.toml --constraint requirements/lock.txt $(LOCK_FLAGS) \
		--output-file requirements/runtime-lock.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
