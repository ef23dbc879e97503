"""Seal and unseal: who may put the master key into memory, and how.

Two setups:

* **auto** (the default): the first ``serve`` on an empty state dir creates the master key in
  ``<state-dir>/master.key`` (0600) and every start unseals with it. Users never see "sealed".
* **shamir**: ``gitberth init --shares N --threshold K`` splits a new master key into N shares,
  printed once and stored nowhere. The server starts sealed; operators post shares (or the whole
  key) to ``POST /admin/unseal`` until K distinct shares rebuild the key.

``rekey`` replaces the master key of an unsealed store (a new key file, or new shares, or a
switch between the two): see :func:`rekey`.

Unsealing is a small state machine: partial progress (the shares so far) expires after a while,
a duplicate share is ignored, a wrong key or a wrong combination resets progress, and attempts
are rate limited in a sliding window.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitberth.core.errors import ConfigError, RateLimitedError, SealedError, UnsealError
from gitberth.secrets import crypto, shamir
from gitberth.secrets.store import SecretStore
from gitberth.secrets.store_keys import SEAL_MODE_AUTO, SEAL_MODE_SHAMIR
from gitberth.state import StateDir, write_private_file

logger = logging.getLogger(__name__)

DEFAULT_PROGRESS_TTL = 600.0
DEFAULT_MAX_ATTEMPTS = 20
DEFAULT_ATTEMPT_WINDOW = 60.0


@dataclass(frozen=True)
class SealStatus:
    """What ``GET /admin/seal-status`` shows; never a key or a share."""

    sealed: bool
    initialized: bool
    threshold: int
    shares: int
    progress: int

    def as_json(self) -> dict[str, bool | int]:
        return {
            "sealed": self.sealed,
            "initialized": self.initialized,
            "threshold": self.threshold,
            "shares": self.shares,
            "progress": self.progress,
        }


class SealManager:
    """Collects unseal keys or shares for a :class:`SecretStore` and seals it on request."""

    def __init__(
        self,
        store: SecretStore,
        *,
        progress_ttl: float = DEFAULT_PROGRESS_TTL,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        attempt_window: float = DEFAULT_ATTEMPT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._progress_ttl = progress_ttl
        self._max_attempts = max_attempts
        self._attempt_window = attempt_window
        self._clock = clock
        self._lock = threading.Lock()
        self._shares: dict[int, shamir.Share] = {}
        self._started: float | None = None
        self._attempts: deque[float] = deque()

    @property
    def store(self) -> SecretStore:
        return self._store

    def status(self) -> SealStatus:
        with self._lock:
            self._expire(self._clock())
            return self._status()

    def unseal(self, key_text: str) -> SealStatus:
        """Offer the whole master key or one share (base64).

        Raises :class:`UnsealError` (and resets progress) for a wrong key, a malformed one or
        shares that do not combine; :class:`RateLimitedError` when attempts come too fast.
        """
        with self._lock:
            now = self._clock()
            self._rate_limit(now)
            self._expire(now)
            if not self._store.sealed:
                return self._status()
            config = self._store.seal_config()
            if config is None:
                raise ConfigError("the secret store is not initialized; run gitberth init")
            try:
                self._offer(key_text, threshold=config.threshold, shares=config.shares, now=now)
            except UnsealError:
                self._reset()
                logger.warning("unseal attempt refused; progress reset")
                raise
            return self._status()

    def forget_progress(self) -> None:
        """Drop shares collected so far (they belong to a master key that was replaced)."""
        with self._lock:
            self._reset()

    def seal(self) -> SealStatus:
        """Drop the master key from memory; pending shares are forgotten too."""
        with self._lock:
            self._reset()
            self._store.lock()
            logger.info("secret store sealed")
            return self._status()

    def _offer(self, key_text: str, *, threshold: int, shares: int, now: float) -> None:
        try:
            raw = bytearray(base64.b64decode(key_text.strip(), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise UnsealError("the key is not valid base64") from exc
        try:
            if len(raw) == crypto.KEY_BYTES:
                _unlock(self._store, crypto.MasterKey(raw))
                self._reset()
                logger.info("secret store unsealed with the master key")
                return
            share = shamir.Share.from_bytes(bytes(raw))
        finally:
            raw[:] = bytes(len(raw))
        if share.threshold != threshold or share.index > shares:
            raise UnsealError("this share does not belong to this store's key split")
        if share.index in self._shares:
            return
        if not self._shares:
            self._started = now
        self._shares[share.index] = share
        if len(self._shares) < threshold:
            return
        key = bytearray(shamir.combine(list(self._shares.values())))
        self._reset()
        try:
            _unlock(self._store, crypto.MasterKey(key))
        finally:
            key[:] = bytes(len(key))
        logger.info("secret store unsealed with %d shares", threshold)

    def _status(self) -> SealStatus:
        config = self._store.seal_config()
        if config is None:
            return SealStatus(sealed=True, initialized=False, threshold=0, shares=0, progress=0)
        return SealStatus(
            sealed=self._store.sealed,
            initialized=True,
            threshold=config.threshold,
            shares=config.shares,
            progress=len(self._shares),
        )

    def _rate_limit(self, now: float) -> None:
        while self._attempts and self._attempts[0] <= now - self._attempt_window:
            self._attempts.popleft()
        if len(self._attempts) >= self._max_attempts:
            retry_after = self._attempts[0] + self._attempt_window - now
            raise RateLimitedError(
                f"too many unseal attempts; retry in {retry_after:.0f} s",
                retry_after=max(retry_after, 1.0),
            )
        self._attempts.append(now)

    def _expire(self, now: float) -> None:
        if self._started is not None and now - self._started > self._progress_ttl:
            logger.info("partial unseal progress expired")
            self._reset()

    def _reset(self) -> None:
        self._shares.clear()
        self._started = None


def _unlock(store: SecretStore, master: crypto.MasterKey) -> None:
    """Unlock, wiping the candidate key when it is refused (the store keeps it otherwise)."""
    try:
        store.unlock(master)
    except BaseException:
        master.wipe()
        raise


def open_default_setup(store: SecretStore, *, state: StateDir) -> str:
    """Start-up: create the auto-unseal key on an empty store, or unseal with the key file.

    Returns one sentence for the startup log. A Shamir store stays sealed; an auto store whose
    key file is missing or wrong also stays sealed (and says so) rather than refusing to start,
    so an operator can still unseal it through the API.
    """
    config = store.seal_config()
    key_path = state.master_key_path
    if config is None:
        if key_path.exists():
            master = _read_key_file(state)
            action = f"initialized the secret store with the existing {key_path}"
        else:
            master = crypto.MasterKey.generate()
            write_private_file(key_path, (master.to_base64() + "\n").encode())
            action = f"created the master key {key_path} (auto-unseal)"
        store.initialize(master, mode=SEAL_MODE_AUTO)
        return action
    if config.mode == SEAL_MODE_SHAMIR:
        return (
            f"the secret store is sealed (Shamir, {config.threshold} of {config.shares} shares); "
            "unseal it with POST /admin/unseal or gitberth unseal"
        )
    pending = _pending_key_path(state)
    if not key_path.exists() and not pending.exists():
        return f"the secret store is sealed: {key_path} is missing; unseal it with the master key"
    try:
        store.unlock(_read_key_file(state, path=key_path))
    except (UnsealError, ConfigError):
        if not pending.exists():
            return f"the secret store is sealed: {key_path} does not unseal it"
        # A rekey committed its new key but stopped before it replaced the key file.
        try:
            store.unlock(_read_key_file(state, path=pending))
        except (UnsealError, ConfigError):
            return f"the secret store is sealed: {key_path} does not unseal it"
        os.replace(pending, key_path)
        return f"unsealed the secret store with {key_path} (finished an interrupted rekey)"
    pending.unlink(missing_ok=True)
    return f"unsealed the secret store with {key_path}"


def _read_key_file(state: StateDir, *, path: Path | None = None) -> crypto.MasterKey:
    path = path or state.master_key_path
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}") from exc
    return crypto.MasterKey.from_base64(text)


def _pending_key_path(state: StateDir) -> Path:
    return state.master_key_path.with_name(state.master_key_path.name + ".new")


@dataclass(frozen=True)
class RekeyResult:
    """What an operator needs after a rekey: the new shares (Shamir), shown only once."""

    mode: str
    shares: int
    threshold: int
    term: int
    new_shares: tuple[shamir.Share, ...]


def rekey(
    store: SecretStore,
    *,
    state: StateDir,
    mode: str | None = None,
    shares: int | None = None,
    threshold: int | None = None,
) -> RekeyResult:
    """Replace the master key of an unsealed store; the old key or shares are useless after.

    *mode* ``auto`` writes a new ``master.key``; ``shamir`` splits the new key into *shares*
    shares (any *threshold* unseal) that are returned once and stored nowhere, and deletes the
    key file if there was one. Omitted, the store keeps its mode (and its split). Crash-safe for
    the key file: the new key is written to ``master.key.new`` before the database changes and
    renamed over ``master.key`` after, and a start that finds the rename undone finishes it.
    """
    config = store.seal_config()
    if config is None:
        raise ConfigError("the secret store is not initialized")
    mode = mode or config.mode
    if mode not in (SEAL_MODE_AUTO, SEAL_MODE_SHAMIR):
        raise ConfigError(f"unknown seal mode {mode!r}: use auto or shamir")
    if mode == SEAL_MODE_AUTO:
        if shares not in (None, 1) or threshold not in (None, 1):
            raise ConfigError("shares and threshold are for the shamir mode")
        shares = threshold = 1
    else:
        same = config.mode == SEAL_MODE_SHAMIR
        shares = shares or (config.shares if same else None)
        threshold = threshold or (config.threshold if same else None)
        if shares is None or threshold is None:
            raise ConfigError("switching to shamir needs shares and threshold")
        try:
            shamir.validate_split(shares=shares, threshold=threshold)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    if store.sealed:
        raise SealedError()
    master = crypto.MasterKey.generate()
    pending = _pending_key_path(state)
    parts: list[shamir.Share] = []
    if mode == SEAL_MODE_AUTO:
        pending.unlink(missing_ok=True)
        write_private_file(pending, (master.to_base64() + "\n").encode())
    else:
        parts = shamir.split(master.raw(), shares=shares, threshold=threshold)
    try:
        result = store.rekey(master, mode=mode, shares=shares, threshold=threshold)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    if mode == SEAL_MODE_AUTO:
        os.replace(pending, state.master_key_path)
    else:
        state.master_key_path.unlink(missing_ok=True)
    logger.info("secret store rekeyed (%s, term %d)", mode, result.term)
    return RekeyResult(
        mode=mode, shares=shares, threshold=threshold, term=result.term, new_shares=tuple(parts)
    )


def initialize_shamir(
    store: SecretStore, *, state: StateDir, shares: int, threshold: int
) -> list[shamir.Share]:
    """Create a master key split into *shares* shares (any *threshold* unseal); store none.

    The store is left sealed: the key exists only in the returned shares.
    """
    try:
        shamir.validate_split(shares=shares, threshold=threshold)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if store.seal_config() is not None:
        raise ConfigError(f"the secret store in {state.path} is already initialized")
    if state.master_key_path.exists():
        raise ConfigError(
            f"{state.master_key_path} exists: this state dir is set up for auto-unseal"
        )
    master = crypto.MasterKey.generate()
    parts = shamir.split(master.raw(), shares=shares, threshold=threshold)
    store.initialize(master, mode=SEAL_MODE_SHAMIR, shares=shares, threshold=threshold)
    store.lock()
    return parts
