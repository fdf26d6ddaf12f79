import base64
import os
import stat

import pytest

from smsvia.store.crypto import Cipher, MasterKeyError, load_master_key

KEY = bytes(range(32))


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
    with pytest.raises(MasterKeyError, match="wrong SMSVIA_MASTER_KEY"):
        Cipher(bytes(32)).open(sealed)


def test_blind_index_is_stable_keyed_and_contextual():
    cipher = Cipher(KEY)
    assert cipher.blind_index("+1415", "phone") == cipher.blind_index("+1415", "phone")
    assert cipher.blind_index("+1415", "phone") != cipher.blind_index("+1415", "email")
    assert cipher.blind_index("+1415", "phone") != Cipher(bytes(32)).blind_index("+1415", "phone")


def test_master_key_is_generated_once_with_mode_0600(tmp_path):
    first = load_master_key(None, tmp_path / "data")
    path = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_master_key(None, tmp_path / "data") == first


def test_configured_master_key_wins(tmp_path):
    key = base64.b64encode(KEY).decode()
    assert load_master_key(key, tmp_path) == KEY
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_bad_master_key_is_a_clear_error(tmp_path, bad):
    with pytest.raises(MasterKeyError):
        load_master_key(bad, tmp_path)
