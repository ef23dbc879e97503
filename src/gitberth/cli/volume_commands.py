"""``gitberth volumes``: list the apps' volumes, and ``prune`` the ones of an app on purpose."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gitberth.cli._app import app, console, err_console
from gitberth.core.errors import GitberthError, RuntimeUnavailableError

if TYPE_CHECKING:
    import docker

volumes_app = typer.Typer(
    help="The apps' named volumes: a deploy never deletes one; prune does, on purpose.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(volumes_app, name="volumes")


def _client() -> docker.DockerClient:
    import docker  # the engine SDK loads only for the verbs that use it

    try:
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise RuntimeUnavailableError(f"Docker engine unreachable: {exc}") from exc


def _fail(exc: GitberthError) -> typer.Exit:
    err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
    return typer.Exit(3 if isinstance(exc, RuntimeUnavailableError) else 1)


@volumes_app.callback()
def volumes(ctx: typer.Context) -> None:
    """List every volume gitberth created: app, volume, and the containers that use it
    (none: orphaned, kept until `gitberth volumes prune APP --yes`)."""
    if ctx.invoked_subcommand is not None:
        return
    from gitberth.volumes import list_volumes

    try:
        found = list_volumes(_client())
    except GitberthError as exc:
        raise _fail(exc) from None
    if not found:
        console.print("no gitberth volumes")
        return
    table = Table("APP", "VOLUME", "ENGINE NAME", "USED BY", box=None, pad_edge=False)
    for volume in found:
        used = ", ".join(volume.used_by) if volume.used_by else "[yellow]orphaned[/]"
        table.add_row(volume.app, volume.volume, volume.engine_name, used)
    console.print(table)


@volumes_app.command()
def prune(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="the app whose volumes go")],
    yes: Annotated[bool, typer.Option("--yes", help="really delete the data (required)")] = False,
) -> None:
    """Delete every volume of APP, and its data. Refused without --yes, and while any
    container (running or stopped) still mounts one of them."""
    from gitberth.volumes import list_volumes, prune_volumes

    try:
        client = _client()
        if not yes:
            names = [v.engine_name for v in list_volumes(client, app=app_name)]
            err_console.print(
                f"refused: this deletes the data of {', '.join(names) or 'no volume'} for good; "
                f"run `gitberth volumes prune {app_name} --yes` to do it",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(1)
        deleted = prune_volumes(client, app=app_name)
    except GitberthError as exc:
        raise _fail(exc) from None
    for name in deleted:
        console.print(f"deleted volume {name}")
    if not deleted:
        console.print(f"app {app_name} has no gitberth volume")
