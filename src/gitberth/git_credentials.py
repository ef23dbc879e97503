"""Credentials for a private Git remote, from a gitberth secret, handed to Git without a trace.

A source names a gitberth secret (shared scope) instead of carrying credentials in its URL:

* HTTPS: ``USERNAME`` and ``PASSWORD`` (or ``TOKEN``, for a personal or deploy token);
* SSH: ``SSH_PRIVATE_KEY`` (optionally ``SSH_PASSPHRASE``) and ``KNOWN_HOSTS``, the host keys
  the server may present: an unknown or changed host key is refused, never learnt.

The secret is read from the store for every Git command, so a rotated credential is used from
the next fetch on, and nothing is fetched while the store is sealed. For one command the values
go into a private directory (0700, files 0600) in the RAM-backed secrets directory; Git reaches
them only through the ``gitberth-askpass`` helper (user name, password, key passphrase) and
ssh's ``-i`` (the key file); the directory is removed as soon as the command ends. So a
credential is never in an argument list (``ps``), in the environment of a process, in the
mirror's config, or in a log line.
"""

from __future__ import annotations

import contextlib
import os
import secrets as random
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from gitberth.askpass import DIRECTORY_ENV, PASSWORD_FILE, USERNAME_FILE
from gitberth.core.errors import ConfigError, SealedError, SourceError
from gitberth.core.resolve import SecretMaterial

CREDENTIALS_PREFIX = "..git-credentials-"
"""Name prefix of the per-command directories in the secrets directory (never swept as a
container's directory)."""

HTTPS_KEYS = "USERNAME and PASSWORD (or TOKEN)"
SSH_KEYS = "SSH_PRIVATE_KEY and KNOWN_HOSTS (optionally SSH_PASSPHRASE)"

NO_PROMPTS = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}
"""For a source without credentials: Git and ssh never wait for an answer nobody gives."""

_NO_CREDENTIAL_HELPERS = {
    # The user's credential helpers (a store file, a keyring) must neither answer nor remember.
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "credential.helper",
    "GIT_CONFIG_VALUE_0": "",
}


@dataclass(frozen=True)
class HttpsCredentials:
    secret: str
    username: SecretStr
    password: SecretStr


@dataclass(frozen=True)
class SshCredentials:
    secret: str
    private_key: SecretStr
    known_hosts: str
    passphrase: SecretStr | None = None


GitCredentials = HttpsCredentials | SshCredentials
CredentialsLoader = Callable[[], GitCredentials | None]


def is_ssh_url(url: str) -> bool:
    """True for ``ssh://`` and scp-like ``user@host:path`` remotes."""
    if "://" in url:
        return urlsplit(url).scheme.lower() in {"ssh", "git+ssh", "ssh+git"}
    return True


def refuse_credentials_in_url(url: str, *, option: str = "--repo-credentials") -> None:
    """Raise :class:`ConfigError` when *url* carries a password or token.

    An https URL may carry none (a token alone as user name is a credential too); an ssh URL
    may name its user (``git@host``), which is not secret, but not a password.
    """
    if "://" not in url:
        return  # scp-like ``user@host:path``: the user name is not a secret, and has no password
    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    carries = bool(userinfo) and (":" in userinfo or not is_ssh_url(url))
    shown = f"{parts.scheme}://{host}{parts.path}"
    if not carries:
        return
    keys = SSH_KEYS if is_ssh_url(url) else HTTPS_KEYS
    raise ConfigError(
        f"the repository URL {shown} carries credentials; a URL is visible to every local user "
        "in `ps` and would be stored in the mirror's config. Remove them from the URL, store "
        f"them as a gitberth secret with {keys} (POST /secrets), and name that secret with "
        f"{option}"
    )


def parse_credentials(material: SecretMaterial, *, url: str) -> GitCredentials:
    """The credentials a secret holds for *url*, or :class:`SourceError` naming missing keys."""
    values = {key: item.value for key, item in material.keys.items()}
    name = material.name
    if is_ssh_url(url):
        missing = [key for key in ("SSH_PRIVATE_KEY", "KNOWN_HOSTS") if key not in values]
        if missing:
            raise SourceError(
                f"credentials secret {name} lacks {', '.join(missing)}: an ssh remote needs "
                f"{SSH_KEYS}"
            )
        return SshCredentials(
            secret=name,
            private_key=values["SSH_PRIVATE_KEY"],
            known_hosts=values["KNOWN_HOSTS"].get_secret_value(),
            passphrase=values.get("SSH_PASSPHRASE"),
        )
    password = values.get("PASSWORD") or values.get("TOKEN")
    if "USERNAME" not in values or password is None:
        raise SourceError(
            f"credentials secret {name} has keys {', '.join(sorted(values)) or 'none'}: an "
            f"https remote needs {HTTPS_KEYS}"
        )
    return HttpsCredentials(secret=name, username=values["USERNAME"], password=password)


