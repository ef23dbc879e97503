"""Real Git servers on 127.0.0.1, started by tests: ``git daemon``, Git's smart HTTP behind
Debian's lighttpd with basic auth, and Debian's OpenSSH server with a key-only login.

Each serves bare repositories from one directory and can change its credentials (or, for
sshd, its host key) while running, as a real server's operator would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import git

from tests.support.gitrepo import GitRepo

GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited:\n{log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class BareRepo:
    """A bare repository the servers export, fed from a working copy the test commits in."""

    path: Path
    work: GitRepo

    @classmethod
    def create(cls, root: Path, name: str) -> BareRepo:
        work = GitRepo(root / f"{name}-work")
        work.commit({"README.md": "apps live in apps/\n"}, message="start")
        git.Repo.clone_from(str(work.path), str(root / f"{name}.git"), bare=True)
        bare = cls(path=root / f"{name}.git", work=work)
        work.repo.create_remote("server", str(bare.path))
        return bare

    def commit(self, files: dict[str, str] | None = None, *, remove: tuple[str, ...] = ()) -> str:
        """Commit in the working copy and push it to the bare repository (as a developer)."""
        self.work.repo.git.pull("server", "main", "--ff-only")
        sha = self.work.commit(files, remove=remove)
        self.work.repo.git.push("server", "main")
        return sha

    def head(self) -> git.Commit:
        return git.Repo(str(self.path)).commit("main")


@dataclass
class GitDaemon:
    """``git daemon`` exporting every repository under *root*, pushes enabled."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def start(self) -> None:
        log = self.root / "daemon.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    "git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
                    f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={self.port}",
                    str(self.root),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_port(self.port, self.process, log)

    def stop(self) -> None:
        stop(self.process)
        self.process = None


@dataclass
class GitHttpServer:
    """lighttpd running ``git http-backend`` as CGI under ``/git/``, behind basic auth.

    The user file is read by lighttpd on every request, so :meth:`set_password` takes effect
    at once, as rotating a token on a Git host does."""

    root: Path
    username: str
    password: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/git/{name}.git"

    @property
    def _users(self) -> Path:
        return self.root / "lighttpd-users"

    def set_password(self, password: str) -> None:
        self.password = password
        self._users.write_text(f"{self.username}:{password}\n")

    def start(self) -> None:
        self.set_password(self.password)
        config = self.root / "lighttpd.conf"
        config.write_text(
            f"""
server.modules = ("mod_alias", "mod_auth", "mod_authn_file", "mod_cgi", "mod_setenv")
server.document-root = "{self.root}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.errorlog = "{self.root / "lighttpd-error.log"}"
alias.url = ("/git/" => "{GIT_HTTP_BACKEND}/")
$HTTP["url"] =~ "^/git/" {{
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "{self.root}", "GIT_HTTP_EXPORT_ALL" => "1")
}}
auth.backend = "plain"
auth.backend.plain.userfile = "{self._users}"
auth.require = ("/git/" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
"""
        )
        log = self.root / "lighttpd.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                ["lighttpd", "-D", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self.process, log)

    def stop(self) -> None:
        stop(self.process)
        self.process = None


@dataclass
class SshKey:
    private: str
    public: str

    @classmethod
    def generate(cls, directory: Path, name: str, *, passphrase: str = "") -> SshKey:
        path = directory / name
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", str(path)],
            check=True,
        )
        key = cls(private=path.read_text(), public=(directory / f"{name}.pub").read_text())
        path.unlink()  # the test holds it; it lives in the secret store from now on
        return key

    @property
    def sentinel(self) -> str:
        """A line of the private key's body: found anywhere, the key has leaked."""
        return self.private.splitlines()[2]


@dataclass
class SshServer:
    """Debian's sshd as root on a high port with its own config and host key; the only login is
    the current user with a key from a temp ``authorized_keys`` file (no passwords)."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    host_key: Path | None = None

    @property
    def user(self) -> str:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name

    def url(self, repo: BareRepo) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo.path}"

    def authorize(self, *keys: SshKey) -> None:
        (self.root / "authorized_keys").write_text("".join(key.public for key in keys))

    def new_host_key(self) -> None:
        self.host_key = self.root / f"host_key_{time.monotonic_ns()}"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], check=True
        )

    def known_hosts_line(self) -> str:
        assert self.host_key is not None
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    def start(self) -> None:
        if self.host_key is None:
            self.new_host_key()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        config = self.root / "sshd_config"
        config.write_text(
            f"""
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile none
AuthorizedKeysFile {self.root / "authorized_keys"}
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
"""
        )
        log = self.root / "sshd.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self.process, log)

    def stop(self) -> None:
        stop(self.process)
        self.process = None


def have(program: str) -> bool:
    return shutil.which(program) is not None or Path(program).exists()
