"""How a source's credentials secret becomes what one Git command sees, and nothing more."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from gitberth.askpass import answer_file
from gitberth.core.errors import ConfigError, SealedError, SourceError
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial
from gitberth.git_credentials import (
    HttpsCredentials,
    SshCredentials,
    explain_failure,
    git_environment,
    parse_credentials,
    refuse_credentials_in_url,
    store_loader,
)


def material(name: str, **values: str) -> SecretMaterial:
    keys = {k: SecretKeyMaterial(value=SecretStr(v), fingerprint="f") for k, v in values.items()}
    return SecretMaterial(name=name, app_id=None, keys=keys)


@pytest.mark.parametrize(
    "url",
    [
        "https://deployer:tok-SENTINEL@git.example.test/acme/deploys.git",
        "https://tok-SENTINEL@git.example.test/acme/deploys.git",
        "ssh://git:tok-SENTINEL@git.example.test/acme/deploys.git",
        "http://tok-SENTINEL:@127.0.0.1:8080/deploys.git",
    ],
)
def test_a_url_carrying_credentials_is_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        refuse_credentials_in_url(url)
    message = str(caught.value)
    assert "tok-SENTINEL" not in message
    assert "carries credentials" in message and "--repo-credentials" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.test/acme/deploys.git",
        "ssh://git@git.example.test:2222/acme/deploys.git",
        "git@git.example.test:acme/deploys.git",
        "file:///srv/deploys.git",
    ],
)
def test_a_url_without_credentials_or_with_an_ssh_user_name_is_accepted(url: str) -> None:
    refuse_credentials_in_url(url)


def test_https_needs_a_user_name_and_a_password_or_token() -> None:
    url = "https://git.example.test/acme/deploys.git"
    assert isinstance(
        parse_credentials(material("c", USERNAME="u", TOKEN="t"), url=url), HttpsCredentials
    )
    with pytest.raises(SourceError, match="needs USERNAME and PASSWORD"):
        parse_credentials(material("c", PASSWORD="p-SENTINEL"), url=url)


def test_ssh_needs_a_key_and_pinned_host_keys() -> None:
    url = "git@git.example.test:acme/deploys.git"
    with pytest.raises(SourceError, match="lacks KNOWN_HOSTS"):
        parse_credentials(material("c", SSH_PRIVATE_KEY="k"), url=url)
    parsed = parse_credentials(material("c", SSH_PRIVATE_KEY="k", KNOWN_HOSTS="h"), url=url)
    assert isinstance(parsed, SshCredentials) and parsed.passphrase is None


def test_a_sealed_store_pauses_fetching_and_says_why() -> None:
    def sealed() -> dict[tuple[str | None, str], SecretMaterial]:
        raise SealedError()

    with pytest.raises(SealedError, match="pauses until an operator unseals"):
        store_loader(sealed, secret="git-creds", url="https://h/r.git")()
    with pytest.raises(SourceError, match="git-creds does not exist"):
        store_loader(dict, secret="git-creds", url="https://h/r.git")()


def test_askpass_answers_user_name_and_password_prompts_and_never_says_yes() -> None:
    assert answer_file("Username for 'https://h': ") == "username"
    assert answer_file("Password for 'https://u@h': ") == "password"
    assert answer_file("Enter passphrase for key '/x/key': ") == "password"
    assert (
        answer_file("Are you sure you want to continue connecting (yes/no/[fingerprint])?") is None
    )


def test_a_commands_files_are_private_hold_no_value_in_the_environment_and_vanish(
    tmp_path: Path,
) -> None:
    credentials = SshCredentials(
        secret="c",
        private_key=SecretStr("KEY-SENTINEL"),
        known_hosts="[127.0.0.1]:2222 ssh-ed25519 AAAA",
        passphrase=SecretStr("PHRASE-SENTINEL"),
    )
    with git_environment(credentials, ram_dir=tmp_path) as env:
        (directory,) = list(tmp_path.iterdir())
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert {stat.S_IMODE(f.stat().st_mode) for f in directory.iterdir()} == {0o600}
        assert (directory / "key").read_text() == "KEY-SENTINEL\n"
        text = repr(env)
        assert "SENTINEL" not in text
        assert "StrictHostKeyChecking=yes" in env["GIT_SSH_COMMAND"]
    assert list(tmp_path.iterdir()) == []


def test_failures_are_explained_by_the_secret_they_concern() -> None:
    https = HttpsCredentials(secret="c", username=SecretStr("u"), password=SecretStr("p"))
    assert "refused the user name and password of credentials secret c" in str(
        explain_failure("fatal: Authentication failed for 'http://h/r.git/'", credentials=https)
    )
    changed = (
        "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed."
    )
    assert "host key changed" in str(explain_failure(changed, credentials=https))
    assert "not in KNOWN_HOSTS" in str(
        explain_failure(
            "No ED25519 host key is known for [h]:22\nHost key verification failed.",
            credentials=None,
        )
    )


def test_sweeping_orphan_container_directories_leaves_a_running_git_commands_credentials(
    tmp_path: Path,
) -> None:
    from gitberth.runtime.secret_files import SecretFilesRoot

    https = HttpsCredentials(secret="c", username=SecretStr("u"), password=SecretStr("p"))
    (tmp_path / "orphan-1.abc").mkdir()
    with git_environment(https, ram_dir=tmp_path) as env:
        removed = SecretFilesRoot(tmp_path).sweep(in_use=[])
        assert removed == [tmp_path / "orphan-1.abc"]
        assert (Path(env["GITBERTH_ASKPASS_DIR"]) / "password").read_text() == "p"
