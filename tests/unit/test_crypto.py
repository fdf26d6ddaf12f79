import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from smsvia.store.crypto import Cipher, MasterKeyError, load_master_keys, new_master_key

KEY = bytes(range(32))
NEW = bytes(range(32, 64))


def test_sealed_value_opens_and_hides_the_plaintext():
    cipher = Cipher(KEY)
    sealed = cipher.seal("+14155550100", "message.to")
    assert b"4155550100" not in sealed
    assert cipher.open(sealed, "message.to") == "+14155550100"


def test_same_plaintext_seals_differently_each_time():
    cipher = Cipher(KEY)
    assert cipher.seal("x") != cipher.seal("x")


def test_context_is_bound_in():
    cipher = Cipher(KEY)
    with pytest.raises(MasterKeyError):
        cipher.open(cipher.seal("secret", "message.body"), "message.to")


def test_wrong_key_cannot_open():
    sealed = Cipher(KEY).seal("secret")
    with pytest.raises(MasterKeyError, match="SMSVIA_MASTER_KEY"):
        Cipher(bytes(32)).open(sealed)


def test_blind_index_is_stable_keyed_and_contextual():
    cipher = Cipher(KEY)
    assert cipher.blind_index("+1415", "phone") == cipher.blind_index("+1415", "phone")
    assert cipher.blind_index("+1415", "phone") != cipher.blind_index("+1415", "email")
    assert cipher.blind_index("+1415", "phone") != Cipher(bytes(32)).blind_index("+1415", "phone")


def test_master_key_is_generated_once_with_mode_0600(tmp_path):
    first = load_master_keys(None, tmp_path / "data")
    path = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_master_keys(None, tmp_path / "data") == first


def test_configured_master_key_wins(tmp_path):
    key = base64.b64encode(KEY).decode()
    assert load_master_keys(key, tmp_path) == [KEY]
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_bad_master_key_is_a_clear_error(tmp_path, bad):
    with pytest.raises(MasterKeyError):
        load_master_keys(bad, tmp_path)


def _legacy_seal(key: bytes, plaintext: str, context: str) -> bytes:
    """A value as smsvia sealed it before key ids: version 1, nonce, AES-GCM."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"smsvia encryption")
    nonce = os.urandom(12)
    aead = AESGCM(derived.derive(key))
    return b"\x01" + nonce + aead.encrypt(nonce, plaintext.encode(), context.encode())


def test_values_sealed_before_key_ids_still_open():
    legacy = _legacy_seal(KEY, "+14155550100", "message.to")
    assert Cipher(KEY).open(legacy, "message.to") == "+14155550100"
    assert Cipher([NEW, KEY]).open(legacy, "message.to") == "+14155550100"
    assert not Cipher(KEY).is_current(legacy)


def test_a_ring_seals_with_its_first_key_and_opens_with_any():
    old, ring = Cipher(KEY), Cipher([NEW, KEY])
    before = old.seal("secret", "c")
    after = ring.seal("secret", "c")
    assert ring.open(before, "c") == ring.open(after, "c") == "secret"
    assert ring.is_current(after) and not ring.is_current(before)
    assert Cipher(NEW).open(after, "c") == "secret"
    assert ring.rotating and not old.rotating


def test_a_value_sealed_with_a_key_the_ring_lacks_is_a_clear_error():
    after = Cipher(NEW).seal("secret", "c")
    with pytest.raises(MasterKeyError, match="does not hold"):
        Cipher(KEY).open(after, "c")


def test_ring_indexes_map_every_key_to_the_primary_index():
    ring = Cipher([NEW, KEY])
    found = ring.indexes(["+1415", "+1416"], "phone")
    first = Cipher(NEW).blind_index("+1415", "phone")
    older = Cipher(KEY).blind_index("+1415", "phone")
    assert found.of("+1415") == first == ring.blind_index("+1415", "phone")
    assert found.canonical[older] == first and found.canonical[first] == first
    assert len(found.all) == 4
    assert set(found.every([first])) == {first, older}
    assert found.only({first}).all == [first, older]
    single = Cipher(KEY).indexes(["+1415"], "phone")
    assert single.all == [older]


def test_the_same_key_twice_in_a_ring_is_refused():
    with pytest.raises(MasterKeyError, match="twice"):
        Cipher([KEY, KEY])


def test_a_configured_ring_lists_the_new_key_first(tmp_path):
    text = f"{base64.b64encode(NEW).decode()}, {base64.b64encode(KEY).decode()}"
    assert load_master_keys(text, tmp_path) == [NEW, KEY]
    path = tmp_path / "master.key"
    path.write_text(f"{base64.b64encode(NEW).decode()}\n{base64.b64encode(KEY).decode()}\n")
    assert load_master_keys(None, tmp_path) == [NEW, KEY]


def test_new_master_keys_are_32_random_bytes():
    first, second = new_master_key(), new_master_key()
    assert first != second and len(base64.b64decode(first)) == 32
