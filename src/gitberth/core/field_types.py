"""The validated scalar types every manifest field is built from: names, ports, replica counts
and env values, plus the strict base model.

They live apart from the manifest classes because the secret store, the API and the wiring rules
check the same names (:func:`is_dns_label`, :func:`is_env_name`) without needing a manifest.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)

DnsLabel = Annotated[
    str,
    Field(
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="DNS label: lowercase letters, digits and '-', at most 63 characters",
    ),
]
SecretName = DnsLabel
EnvName = Annotated[str, Field(pattern=ENV_NAME_PATTERN, max_length=255)]

# The image reference grammar of the engine (github.com/distribution/reference): an optional
# registry host[:port], lowercase path components, an optional tag and an optional digest.
# Checked here so a reference the engine would refuse is a manifest error naming the field,
# not an engine failure at apply time.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE_PATTERN = (
    rf"^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?$"
)
_IMAGE_REFERENCE = re.compile(IMAGE_REFERENCE_PATTERN)


def _image_reference(value: str) -> str:
    # A Python check rather than a JSON-schema pattern: the grammar would make every schema
    # consumer (and the API fuzzer) generate strings for a regex of nested repetitions.
    if not _IMAGE_REFERENCE.match(value):
        raise ValueError(
            "not an image reference the engine accepts: [registry[:port]/]lowercase/path"
            "[:tag][@algorithm:hex]"
        )
    return value


ImageReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        description="image reference, e.g. acme/web:1.0 or registry:5000/team/web@sha256:…",
    ),
    AfterValidator(_image_reference),
]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]


def _check_host_port(port: int | None, host_port: int | None, replicas: int) -> None:
    if host_port is not None and port is None:
        raise ValueError("hostPort needs port")
    if host_port is not None and replicas > 1:
        raise ValueError(
            f"a fixed hostPort cannot be shared by replicas={replicas}; "
            "drop hostPort or use replicas: 1"
        )


def _host_port_rules(value: int | None, info: ValidationInfo) -> int | None:
    """A fixed host port needs a container port and one replica (both declared before it)."""
    _check_host_port(info.data.get("port"), value, info.data.get("replicas") or 1)
    return value


HostPort = Annotated[Port | None, AfterValidator(_host_port_rules)]
MAX_REPLICAS = 100
"""Containers per service: more is almost certainly a typo, and would exhaust a single engine."""
Replicas = Annotated[int, Field(ge=0, le=MAX_REPLICAS, strict=True)]


def is_dns_label(value: str) -> bool:
    """True when *value* is usable as an app, service or secret name."""
    return len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_env_name(value: str) -> bool:
    """True when *value* is usable as an environment variable and a file name."""
    return len(value) <= 255 and _ENV_NAME.fullmatch(value) is not None


def _scalar_to_str(value: Any) -> Any:
    """Accept YAML numbers and booleans as env values, the way compose does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_scalar_to_str)]


class StrictModel(BaseModel):
    """Base of every manifest model: unknown fields are refused and values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, defer_build=True)
