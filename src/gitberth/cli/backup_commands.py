"""``gitberth backup`` and ``gitberth restore``: an encrypted copy of the state dir, and back.

The passphrase never appears on a command line (other users can read it in ``ps``): it comes
from ``$GITBERTH_BACKUP_PASSPHRASE``, a ``--passphrase-file`` (a Docker or systemd secret), or a
prompt. ``--recipient age1...`` encrypts to an age public key instead, so a host can write
backups that only the holder of the matching identity can restore.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gitberth.cli._app import app, console, err_console
from gitberth.cli.options import StateDirOption
from gitberth.core.errors import BackupError
from gitberth.state import PRIVATE_FILE_MODE, StateDir

if TYPE_CHECKING:  # the backup modules load pyrage: imported only by the verbs that use them
    from gitberth.backup import Passphrase

PASSPHRASE_ENV = "GITBERTH_BACKUP_PASSPHRASE"

PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"read the passphrase from this file (else ${PASSPHRASE_ENV}, else a prompt)",
        show_default=False,
    ),
]


@app.command()
def backup(
    out: Annotated[
        str, typer.Option("--out", help="file to write (must not exist), or - for stdout")
    ],
    state_dir: StateDirOption = None,
    with_key: Annotated[
        bool,
        typer.Option(
            "--with-key",
            help="include master.key: the backup alone then reads every secret",
        ),
    ] = False,
    recipient: Annotated[
        list[str] | None,
        typer.Option(
            "--recipient",
            help="encrypt to this age public key (age1...) instead of a passphrase; repeatable",
            show_default=False,
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Write an encrypted, consistent backup of the state dir (safe while serve runs)."""
    from gitberth.backup import Recipients, create_backup, key_notice

    state = StateDir.resolve(state_dir)
    try:
        if out != "-" and Path(out).exists():
            raise BackupError(f"{out} exists; choose a new file name")
        protection = (
            Recipients.parse(recipient) if recipient else _passphrase(passphrase_file, confirm=True)
        )
        data, summary = create_backup(state, protection=protection, with_key=with_key)
        if out == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            _write_new_file(Path(out), data)
    except BackupError as exc:
        err_console.print(f"gitberth backup: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    err_console.print(
        f"backup of {state.path} written to {'stdout' if out == '-' else out}: "
        f"{summary.secrets} secret(s), {summary.tokens} token(s), seal mode "
        f"{summary.seal_mode or 'not initialized'}, taken {summary.created_at}.",
        markup=False,
        soft_wrap=True,
    )
    err_console.print(key_notice(summary), markup=False, soft_wrap=True)


@app.command()
def restore(
    backup_file: Annotated[Path, typer.Argument(help="a file written by gitberth backup")],
    state_dir: Annotated[
        Path,
        typer.Option("--state-dir", help="new state dir to create (must be absent or empty)"),
    ],
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            help="age identity file (AGE-SECRET-KEY-1...) for a backup made with --recipient",
            show_default=False,
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Restore a backup into a new, empty state dir; nothing is written unless it all checks."""
    from gitberth.backup import encryption, key_notice, restore_backup

    try:
        try:
            data = backup_file.read_bytes()
        except OSError as exc:
            raise BackupError(f"cannot read {backup_file}: {exc.strerror}") from None
        if identity is not None:
            identities = encryption.parse_identities(_read_text(identity))
            restored = restore_backup(data, target=StateDir(state_dir), identities=identities)
        else:
            passphrase = None
            if encryption.stanza_kind(data) == "scrypt":
                passphrase = _passphrase(passphrase_file, confirm=False)
            restored = restore_backup(data, target=StateDir(state_dir), passphrase=passphrase)
    except BackupError as exc:
        err_console.print(f"gitberth restore: {exc}", markup=False, soft_wrap=True)
        err_console.print(f"nothing was written to {state_dir}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    summary = restored.summary
    console.print(
        f"restored {summary.secrets} secret(s) and {summary.tokens} token(s) from the backup "
        f"taken {summary.created_at} into {restored.path}.",
        markup=False,
        soft_wrap=True,
    )
    console.print(key_notice(summary), markup=False, soft_wrap=True)
    if summary.with_key:
        console.print(
            f"`gitberth serve --state-dir {restored.path}` unseals by itself.",
            markup=False,
            soft_wrap=True,
        )


def _passphrase(path: Path | None, *, confirm: bool) -> Passphrase:
    from gitberth.backup import Passphrase

    if path is not None:
        return Passphrase(_read_text(path).rstrip("\r\n"))
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return Passphrase(from_env)
    if not sys.stdin.isatty():
        raise BackupError(
            f"no passphrase: set {PASSPHRASE_ENV}, pass --passphrase-file, use --recipient, "
            "or run in a terminal to be prompted"
        )
    text = typer.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm)
    return Passphrase(text)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _write_new_file(path: Path, data: bytes) -> None:
    """Write *data* to *path* (0600) through a temp file: complete or absent, never replaced."""
    temp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
    except FileExistsError:
        raise BackupError(f"{path} exists; choose a new file name") from None
    except OSError as exc:
        raise BackupError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)
