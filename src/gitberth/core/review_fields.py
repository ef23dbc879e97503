"""Field by field, how two specs of one service differ, in the words a reviewer reads.

Wording reuses :func:`gitberth.core.plan.describe_changes` and
:func:`gitberth.core.plan.wiring_changes`, so a review and a live plan say the same thing about
the same change. Each change says whether it replaces the containers (everything that enters
the spec hash does) or only changes how they are started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitberth.core import container_options, option_changes
from gitberth.core.models import ServiceSpec
from gitberth.core.plan import describe_changes, wiring_changes
from gitberth.core.resolved import spec_basics


@dataclass(frozen=True)
class FieldChange:
    """One field of one service that differs.

    ``key`` names the env variable or secret for ``env``, ``envFrom`` and ``secretFiles``.
    ``before`` and ``after`` are manifest text, which is in Git already (inline env values
    included); secret values are never part of a manifest, so never part of a change.
    """

    field: str
    key: str | None
    before: str | None
    after: str | None
    replaces: bool
    text: str


def whole_spec_fields(spec: ServiceSpec) -> tuple[FieldChange, ...]:
    """An added or repaired service's whole spec, so a reviewer sees what will run (a removed
    service needs no field list: its containers, and :func:`kept_volumes`, say everything)."""
    scalars: list[tuple[str, str | None]] = [
        ("image", spec.image),
        ("command", " ".join(spec.command) if spec.command is not None else None),
        ("port", _text(spec.port)),
        ("hostPort", _text(spec.host_port)),
        ("replicas", str(spec.replicas) if spec.replicas != 1 else None),
    ]
    fields = [
        FieldChange(name, None, None, value, name != "replicas", f"{name} {value}")
        for name, value in scalars
        if value is not None
    ]
    fields += [
        FieldChange("env", key, None, value, True, f"env {key}: {value}") for key, value in spec.env
    ]
    fields += [
        FieldChange(c.field, c.key, None, c.after, True, c.text)
        for c in _option_changes_from_defaults(spec)
    ]
    for field_name, names in (("envFrom", spec.env_from), ("secretFiles", spec.secret_files)):
        fields += [
            FieldChange(field_name, name, None, name, True, f"{field_name} {name}")
            for name in unique_names(names)
        ]
    fields += _whole_wiring(spec)
    return tuple(fields)


def field_changes(old: ServiceSpec, new: ServiceSpec) -> tuple[FieldChange, ...]:
    """Every field that differs between two specs of one service, in manifest order."""
    changes: list[FieldChange] = []
    before, after = spec_basics(old), spec_basics(new)
    for name in ("image", "command", "port", "hostPort"):
        if before[name] != after[name]:
            (text,) = describe_changes({name: before[name]}, {name: after[name]})
            changes.append(
                FieldChange(name, None, _text(before[name]), _text(after[name]), True, text)
            )
    if old.replicas != new.replicas:
        changes.append(
            FieldChange(
                "replicas",
                None,
                str(old.replicas),
                str(new.replicas),
                False,
                f"replicas {old.replicas} -> {new.replicas}",
            )
        )
    changes.extend(_env_changes(dict(old.env), dict(new.env)))
    changes.extend(
        FieldChange(c.field, c.key, c.before, c.after, True, c.text)
        for c in option_changes.option_changes(
            option_changes.summary(old.options), option_changes.summary(new.options)
        )
    )
    changes.extend(_reference_changes("envFrom", old.env_from, new.env_from))
    changes.extend(_reference_changes("secretFiles", old.secret_files, new.secret_files))
    changes.extend(wiring_field_changes(old, new))
    return tuple(changes)


# --- networks, volumes, pulls and rollout ----------------------------------------------------


def _whole_wiring(spec: ServiceSpec) -> list[FieldChange]:
    """What an added service joins, mounts and pulls with; every bind mount is named."""
    fields = [
        FieldChange("networks", name, None, name, True, f"network {name}") for name in spec.networks
    ]
    for mount in spec.volumes:
        text = mount.describe()
        if mount.name is not None and spec.replicas > 1:
            text += f" (shared by {spec.replicas} replicas)"
        fields.append(FieldChange("volumes", mount.path, None, text, True, text))
    defaults = {"pull": "missing", "imagePullSecret": None, "rollout": None}
    for name, value in _wiring_settings(spec).items():
        if value != defaults[name]:
            fields.append(FieldChange(name, None, None, value, False, f"{name} {value}"))
    return fields


def _wiring_settings(spec: ServiceSpec) -> dict[str, str | None]:
    """Settings that change how containers are started, not what runs: they replace nothing."""
    implied = "stopFirst" if spec.host_port is not None else "startFirst"  # hostPort says it
    rollout = spec.rollout if spec.rollout != implied else None
    if spec.shared_volume_ok:
        rollout = f"{spec.rollout} (sharedVolumeOk)"
    return {"pull": spec.pull, "imagePullSecret": spec.image_pull_secret, "rollout": rollout}


def kept_volumes(spec: ServiceSpec) -> tuple[FieldChange, ...]:
    """A removed service's named volumes stay, orphaned: a deploy never deletes data."""
    return tuple(
        FieldChange(
            "volumes",
            mount.path,
            mount.describe(),
            None,
            False,
            f"volume {mount.engine_name(spec.app)} kept (orphaned; "
            f"`gitberth volumes prune {spec.app} --yes` deletes it)",
        )
        for mount in spec.volumes
        if mount.name is not None
    )


