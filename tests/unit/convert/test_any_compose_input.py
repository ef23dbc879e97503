"""Whatever a compose file holds, converting it never crashes, and every key it does not map
gets a note: the property behind "never a traceback, never silently dropped"."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitberth.convert import reasons
from gitberth.convert.compose_file import ComposeFile
from gitberth.convert.mapping import convert_compose
from gitberth.convert.render import manifest_yaml
from tests.support.examples import examples

HANDLED = [
    "image", "build", "command", "entrypoint", "environment", "ports", "volumes", "networks",
    "network_mode", "secrets", "healthcheck", "restart", "deploy", "scale", "mem_limit", "cpus",
    "pids_limit", "labels", "user", "working_dir", "stop_signal", "stop_grace_period",
    "pull_policy", "privileged", "security_opt", "pid", "ipc", "uts", "userns_mode", "cgroup",
]  # fmt: skip
KEYS = st.sampled_from(sorted({*HANDLED, *reasons.NOT_CARRIED, *reasons.REFUSED})) | st.text(
    min_size=1, max_size=12
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(
        ["80", "8080:80", "host", "data:/data", "CMD", "${X}", "$$", "1g", "default", "./x:/x"]
    )
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
SERVICES = st.dictionaries(
    st.text(min_size=1, max_size=10), st.dictionaries(KEYS, VALUES, max_size=6), min_size=1,
    max_size=3,
)  # fmt: skip


@settings(
    max_examples=int(os.environ.get("GITBERTH_FUZZ_EXAMPLES", examples(150))),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(services=SERVICES, top=st.dictionaries(KEYS, VALUES, max_size=3))
def test_any_compose_data_converts_and_every_unmapped_key_is_noted(
    services: dict[str, dict[str, Any]], top: dict[str, Any]
) -> None:
    compose = ComposeFile(data={**top, "services": services}, file="compose.yaml")

    conversion = convert_compose(compose, app="fuzz", base_dir="/srv/fuzz")
    manifest_yaml(conversion, source="compose.yaml", schema="s.json")

    for name, body in services.items():
        noted = [n.key for n in conversion.notes if n.service == name]
        for key in body:
            if key not in HANDLED or key == "build":  # handled keys note only bad values
                assert any(k == key or k.startswith((f"{key}.", f"{key}[")) for k in noted), (
                    name,
                    key,
                )
