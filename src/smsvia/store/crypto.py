"""Encryption at rest: AES-GCM for personal data and secrets, an HMAC blind index for look-ups.

Both keys are derived from the one master key with HKDF, so a leaked blind index says nothing
about the encryption key and the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from smsvia.domain.errors import DomainError

KEY_FILE = "master.key"
_VERSION = b"\x01"  # first byte of every ciphertext, so keys can be rotated later
_NONCE = 12


class MasterKeyError(DomainError):
    code = 100020
    http_status = 500


class Cipher:
    """Seals and opens values with the master key; blind-indexes values for equality look-ups."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise MasterKeyError("the master key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(_derive(master_key, b"smsvia encryption"))
        self._index_key = _derive(master_key, b"smsvia blind index")
        # For what the server signs but need not hide (dashboard session cookies).
        self.signing_key = _derive(master_key, b"smsvia signing")

    def seal(self, plaintext: str, context: str = "") -> bytes:
        """Encrypt; `context` (e.g. the column name) is bound in, so values cannot be swapped."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return _VERSION + nonce + sealed

    def open(self, ciphertext: bytes, context: str = "") -> str:
        if not ciphertext.startswith(_VERSION):
            raise MasterKeyError("encrypted value has an unknown format version")
        nonce, sealed = ciphertext[1 : 1 + _NONCE], ciphertext[1 + _NONCE :]
        try:
            plaintext = self._aead.decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag as exc:
            raise MasterKeyError(
                "an encrypted value cannot be opened: wrong SMSVIA_MASTER_KEY or tampered data"
            ) from exc
        return plaintext.decode("utf-8")

    def blind_index(self, value: str, context: str = "") -> str:
        """A keyed hash of `value`: equal values give equal indexes, and nothing else leaks."""
        digest = hmac.new(
            self._index_key, f"{context}\0{value}".encode(), hashlib.sha256
        ).hexdigest()
        return digest[:40]


def load_master_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the one in the data dir, else a new one written there (0600)."""
    if configured:
        return _decode(configured, "SMSVIA_MASTER_KEY")
    path = data_dir / KEY_FILE
    if path.exists():
        return _decode(path.read_text().strip(), str(path))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # O_EXCL: two processes starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode(path.read_text().strip(), str(path))
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


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
