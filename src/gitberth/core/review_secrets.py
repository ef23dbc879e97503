"""Head's secret references against the secrets a server holds, for a reviewer.

``check_secrets(head, secrets)`` adds what only a server knows — which secrets exist and their
key names — and is as pure as the review: it takes the server's answer (``GET /secrets``) as
values and never sees a secret value, because the server never sends one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from gitberth.core.field_types import is_env_name
from gitberth.core.manifests import LoadResult
from gitberth.core.models import ServiceSpec
from gitberth.core.resolve import missing_secrets, pick_secret
from gitberth.core.review_fields import unique_names


@dataclass(frozen=True)
class ListedSecret:
    """One secret as ``GET /secrets`` lists it: names and key names, never values.

    (The store's own record of a secret is :class:`gitberth.secrets.store.SecretInfo`.)
    """

    name: str
    app_id: str | None
    keys: tuple[str, ...]
    updated_at: str | None = None


class Severity(StrEnum):
    ERROR = "error"
    """The reconciler would block the app (``unknown_secret``) or the container cannot work."""
    WARNING = "warning"


@dataclass(frozen=True)
class SecretFinding:
    app: str
    service: str | None
    secret: str | None
    severity: Severity
    code: str
    message: str


@dataclass(frozen=True)
class SecretUse:
    """One secret a service consumes at head, which scope wins, and the key names it gets."""

    app: str
    service: str
    secret: str
    mode: str  # "envFrom" or "secretFiles"
    scope: str | None  # the appId of an app-scoped secret, None for shared
    keys: tuple[str, ...]
    updated_at: str | None


@dataclass(frozen=True)
class SecretCheck:
    findings: tuple[SecretFinding, ...]
    uses: tuple[SecretUse, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


def check_secrets(
    head: LoadResult, secrets: Iterable[ListedSecret], *, apps: Iterable[str] | None = None
) -> SecretCheck:
    """Check every secret reference of head (or of *apps*) against what the server holds.

    Errors: a name that exists in neither scope (the reconciler would hold the app with
    ``unknown_secret``), a secret with no keys, an ``envFrom`` key that cannot be an
    environment variable. Warnings: inline env that overrides a key a secret provides, and two
    secrets of one service that provide the same key (the later one wins).
    """
    by_key = {(s.app_id, s.name): s for s in secrets}
    wanted = sorted(head.apps) if apps is None else sorted(set(apps) & set(head.apps))
    findings: list[SecretFinding] = []
    uses: list[SecretUse] = []
    for app_name in wanted:
        manifest = head.apps[app_name]
        missing = missing_secrets(manifest, by_key)
        findings.extend(
            SecretFinding(
                app_name,
                None,
                name,
                Severity.ERROR,
                "unknown_secret",
                f"secret {name} exists neither for app {app_name} nor shared",
            )
            for name in missing
        )
        for spec in manifest.service_specs():
            service_uses = _uses(spec, by_key)
            uses.extend(service_uses)
            findings.extend(_service_findings(spec, service_uses))
    reported: set[tuple[str, str | None, str | None, str]] = set()
    unique = []
    for finding in findings:
        identity = (finding.app, finding.service, finding.secret, finding.message)
        if identity not in reported:
            reported.add(identity)
            unique.append(finding)
    return SecretCheck(tuple(unique), tuple(uses))


def _uses(
    spec: ServiceSpec, by_key: Mapping[tuple[str | None, str], ListedSecret]
) -> list[SecretUse]:
    found: list[SecretUse] = []
    for mode, names in (("envFrom", spec.env_from), ("secretFiles", spec.secret_files)):
        for name in unique_names(names):
            info = pick_secret(spec.app, name, by_key)
            if info is not None:
                found.append(
                    SecretUse(
                        spec.app,
                        spec.service,
                        name,
                        mode,
                        info.app_id,
                        tuple(sorted(info.keys)),
                        info.updated_at,
                    )
                )
    return found


def _service_findings(spec: ServiceSpec, uses: Sequence[SecretUse]) -> list[SecretFinding]:
    findings: list[SecretFinding] = []
    inline = dict(spec.env)
    provided: dict[str, str] = {}
    for use in uses:
        if not use.keys:
            findings.append(
                SecretFinding(
                    spec.app,
                    spec.service,
                    use.secret,
                    Severity.ERROR,
                    "empty_secret",
                    f"secret {use.secret} has no keys, so {use.mode} gives this service nothing",
                )
            )
        if use.mode != "envFrom":
            continue
        for key in use.keys:
            if not is_env_name(key):
                findings.append(
                    SecretFinding(
                        spec.app,
                        spec.service,
                        use.secret,
                        Severity.ERROR,
                        "invalid_env_key",
                        f"key {key!r} of secret {use.secret} is not a valid env variable name",
                    )
                )
            elif key in inline:
                findings.append(
                    SecretFinding(
                        spec.app,
                        spec.service,
                        use.secret,
                        Severity.WARNING,
                        "overridden_by_inline_env",
                        f"inline env {key} overrides key {key} of secret {use.secret}",
                    )
                )
            elif key in provided and provided[key] != use.secret:
                findings.append(
                    SecretFinding(
                        spec.app,
                        spec.service,
                        use.secret,
                        Severity.WARNING,
                        "shared_key",
                        f"key {key} of secret {use.secret} overrides the one of secret "
                        f"{provided[key]} (later envFrom wins)",
                    )
                )
            provided[key] = use.secret
    return findings