def store_loader(
    materials: Callable[[], Mapping[tuple[str | None, str], SecretMaterial]],
    *,
    secret: str,
    url: str,
) -> CredentialsLoader:
    """A loader reading the shared secret *secret* anew each time (rotation needs no restart).

    *materials* decrypts ``{(None, secret)}`` from the store (it raises :class:`SealedError`
    while sealed, which becomes a message saying that fetching pauses until unseal).
    """

    def load() -> GitCredentials:
        try:
            found = materials()
        except SealedError as exc:
            raise SealedError(
                f"the secret store is sealed: fetching {url} needs credentials secret {secret}, "
                "so it pauses until an operator unseals (POST /admin/unseal); the last good "
                "revision stays applied"
            ) from exc
        material = found.get((None, secret))
        if material is None:
            raise SourceError(
                f"credentials secret {secret} does not exist (as a shared secret): create it "
                "with POST /secrets before gitberth can fetch this repository"
            )
        return parse_credentials(material, url=url)

    return load


def askpass_program() -> str:
    """The ``gitberth-askpass`` console script installed next to this Python."""
    beside = Path(sys.executable).parent / "gitberth-askpass"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("gitberth-askpass")
    if found is None:
        raise ConfigError(
            "the gitberth-askpass helper is not installed (it comes with the gitberth package: "
            "reinstall it with pip)"
        )
    return found


@contextlib.contextmanager
def git_environment(
    credentials: GitCredentials | None, *, ram_dir: Path
) -> Iterator[dict[str, str]]:
    """Environment additions for one Git command using *credentials*; the files they point at
    exist only until the ``with`` block ends."""
    if credentials is None:
        yield dict(NO_PROMPTS)
        return
    directory = ram_dir / f"{CREDENTIALS_PREFIX}{random.token_hex(8)}"
    try:
        directory.mkdir(mode=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot write Git credentials under {ram_dir}: {exc}") from exc
    try:
        yield _prepare(credentials, directory=directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _prepare(credentials: GitCredentials, *, directory: Path) -> dict[str, str]:
    helper = askpass_program()
    env = {
        **_NO_CREDENTIAL_HELPERS,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": helper,
        DIRECTORY_ENV: str(directory),
    }
    if isinstance(credentials, HttpsCredentials):
        _write(directory / USERNAME_FILE, credentials.username.get_secret_value())
        _write(directory / PASSWORD_FILE, credentials.password.get_secret_value())
        env["SSH_ASKPASS"] = "true"
        return env
    key = credentials.private_key.get_secret_value().replace("\r\n", "\n").strip() + "\n"
    _write(directory / "key", key)  # ssh refuses a key file without its final newline
    _write(directory / "known_hosts", credentials.known_hosts.replace("\r\n", "\n") + "\n")
    options = [
        "-F", "/dev/null",
        "-i", str(directory / "key"),
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
        "-o", f"UserKnownHostsFile={directory / 'known_hosts'}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UpdateHostKeys=no",
        "-o", "PasswordAuthentication=no",
        "-o", "KbdInteractiveAuthentication=no",
        "-o", "ConnectTimeout=30",
    ]  # fmt: skip
    if credentials.passphrase is not None:
        _write(directory / PASSWORD_FILE, credentials.passphrase.get_secret_value())
        env.update({"SSH_ASKPASS": helper, "SSH_ASKPASS_REQUIRE": "force"})
    else:
        options += ["-o", "BatchMode=yes"]
        env["SSH_ASKPASS"] = "true"
    env["GIT_SSH_COMMAND"] = shlex.join(["ssh", *options])
    env["GIT_SSH_VARIANT"] = "ssh"
    return env


def explain_failure(stderr: str, *, credentials: GitCredentials | None) -> str | None:
    """A clear reason for an authentication or host-key failure in Git's *stderr*, or None."""
    secret = f"credentials secret {credentials.secret}" if credentials else "no credentials secret"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
        return (
            f"the server's host key changed: it does not match KNOWN_HOSTS of {secret}; refused "
            "(if the server's key was really replaced, update KNOWN_HOSTS in the secret)"
        )
    if "Host key verification failed" in stderr:
        return (
            f"the server's host key is not in KNOWN_HOSTS of {secret}; an unknown host key is "
            "refused (add the server's key, e.g. from `ssh-keyscan`, to KNOWN_HOSTS)"
        )
    if "Permission denied" in stderr and "publickey" in stderr:
        return f"the server refused the SSH key of {secret} (Permission denied)"
    if (
        "Authentication failed" in stderr
        or "could not read Username" in stderr
        or ("401" in stderr and "http" in stderr.lower())
    ):
        if credentials is None:
            return "the server asks for credentials: name a credentials secret (--repo-credentials)"
        return f"the server refused the user name and password of {secret} (authentication failed)"
    if "incorrect passphrase" in stderr.lower() or "bad passphrase" in stderr.lower():
        return f"SSH_PASSPHRASE of {secret} does not open SSH_PRIVATE_KEY"
    if "invalid format" in stderr or "error in libcrypto" in stderr:
        return f"SSH_PRIVATE_KEY of {secret} is not a private key ssh can read"
    return None