def wiring_field_changes(old: ServiceSpec, new: ServiceSpec) -> list[FieldChange]:
    """Networks and mounts (they replace containers; a removed volume's data is kept), then
    pull, pull secret and rollout settings (they replace nothing)."""
    changes = [
        FieldChange("networks", name, None, name, True, f"network {name} added")
        for name in new.networks
        if name not in old.networks
    ] + [
        FieldChange("networks", name, name, None, True, f"network {name} removed")
        for name in old.networks
        if name not in new.networks
    ]
    before = {m.path: m for m in old.volumes}
    after = {m.path: m for m in new.volumes}
    for path in sorted(set(before) | set(after)):
        old_mount, new_mount = before.get(path), after.get(path)
        old_text = old_mount.describe() if old_mount else None
        new_text = new_mount.describe() if new_mount else None
        changes += [
            FieldChange("volumes", path, old_text, new_text, True, text)
            for text in wiring_changes(
                {"volumes": {path: old_text} if old_text else {}},
                {"volumes": {path: new_text} if new_text else {}},
            )
        ]
    if new.replicas > 1 and any(m.name for m in new.volumes) and old.replicas != new.replicas:
        shared = ", ".join(m.name for m in new.volumes if m.name)
        changes.append(
            FieldChange(
                "volumes",
                None,
                None,
                None,
                False,
                f"volume {shared} shared by {new.replicas} replicas",
            )
        )
    old_settings, new_settings = _wiring_settings(old), _wiring_settings(new)
    for name in old_settings:
        if old_settings[name] != new_settings[name]:
            was, now = old_settings[name], new_settings[name]
            changes.append(
                FieldChange(
                    name,
                    None,
                    was,
                    now,
                    False,
                    f"{name} {_text(was) or '(none)'} -> {_text(now) or '(none)'}",
                )
            )
    return changes


def _option_changes_from_defaults(spec: ServiceSpec) -> list[option_changes.OptionChange]:
    """The options a new service sets, told as what it asks for (``restart always``), not as a
    change from the defaults; options left at their default are not listed."""
    defaults = option_changes.summary(container_options.ContainerOptions())
    changes = option_changes.option_changes(defaults, option_changes.summary(spec.options))
    return [
        option_changes.OptionChange(
            c.field,
            c.key,
            None,
            c.after,
            f"label {c.key}: {c.after}" if c.key is not None else f"{c.field} {c.after}",
        )
        for c in changes
        if c.after is not None
    ]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _env_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            text = f"env {key} added: {new[key]}"
        elif key not in new:
            text = f"env {key} removed (was: {old[key]})"
        elif old[key] != new[key]:
            text = f"env {key} changed: {old[key]} -> {new[key]}"
        else:
            continue
        changes.append(FieldChange("env", key, old.get(key), new.get(key), True, text))
    return changes


def _reference_changes(
    field_name: str, old: Sequence[str], new: Sequence[str]
) -> list[FieldChange]:
    """Secret references added or removed; a new order alone is a change of precedence, which
    replaces containers only when two of the secrets share a key name."""
    before, after = unique_names(old), unique_names(new)
    changes = [
        FieldChange(field_name, name, None, name, True, f"{field_name} {name} added")
        for name in after
        if name not in before
    ] + [
        FieldChange(field_name, name, name, None, True, f"{field_name} {name} removed")
        for name in before
        if name not in after
    ]
    kept_before = [n for n in before if n in after]
    kept_after = [n for n in after if n in before]
    if kept_before != kept_after:
        old_order, new_order = ", ".join(kept_before), ", ".join(kept_after)
        changes.append(
            FieldChange(
                field_name,
                None,
                old_order,
                new_order,
                False,
                f"{field_name} order {old_order} -> {new_order} "
                "(restarts only if these secrets share a key name)",
            )
        )
    return changes


def unique_names(names: Sequence[str]) -> list[str]:
    """Keep the last occurrence of each name: that is the one whose keys win."""
    last = {name: index for index, name in enumerate(names)}
    return sorted(last, key=last.__getitem__)
