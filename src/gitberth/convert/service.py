"""One compose service -> one gitberth service: a handler per compose service key.

The counterpart of :mod:`gitberth.convert.mapping`, which walks the file: here each key of one
service has one handler that writes the gitberth fields and adds a :class:`Note` for anything
that did not carry over unchanged; a key without a handler is looked up in
:mod:`gitberth.convert.reasons`, and a key in neither is reported as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from gitberth.convert import networks, ports, reasons, runtime_fields, secrets, volumes
from gitberth.convert.notes import NoteKind, NoteList
from gitberth.convert.values import Interpolated, interpolate, scalar_text, shell_words
from gitberth.core.models import is_env_name

MANIFEST_ORDER = (
    "name", "image", "command", "entrypoint", "user", "workingDir", "env", "envFrom",
    "secretFiles", "port", "hostPort", "ports", "replicas", "volumes", "networks",
    "healthcheck", "restart", "resources", "labels", "stopSignal", "stopGracePeriod", "pull",
    "rollout", "sharedVolumeOk",
)  # fmt: skip
"""The order keys are written in: what runs, then its wiring, then how it is operated."""

_PULL_POLICIES = {"always": "always", "missing": "missing", "if_not_present": "missing"}
_NO_NEW_PRIVILEGES = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
_SECRET_NAME = re.compile(r"PASSW(OR)?D|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)
"""Environment names whose value is most likely a secret (``*_FILE`` names hold a path)."""
_LABEL_KEY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?")
_HANDLED_DEPLOY = {"replicas", "resources", "restart_policy", "update_config"}


def as_mapping(value: Any) -> dict[str, Any]:
    """*value* when it is a mapping, else an empty one (compose allows null and lists)."""
    return value if isinstance(value, dict) else {}


Handler = Callable[[Any, NoteList], None]


class ServiceConverter:
    """Converts one compose service at a time; ``self.out`` is the service being built."""

    def __init__(
        self,
        *,
        app: str,
        volumes: volumes.VolumeConverter,
        networks: Mapping[str, Any],
        secrets: Mapping[str, Any],
    ) -> None:
        self._app = app
        self._volumes = volumes
        self._networks = networks
        self._secrets = secrets
        self.out: dict[str, Any] = {}
        self._ports: list[ports.Published] = []
        self._limits: dict[str, Any] = {}
        self._legacy_limits: dict[str, Any] = {}
        self._rollout: str | None = None
        self._built = False
        self._handlers: dict[str, Handler] = {
            "image": self._image,
            "build": self._build,
            "command": self._command("command"),
            "entrypoint": self._command("entrypoint"),
            "environment": self._environment,
            "ports": self._ports_entry,
            "volumes": self._volumes_entry,
            "networks": self._networks_entry,
            "network_mode": self._host_namespace("network_mode"),
            "secrets": self._secrets_entry,
            "healthcheck": self._healthcheck,
            "restart": self._restart,
            "deploy": self._deploy,
            "scale": self._scale,
            "mem_limit": self._legacy_limit("mem_limit"),
            "cpus": self._legacy_limit("cpus"),
            "pids_limit": self._legacy_limit("pids_limit"),
            "labels": self._labels,
            "user": self._text("user", "user"),
            "working_dir": self._text("working_dir", "workingDir"),
            "stop_signal": self._text("stop_signal", "stopSignal"),
            "stop_grace_period": self._text("stop_grace_period", "stopGracePeriod"),
            "pull_policy": self._pull_policy,
            "privileged": self._refused_when_set("privileged"),
            "security_opt": self._security_opt,
            **{key: self._host_namespace(key) for key in reasons.HOST_NAMESPACES[1:]},
        }

    def convert(self, name: str, body: Any, *, notes: NoteList) -> dict[str, Any]:
        self.out = {"name": name}
        self._ports, self._limits, self._legacy_limits, self._rollout = [], {}, {}, None
        self._built = False
        if not isinstance(body, dict):
            body = {}
        body = {
            key: value if key == "environment" else _interpolated(value, key=key, notes=notes)
            for key, value in body.items()
        }
        if "image" not in body and "build" not in body:
            notes.add("image", NoteKind.NOT_CARRIED, "the service has no image and no build")
        for key, value in body.items():
            handler = self._handlers.get(key)
            if handler is not None:
                handler(value, notes)
            elif key in reasons.REFUSED:
                notes.add(key, NoteKind.REFUSED, reasons.REFUSED[key])
            elif key in reasons.NOT_CARRIED:
                notes.add(key, NoteKind.NOT_CARRIED, reasons.NOT_CARRIED[key])
            elif key.startswith("x-"):
                notes.add(key, NoteKind.NOT_CARRIED, "extension field: compose ignores it too")
            else:
                notes.add(key, NoteKind.NOT_CARRIED, "not a compose key gitberth knows")
        self._finish(notes)
        return {key: self.out[key] for key in MANIFEST_ORDER if key in self.out}

    # --- what runs -------------------------------------------------------------------------

    def _image(self, value: Any, notes: NoteList) -> None:
        if isinstance(value, str) and value:
            self.out["image"] = value
        else:
            notes.add("image", NoteKind.NOT_CARRIED, "`image` must be a name")

    def _build(self, value: Any, notes: NoteList) -> None:
        self._built = True

    def _command(self, key: str) -> Handler:
        def handle(value: Any, notes: NoteList) -> None:
            if value is None:
                return
            try:
                self.out[key] = shell_words(value)
            except ValueError:
                notes.add(key, NoteKind.NOT_CARRIED, "not a list or a command line")

        return handle

    def _environment(self, value: Any, notes: NoteList) -> None:
        env: dict[str, str] = {}
        if isinstance(value, dict):
            entries: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            entries = []
            for item in value:
                name, equals, text = scalar_text(item).partition("=")
                entries.append((name, text if equals else None))
        else:
            notes.add("environment", NoteKind.NOT_CARRIED, "must be a list or a mapping")
            return
        for name, raw in entries:
            key = f"environment.{name}"
            if not is_env_name(name):
                notes.add(key, NoteKind.NOT_CARRIED, "not a variable name gitberth accepts")
                continue
            if raw is None:
                notes.add(
                    key,
                    NoteKind.NOT_CARRIED,
                    "no value: compose passes it from the shell running compose; write the "
                    "value under env, or for a secret upload it and list the secret in envFrom",
                )
                continue
            found = interpolate(scalar_text(raw))
            if found.unresolved:
                notes.add(key, NoteKind.NOT_CARRIED, _unresolved_reason(found, env=True))
                continue
            if found.defaulted:
                notes.add(key, NoteKind.CHANGED, _defaulted_reason(found))
            if found.text and _SECRET_NAME.search(name) and not name.upper().endswith("_FILE"):
                notes.add(
                    key,
                    NoteKind.TODO,
                    "looks like a secret, and env values sit in Git as plain text: upload it to "
                    "the secret store, list that secret in envFrom and remove it from env "
                    "(inline env wins over envFrom)",
                )
            env[name] = found.text
        if env:
            self.out["env"] = env

    def _text(self, compose_key: str, gitberth_key: str) -> Handler:
        def handle(value: Any, notes: NoteList) -> None:
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                self.out[gitberth_key] = scalar_text(value)
            else:
                notes.add(compose_key, NoteKind.NOT_CARRIED, "must be a string")

        return handle

    def _labels(self, value: Any, notes: NoteList) -> None:
        if isinstance(value, list):
            pairs = [scalar_text(item).partition("=")[::2] for item in value]
        elif isinstance(value, dict):
            pairs = [(str(k), scalar_text(v)) for k, v in value.items()]
        else:
            notes.add("labels", NoteKind.NOT_CARRIED, "must be a list or a mapping")
            return
        labels: dict[str, str] = {}
        for name, text in pairs:
            if name.lower().startswith("gitberth."):
                notes.add(
                    f"labels.{name}",
                    NoteKind.REFUSED,
                    "gitberth.* labels are gitberth's own: they mark the containers it manages",
                )
                continue
            if not _LABEL_KEY.fullmatch(name):
                notes.add(
                    f"labels.{name}",
                    NoteKind.NOT_CARRIED,
                    "a label key is letters, digits, '.', '-', '_' and '/', starting and ending "
                    "with a letter or digit",
                )
                continue
            labels[name] = text
        if labels:
            self.out["labels"] = labels

    def _pull_policy(self, value: Any, notes: NoteList) -> None:
        policy = _PULL_POLICIES.get(str(value))
        if policy is None:
            notes.add(
                "pull_policy",
                NoteKind.NOT_CARRIED,
                "gitberth pulls when the image is missing (default) or always",
            )
        else:
            self.out["pull"] = policy

    # --- wiring -----------------------------------------------------------------------------

    def _ports_entry(self, value: Any, notes: NoteList) -> None:
        self._ports = ports.convert_ports(value, notes=notes)

    def _volumes_entry(self, value: Any, notes: NoteList) -> None:
        mounts = self._volumes.convert(value, notes=notes)
        if mounts:
            self.out["volumes"] = mounts

    def _networks_entry(self, value: Any, notes: NoteList) -> None:
        shared = networks.convert_networks(value, declared=self._networks, notes=notes)
        if shared:
            self.out["networks"] = shared

    def _secrets_entry(self, value: Any, notes: NoteList) -> None:
        names = secrets.convert_secrets(value, app=self._app, declared=self._secrets, notes=notes)
        if names:
            self.out["secretFiles"] = names

    # --- operation --------------------------------------------------------------------------

    def _healthcheck(self, value: Any, notes: NoteList) -> None:
        check = runtime_fields.convert_healthcheck(value, notes=notes)
        if check is not None:
            self.out["healthcheck"] = check

    def _restart(self, value: Any, notes: NoteList) -> None:
        policy = runtime_fields.convert_restart(value, notes=notes)
        if policy is not None:
            self.out["restart"] = policy

    def _scale(self, value: Any, notes: NoteList) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            self.out.setdefault("replicas", value)
        else:
            notes.add("scale", NoteKind.NOT_CARRIED, "not a number of containers")

    def _legacy_limit(self, key: str) -> Handler:
        def handle(value: Any, notes: NoteList) -> None:
            self._legacy_limits[key] = value

        return handle

    def _deploy(self, value: Any, notes: NoteList) -> None:
        if not isinstance(value, dict):
            notes.add("deploy", NoteKind.NOT_CARRIED, "must be a mapping")
            return
        replicas = value.get("replicas")
        if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas >= 0:
            self.out["replicas"] = replicas
        elif replicas is not None:
            notes.add("deploy.replicas", NoteKind.NOT_CARRIED, "not a number of containers")
        resources = as_mapping(value.get("resources"))
        self._limits = as_mapping(resources.get("limits"))
        if "reservations" in resources:
            notes.add(
                "deploy.resources.reservations",
                NoteKind.NOT_CARRIED,
                "gitberth sets limits, not reservations",
            )
        if "restart_policy" in value:
            policy = runtime_fields.convert_deploy_restart(value["restart_policy"], notes=notes)
            if policy is not None:
                self.out.setdefault("restart", policy)
        if "update_config" in value:
            self._update_config(value["update_config"], notes)
        for key in value:
            if key not in _HANDLED_DEPLOY:
                reason = reasons.DEPLOY_NOT_CARRIED.get(key, "gitberth has no such deploy option")
                if key == "mode" and value[key] == "replicated":
                    continue
                notes.add(f"deploy.{key}", NoteKind.NOT_CARRIED, reason)

    def _update_config(self, value: Any, notes: NoteList) -> None:
        config = as_mapping(value)
        order = config.get("order")
        if order in ("start-first", "stop-first"):
            self._rollout = "startFirst" if order == "start-first" else "stopFirst"
        for key in sorted(set(config) - {"order"}):
            notes.add(
                f"deploy.update_config.{key}",
                NoteKind.NOT_CARRIED,
                "gitberth replaces one container at a time and rolls back on a failed health "
                "check by itself",
            )

    # --- refusals ---------------------------------------------------------------------------

    def _refused_when_set(self, key: str) -> Handler:
        def handle(value: Any, notes: NoteList) -> None:
            if value not in (False, None, "false"):
                notes.add(key, NoteKind.REFUSED, reasons.REFUSED[key])

        return handle

    def _host_namespace(self, key: str) -> Handler:
        def handle(value: Any, notes: NoteList) -> None:
            if value == "host":
                notes.add(
                    key,
                    NoteKind.REFUSED,
                    f"{reasons.HOST_PRIVILEGES} (no host {key.split('_')[0]} namespace)",
                )
            elif value is not None:
                notes.add(
                    key,
                    NoteKind.NOT_CARRIED,
                    "services run on the app's own network"
                    if key == "network_mode"
                    else "gitberth has no field for it",
                )

        return handle

    def _security_opt(self, value: Any, notes: NoteList) -> None:
        if value in (None, []):
            return
        options = {scalar_text(v) for v in value} if isinstance(value, list) else {""}
        if options - _NO_NEW_PRIVILEGES:
            notes.add(
                "security_opt",
                NoteKind.REFUSED,
                f"{reasons.HOST_PRIVILEGES} (security options can turn off seccomp, AppArmor "
                "and no-new-privileges; gitberth sets no-new-privileges on every container)",
            )

    # --- fields that depend on several keys -------------------------------------------------

    def _finish(self, notes: NoteList) -> None:
        if self._built:
            self._name_built_image(notes)
        resources = runtime_fields.convert_resources(
            limits=self._limits,
            mem_limit=self._legacy_limits.get("mem_limit"),
            cpus=self._legacy_limits.get("cpus"),
            pids_limit=self._legacy_limits.get("pids_limit"),
            notes=notes,
        )
        if resources:
            self.out["resources"] = resources
        self.out.update(
            ports.port_fields(self._ports, replicas=self.out.get("replicas", 1), notes=notes)
        )
        self._choose_rollout(notes)

    def _name_built_image(self, notes: NoteList) -> None:
        """A service with ``build:`` runs the image compose would tag: its ``image:``, else
        ``<project>-<service>``; gitberth runs it once it is pushed (or on the engine)."""
        reason = reasons.NOT_CARRIED["build"]
        if "image" not in self.out:
            self.out["image"] = f"{self._app}-{self.out['name']}"
            reason += (
                f"; the manifest runs {self.out['image']}, the name `docker compose build` "
                "gives it: push it where the server pulls from, or set image:"
            )
        else:
            reason += f" ({self.out['image']}, as the file names it)"
        notes.add("build", NoteKind.NOT_CARRIED, reason)

    def _choose_rollout(self, notes: NoteList) -> None:
        """Compose recreates a container stop-first; gitberth starts the new one first unless
        told otherwise. A service writing to a mount keeps compose's order, so two containers
        never write the same data at once."""
        mounts = self.out.get("volumes", ())
        writable = [m.get("name") or m.get("bind") for m in mounts if not m["readOnly"]]
        rollout = self._rollout
        if rollout == "startFirst" and "hostPort" in self.out:
            notes.add(
                "deploy.update_config.order",
                NoteKind.CHANGED,
                "a fixed host port cannot be held by two containers: the rollout is stop-first",
            )
            rollout = "stopFirst"
        if rollout is None and writable:
            rollout = "stopFirst"
            notes.add(
                "volumes",
                NoteKind.CHANGED,
                f"{', '.join(map(str, writable))} is written to: `rollout: stopFirst` replaces "
                "the container as compose does (stop, then start), so two containers never "
                "write the same data",
            )
        if rollout is not None:
            self.out["rollout"] = rollout
        if rollout == "startFirst" and writable:
            self.out["sharedVolumeOk"] = True
            notes.add(
                "deploy.update_config.order",
                NoteKind.CHANGED,
                "start-first with a writable volume: `sharedVolumeOk: true` says old and new "
                "may run on the same data for a moment, as the compose file asked",
            )


def _interpolated(value: Any, *, key: str, notes: NoteList) -> Any:
    """*value* with ``$$`` unescaped and ``${VAR:-default}`` defaults applied; each variable
    that needs a shell is reported where it is."""
    if isinstance(value, str):
        found = interpolate(value)
        if found.unresolved:
            notes.add(key, NoteKind.TODO, _unresolved_reason(found, env=False))
        elif found.defaulted:
            notes.add(key, NoteKind.CHANGED, _defaulted_reason(found))
        return found.text
    if isinstance(value, list):
        return [_interpolated(item, key=f"{key}[{i}]", notes=notes) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: _interpolated(v, key=f"{key}.{k}", notes=notes) for k, v in value.items()}
    return value


def _unresolved_reason(found: Interpolated, *, env: bool) -> str:
    names = ", ".join(f"${{{name}}}" for name in dict.fromkeys(found.unresolved))
    advice = (
        "write the value under env, or for a secret upload it to the secret store and list "
        "that secret in envFrom"
        if env
        else "kept as written: replace it with the value"
    )
    return (
        f"{names} is filled in from the shell or .env when compose runs; gitberth reads "
        f"only Git and never interpolates: {advice}"
    )


def _defaulted_reason(found: Interpolated) -> str:
    names = ", ".join(f"${{{name}}}" for name in dict.fromkeys(found.defaulted))
    return f"{names} took the default the file gives (gitberth does not read the shell or .env)"
