"""Webhook signatures of the three forges, and no credential in a message about a remote."""

from __future__ import annotations

import hashlib
import hmac

from gitberth.api.routes_hooks import signature_ok
from gitberth.remote import is_remote, sanitize


def test_webhook_signatures_of_the_three_forges() -> None:
    body = b'{"ref": "refs/heads/main"}'
    digest = hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    assert signature_ok(secret="s3", body=body, headers={"x-hub-signature-256": f"sha256={digest}"})
    assert signature_ok(secret="s3", body=body, headers={"x-gitea-signature": digest})
    assert signature_ok(secret="s3", body=body, headers={"x-gitlab-token": "s3"})
    assert not signature_ok(secret="s3", body=body + b" ", headers={"x-gitea-signature": digest})
    assert not signature_ok(secret="s3", body=body, headers={"x-gitlab-token": "s4"})
    assert not signature_ok(secret="s3", body=body, headers={})


def test_credentials_never_survive_in_a_message() -> None:
    text = "fatal: could not read https://bob:hunter2@git.example/x.git and ssh://tok@h/y"
    assert sanitize(text) == "fatal: could not read https://git.example/x.git and ssh://h/y"
    assert is_remote("file:///srv/repo") and is_remote("git@host:org/repo.git")
    assert not is_remote("/srv/repo")
