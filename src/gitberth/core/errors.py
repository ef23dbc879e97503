"""Every error gitberth raises on purpose, in one hierarchy.

Adapters catch library exceptions (docker, git, sqlite, cryptography) and re-raise one of
these with ``raise ... from exc`` so callers never need to know which library failed::

    GitberthError
    ├── ManifestError            one bad manifest field, with file:line:column and field path
    │   └── ManifestErrors       several ManifestError at once (loading collects them all)
    ├── ResolveError             an app's secrets cannot be resolved
    │   ├── UnknownSecretError   referenced secrets that exist in neither scope
    │   ├── MissingSecretKeyError a referenced secret lacks keys the app needs
    │   └── SealedError          the secret store is sealed
    ├── SourceError              the Git source cannot be read (bad repo, branch, revision)
    │   ├── FetchError           a remote repository cannot be cloned or fetched (URL sanitised)
    │   ├── SourceNotFoundError  a request names a source this server does not follow
    │   └── UnknownRevisionError a rollback names a revision not in the branch's history
    ├── RuntimeUnavailableError  the container engine does not answer
    ├── ServerUnavailableError   a gitberth server does not answer a client (plan --server)
    ├── ActionFailedError        one planned action failed on the engine
    │   ├── RolloutFailedError   a new container never became healthy; the old one was kept
    │   ├── UnhealthyError       a container in an empty slot failed its health check
    │   └── ImagePullFailedError an image could not be pulled (unauthorized, not found, down)
    ├── SecretStoreError         the secret store refused or failed
    │   ├── SecretNotFoundError
    │   ├── SecretIntegrityError a record does not decrypt (tampered, moved or wrong key)
    │   └── UnsealError          a wrong key or share was offered to unseal
    ├── RateLimitedError         too many attempts (unseal); retry after a delay
    ├── InvalidRequestError      an API request field is malformed (names the field, never a value)
    │   ├── PayloadTooLargeError a value, secret or body exceeds its size limit
    │   ├── AppNotAtRevisionError a rollback target revision has no manifest of that app
    │   └── UnsupportedMediaTypeError the body is not declared as JSON
    ├── AuthError                a token is missing, unknown, expired or lacks the role
    ├── TokenNotFoundError       no API token has that id
    ├── ConflictError            a deploy's container names are another app's
    │   └── AppNameClashError    two sources declare one app name (both are held)
    ├── PruneRefusedError        removing every app at once was refused (empty revision)
    ├── ConfigError              a setting is unusable (bad state dir, secrets dir not in RAM)
    ├── ComposeError             a docker compose file cannot be read for `gitberth convert`
    ├── BackupError              a backup cannot be made, read or restored (wrong passphrase,
    │                            altered file, non-empty target); nothing is changed
    ├── StorageFullError         the state dir's disk is full: nothing was written
    └── DeployError              POST /deploy cannot be honoured (ref race)
        └── ReadOnlyRepoError    the repo is a remote gitberth cannot push to

Messages never contain secret values: only names and key names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class GitberthError(Exception):
    """Base of every error gitberth raises on purpose.

    *stalls* says how status classes an app held by this error: True is *Stalled* (a person
    must change a manifest, a secret or an image; retrying will not help), False is *Waiting*
    (transient; the loop retries with backoff), as Flux and controller-runtime class them.
    """

    code = "error"
    stalls = False


@dataclass(frozen=True)
class ManifestProblem:
    """Where a manifest is wrong: file, position and dotted field path (``services.0.port``)."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ManifestError(GitberthError):
    """One manifest problem; carries a :class:`ManifestProblem`."""

    code = "invalid_manifest"
    stalls = True

    def __init__(self, problem: ManifestProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class ManifestErrors(ManifestError):
    """All problems found in one or more manifests, reported together."""

    def __init__(self, problems: Sequence[ManifestProblem]) -> None:
        GitberthError.__init__(self, "\n".join(str(p) for p in problems))
        self.problems = tuple(problems)
        self.problem = self.problems[0]


class ResolveError(GitberthError):
    """An app's secret references cannot be turned into values."""

    code = "unresolvable"
    stalls = True


class UnknownSecretError(ResolveError):
    """Secrets referenced by name that exist neither app-scoped nor shared."""

    code = "unknown_secret"

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(sorted(set(missing)))
        super().__init__("unknown secret(s): " + ", ".join(self.missing))


class MissingSecretKeyError(ResolveError):
    """A secret exists but lacks key names that a consumer expects."""

    code = "missing_secret_key"

    def __init__(self, secret: str, keys: Sequence[str]) -> None:
        self.secret = secret
        self.keys = tuple(sorted(keys))
        super().__init__(f"secret {secret} has no key(s): " + ", ".join(self.keys))


class SealedError(ResolveError):
    """The secret store is sealed: its master key is not in memory."""

    code = "sealed"

    def __init__(self, message: str = "the secret store is sealed; unseal it first") -> None:
        super().__init__(message)


class SourceError(GitberthError):
    """The Git source cannot be read at the requested branch or revision."""

    code = "source_error"


class FetchError(SourceError):
    """A remote repository cannot be cloned or fetched; the message never holds credentials."""

    code = "fetch_failed"


class SourceNotFoundError(SourceError):
    """A request names a source this server does not follow."""

    code = "not_found"


class UnknownRevisionError(SourceError):
    """A rollback names a revision that is not a commit in the tracked branch's history."""

    code = "unknown_revision"


class RuntimeUnavailableError(GitberthError):
    """The container engine does not answer; the caller should retry with backoff."""

    code = "runtime_unavailable"


class ServerUnavailableError(GitberthError):
    """A gitberth server asked by a client command is unreachable, sealed or answers oddly."""

    code = "server_unavailable"


class ActionFailedError(GitberthError):
    """One planned action failed on the engine; other apps are unaffected."""

    code = "action_failed"


class RolloutFailedError(ActionFailedError):
    """A replacement container did not become healthy in time; it was removed, the old kept."""

    code = "rollout_failed"
    stalls = True


class UnhealthyError(ActionFailedError):
    """A container started in an empty slot (a new app or replica) failed its health check or
    never passed it in time; it was left running, since nothing older can take its place.
    ``container`` is that container (an ObservedContainer), so status can list it."""

    code = "unhealthy"
    stalls = True

    def __init__(self, message: str, *, container: object = None) -> None:
        super().__init__(message)
        self.container = container


class ImagePullFailedError(ActionFailedError):
    """The registry refused or failed a pull; the app's running containers stay as they are.
    The message is the registry's reason, never a credential."""

    code = "image_pull_failed"


class SecretStoreError(GitberthError):
    """The secret store refused or failed an operation."""

    code = "secret_store_error"


class SecretNotFoundError(SecretStoreError):
    code = "not_found"


class SecretIntegrityError(SecretStoreError):
    """A stored record failed authenticated decryption: tampered, moved, or wrong key."""

    code = "integrity_error"
    stalls = True


class UnsealError(SecretStoreError):
    """A wrong master key or share was offered, or shares do not combine to the key."""

    code = "unseal_failed"


class RateLimitedError(GitberthError):
    """Too many attempts in a short window; the caller may retry after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidRequestError(GitberthError):
    """A request field is malformed; ``field`` names it (``data.KEY``), never the value."""

    code = "invalid_request"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLargeError(InvalidRequestError):
    """A secret value, a whole secret or a request body is over its size limit."""

    code = "too_large"


class AppNotAtRevisionError(InvalidRequestError):
    """A rollback target revision holds no manifest of the app (or an invalid one)."""

    code = "app_not_at_revision"


class UnsupportedMediaTypeError(InvalidRequestError):
    """The request body is not ``application/json``."""

    code = "unsupported_media_type"


class AuthError(GitberthError):
    """A bearer token is missing or unknown (401) or lacks the role or scope (403)."""

    code = "unauthorized"

    def __init__(self, message: str, *, forbidden: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.forbidden = forbidden
        if forbidden:
            self.code = "forbidden"
        if code is not None:
            self.code = code


class TokenNotFoundError(GitberthError):
    """No API token has that id (revoke, or a token read)."""

    code = "not_found"


class ConflictError(GitberthError):
    """A deploy's container names are already another app's (``a-b`` against ``a``/``b``)."""

    code = "container_name_conflict"


class AppNameClashError(ConflictError):
    """Two sources of one serve declare the same app name: both are held until one drops it."""

    code = "app_name_clash"
    stalls = True


class PruneRefusedError(GitberthError):
    """Removing every app at once was refused (an empty revision without ``allowEmpty``)."""

    code = "prune_refused"
    stalls = True


class ConfigError(GitberthError):
    """A setting is unusable: the process should refuse to start and say why."""

    code = "config_error"


class ComposeError(GitberthError):
    """A docker compose file cannot be read (not YAML, no services, too large to expand).

    Keys that merely do not map onto a manifest are not errors: the converter reports them.
    """

    code = "invalid_compose"


class BackupError(GitberthError):
    """A backup cannot be written, decrypted, verified or restored; nothing was changed."""

    code = "backup_failed"


class StorageFullError(GitberthError):
    """The disk holding the state dir is full: the write was rolled back, nothing stored is
    lost, and the same request succeeds once there is space again."""

    code = "storage_full"


class DeployError(GitberthError):
    """A deploy request cannot be committed (read-only remote, ref moved during commit)."""

    code = "deploy_failed"


class ReadOnlyRepoError(DeployError):
    """The tracked repository is a remote gitberth cannot push to: open a pull request."""

    code = "read_only_repo"


def stalling_codes() -> frozenset[str]:
    """The codes of every error class that stalls (see :class:`GitberthError`)."""
    found: set[str] = set()
    pending: list[type[GitberthError]] = [GitberthError]
    while pending:
        cls = pending.pop()
        if cls.stalls:
            found.add(cls.code)
        pending.extend(cls.__subclasses__())
    return frozenset(found)
