"""Compose ``secrets`` as gitberth ``secretFiles``, with the command that uploads each one.

A compose secret is a file (``file: ./db_password.txt``) or an environment variable of whoever
runs compose, mounted at ``/run/secrets/<name>``. In gitberth a secret is a named, encrypted bag
of keys in the store, never in Git, and ``secretFiles: [name]`` mounts each key at
``/run/secrets/<KEY>``. So compose secret ``db_password`` becomes the app-scoped gitberth secret
``db-password`` with the one key ``db_password``: the file lands at the same path. The
converter never reads the secret's value; it prints the ``curl`` that uploads it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from gitberth.convert.notes import NoteKind, NoteList
from gitberth.convert.values import dns_label

SECRETS_DIR = "/run/secrets"
_NOT_KEY = re.compile(r"[^A-Za-z0-9_]")


def secret_key(name: str) -> str:
    """A secret key (and file name) as close to *name* as the key rules allow."""
    key = _NOT_KEY.sub("_", name)
    return key if key and not key[0].isdigit() else f"_{key}"


def upload_command(*, app: str, secret: str, key: str, definition: Any) -> str:
    """The curl line that stores the value under *secret*/*key*, scoped to the app."""
    body = f'{{name: "{secret}", appId: "{app}", data: {{{key}: $v}}}}'
    if isinstance(definition, dict) and isinstance(definition.get("file"), str):
        source = f"--rawfile v {shlex.quote(definition['file'])}"
    elif isinstance(definition, dict) and isinstance(definition.get("environment"), str):
        source = f'--arg v "${definition["environment"]}"'
    else:
        source = "--rawfile v FILE-WITH-THE-VALUE"
    return (
        f"jq -n {source} {shlex.quote(body)} | curl -s -X POST $API/secrets "
        "-H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d @-"
    )


def convert_secrets(
    entries: Any, *, app: str, declared: Mapping[str, Any], notes: NoteList
) -> list[str]:
    """The gitberth secrets a service mounts as files, in order."""
    if not isinstance(entries, list):
        notes.add("secrets", NoteKind.NOT_CARRIED, "`secrets` must be a list")
        return []
    names: list[str] = []
    for index, entry in enumerate(entries):
        key_path = f"secrets[{index}]"
        if isinstance(entry, str):
            source, target = entry, None
        elif isinstance(entry, dict) and isinstance(entry.get("source"), str):
            source, target = entry["source"], entry.get("target")
            for option in sorted(set(entry) & {"uid", "gid", "mode"}):
                notes.add(
                    f"{key_path}.{option}",
                    NoteKind.NOT_CARRIED,
                    "secret files are read-only and owned by root in gitberth",
                )
        else:
            notes.add(key_path, NoteKind.NOT_CARRIED, "a secret is a name or {source, target}")
            continue
        secret = dns_label(source)
        if secret is None:
            notes.add(key_path, NoteKind.NOT_CARRIED, f"no secret name can be made of {source!r}")
            continue
        wanted = str(target) if target else source
        if wanted.startswith("/"):
            if wanted.rsplit("/", 1)[0] != SECRETS_DIR:
                notes.add(
                    key_path,
                    NoteKind.CHANGED,
                    f"gitberth mounts secret files in {SECRETS_DIR} only, not at {wanted}",
                )
            wanted = wanted.rsplit("/", 1)[1]
        key = secret_key(wanted)
        path = f"{SECRETS_DIR}/{key}"
        if key != wanted:
            notes.add(
                key_path,
                NoteKind.CHANGED,
                f"the file is {path} (a key is letters, digits and '_'), "
                f"not {SECRETS_DIR}/{wanted}",
            )
        definition = declared.get(source)
        notes.add(
            key_path,
            NoteKind.TODO,
            f"upload secret {secret} (key {key}, mounted at {path}) before deploying; the "
            "manifest names it and never holds its value: "
            + upload_command(app=app, secret=secret, key=key, definition=definition),
        )
        if definition is None:
            notes.add(
                key_path,
                NoteKind.CHANGED,
                f"secret {source} is not declared under the top-level `secrets:`",
            )
        if secret not in names:
            names.append(secret)
    return names


def secret_definition_notes(declared: Any, *, notes: NoteList) -> None:
    """What the top-level ``secrets:`` says that the printed upload commands do not cover."""
    if not isinstance(declared, dict):
        if declared is not None:
            notes.add("secrets", NoteKind.NOT_CARRIED, "top-level `secrets` must be a mapping")
        return
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            continue
        if spec.get("external"):
            notes.add(
                f"secrets.{name}.external",
                NoteKind.NOT_CARRIED,
                "the value lives in the engine or swarm: upload it to the gitberth secret store "
                "with the command printed for the service that uses it",
            )
        for option in sorted(set(spec) - {"file", "environment", "external"}):
            notes.add(
                f"secrets.{name}.{option}",
                NoteKind.NOT_CARRIED,
                "a gitberth secret is a name and its keys; nothing else is kept",
            )
