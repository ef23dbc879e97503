"""Default settings, in a module that imports nothing heavy.

The command line shows these as option defaults; keeping them here means building the CLI
does not import the docker SDK, FastAPI or git, so `gitberth plan` and `validate` start fast.
The modules that use them re-export them under their old names.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
"""Where ``serve`` listens and the CLI's server commands connect, unless told otherwise."""
DEFAULT_PORT = 8700
TOKEN_ENV = "GITBERTH_TOKEN"
"""The environment variable with an admin token for ``serve`` and the CLI's server commands."""
DEFAULT_BRANCH = "main"
DEFAULT_APPS_DIR = "apps"
DEFAULT_GRACE_SECONDS = 10
DEFAULT_SECRETS_ROOT = Path("/run/gitberth/secrets")
DEFAULT_ROLLOUT_TIMEOUT = 30.0
DEFAULT_INTERVAL = 30.0
DEFAULT_WORKERS = 4
DEFAULT_HISTORY_MAX_ENTRIES = 100
"""Deploy history entries kept per app (``serve --history-max``)."""
DEFAULT_HISTORY_MAX_AGE_DAYS = 90.0
"""Days deploy history is kept (``serve --history-days``)."""
DEFAULT_PUBLISH_ADDRESS = "127.0.0.1"
"""Where ports without an address are published (the same as
:data:`gitberth.core.option_fields.DEFAULT_PUBLISH_ADDRESS`)."""
