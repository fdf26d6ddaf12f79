"""Encryption at rest: AES-GCM for personal data and secrets, an HMAC blind index for look-ups.

Both keys are derived from the master key with HKDF, so a leaked blind index says nothing
about the encryption key and the other way round.

The master key can be rotated (`smsvia keys rotate-master`, services/key_rotation.py): the
configuration then holds a ring of keys, the new one first. Values are sealed with the first
and carry its id, so any key of the ring opens them; look-ups match a value's blind index under
every key of the ring (`Cipher.indexes`), since rows are re-keyed one batch at a time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ColumnElement, case

from smsvia.domain.errors import DomainError

KEY_FILE = "master.key"
# First byte of every ciphertext. Version 1 (before rotation existed) names no key; version 2
# is followed by the id of the key that sealed it.
_V1 = b"\x01"
_V2 = b"\x02"
_KEY_ID = 4
_NONCE = 12


class MasterKeyError(DomainError):
    code = 100020
    http_status = 500


class _Key:
    """One master key and what is derived from it."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise MasterKeyError("the master key must be 32 bytes (base64 of 32 random bytes)")
        self.id = _derive(master_key, b"smsvia key id")[:_KEY_ID]
        self.aead = AESGCM(_derive(master_key, b"smsvia encryption"))
        self.index_key = _derive(master_key, b"smsvia blind index")
        self.signing_key = _derive(master_key, b"smsvia signing")

    def blind_index(self, value: str, context: str) -> str:
        digest = hmac.new(self.index_key, f"{context}\0{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:40]


class Cipher:
    """Seals and opens values with the master key; blind-indexes values for equality look-ups.

    Given a ring of keys (newest first), it seals and indexes with the first and opens with
    any."""

    def __init__(self, master_key: bytes | Sequence[bytes]) -> None:
        ring = [master_key] if isinstance(master_key, bytes) else list(master_key)
        if not ring:
            raise MasterKeyError("no master key given")
        self._ring = [_Key(key) for key in ring]
        self._by_id = {key.id: key for key in self._ring}
        if len(self._by_id) != len(self._ring):
            raise MasterKeyError("SMSVIA_MASTER_KEY names the same key twice")
        self._primary = self._ring[0]
        # For what the server signs but need not hide (dashboard session cookies).
        self.signing_key = self._primary.signing_key
        self.signing_keys = tuple(key.signing_key for key in self._ring)

    @property
    def rotating(self) -> bool:
        """True while older keys are in the ring: rows may still be sealed or indexed by them."""
        return len(self._ring) > 1

    @property
    def key_id(self) -> str:
        """The primary key's public id (hex), as shown by `smsvia keys rotate-master`."""
        return self._primary.id.hex()

    def seal(self, plaintext: str, context: str = "") -> bytes:
        """Encrypt; `context` (e.g. the column name) is bound in, so values cannot be swapped."""
        nonce = os.urandom(_NONCE)
        sealed = self._primary.aead.encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        return _V2 + self._primary.id + nonce + sealed

    def open(self, ciphertext: bytes, context: str = "") -> str:
        if ciphertext.startswith(_V2):
            key = self._by_id.get(ciphertext[1 : 1 + _KEY_ID])
            if key is None:
                raise MasterKeyError(
                    "an encrypted value was sealed with a master key SMSVIA_MASTER_KEY does "
                    "not hold (a rotation's new key missing from this process?)"
                )
            return _decrypt([key], ciphertext[1 + _KEY_ID :], context)
        if ciphertext.startswith(_V1):
            return _decrypt(self._ring, ciphertext[1:], context)
        raise MasterKeyError("encrypted value has an unknown format version")

    @property
    def current_prefix(self) -> bytes:
        """How every value sealed with the primary key begins."""
        return _V2 + self._primary.id

    def is_current(self, ciphertext: bytes) -> bool:
        """Whether this value is sealed with the primary key (nothing for a rotation to do)."""
        return ciphertext[: 1 + _KEY_ID] == self.current_prefix

    def blind_index(self, value: str, context: str = "") -> str:
        """A keyed hash of `value`: equal values give equal indexes, and nothing else leaks.
        Under the primary key: what a row is written with."""
        return self._primary.blind_index(value, context)

    def lookup_indexes(self, value: str, context: str = "") -> list[str]:
        """One value's indexes under every key of the ring: what a look-up by it matches
        (`column IN ...`). Same signature as `blind_index`, which is for writing."""
        return self.indexes([value], context).all

    def indexes(self, values: Iterable[str], context: str = "") -> Indexes:
        """These values' indexes under every key of the ring, for look-ups."""
        primary: dict[str, str] = {}
        canonical: dict[str, str] = {}
        for value in values:
            if value in primary:
                continue
            first = primary[value] = self._primary.blind_index(value, context)
            for key in self._ring:
                canonical[key.blind_index(value, context)] = first
        return Indexes(primary, canonical)


@dataclass(frozen=True, slots=True)
class Indexes:
    """Blind indexes of some values: the primary one each is written with, and every ring
    index a stored row may still carry while a rotation re-keys the tables."""

    primary: dict[str, str]  # value -> its index under the primary key
    canonical: dict[str, str]  # any ring index of a value -> its primary index

    def of(self, value: str) -> str:
        return self.primary[value]

    @property
    def all(self) -> list[str]:
        """What a look-up matches: `column IN all`."""
        return list(self.canonical)

    def only(self, primaries: Collection[str]) -> Indexes:
        """The same, for the values whose primary indexes these are."""
        return Indexes(
            {value: first for value, first in self.primary.items() if first in primaries},
            {stored: first for stored, first in self.canonical.items() if first in primaries},
        )

    def every(self, primaries: Collection[str]) -> list[str]:
        """The ring indexes of the values whose primary indexes these are."""
        wanted = set(primaries)
        return [stored for stored, first in self.canonical.items() if first in wanted]

    def normalized(self, column: ColumnElement[str]) -> ColumnElement[str]:
        """`column` as primary indexes, for grouping or returning: during a rotation a row
        indexed by an older key maps to the primary index of the same value."""
        older = {stored: first for stored, first in self.canonical.items() if stored != first}
        if not older:
            return column
        return case(older, value=column, else_=column)


def load_master_keys(configured: str | None, data_dir: Path) -> list[bytes]:
    """The configured ring ("new,old"; or one key), else the key file's (one key a line),
    else a new key written there (0600)."""
    if configured:
        return _ring(configured.split(","), "SMSVIA_MASTER_KEY")
    path = data_dir / KEY_FILE
    if path.exists():
        return _ring(path.read_text().split(), str(path))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = new_master_key()
    # O_EXCL: two processes starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _ring(path.read_text().split(), str(path))
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return [_decode(key, str(path))]


def new_master_key() -> str:
    """A fresh master key as configuration holds it (base64 of 32 random bytes)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _ring(texts: list[str], where: str) -> list[bytes]:
    keys = [_decode(text.strip(), where) for text in texts if text.strip()]
    if not keys:
        raise MasterKeyError(f"{where} holds no key")
    return keys


def _decrypt(keys: Sequence[_Key], nonce_and_sealed: bytes, context: str) -> str:
    nonce, sealed = nonce_and_sealed[:_NONCE], nonce_and_sealed[_NONCE:]
    for key in keys:
        try:
            plaintext = key.aead.decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag:
            continue
        return plaintext.decode("utf-8")
    raise MasterKeyError(
        "an encrypted value cannot be opened: wrong SMSVIA_MASTER_KEY or tampered data"
    )


def _decode(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError(f"{where} is not base64") from exc
    if len(key) != 32:
        raise MasterKeyError(f"{where} must hold 32 bytes, it holds {len(key)}")
    return key


def _derive(master_key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master_key)
