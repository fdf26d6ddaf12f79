"""`smsvia connectors add|update|list` as a user runs them, on both databases."""

from __future__ import annotations

import json
import os
import subprocess

from tests.integration.test_smpp_tls import certificate
from tests.processes import SMSVIA


def smsvia(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": settings.database_url,
        "SMSVIA_MASTER_KEY": settings.master_key.get_secret_value(),
        "SMSVIA_DATA_DIR": str(settings.data_dir),
    }
    return subprocess.run([SMSVIA, *args], capture_output=True, text=True, env=env, timeout=60)


def listed(settings) -> dict[str, dict]:
    answer = smsvia(settings, "connectors", "list", "--json")
    assert answer.returncode == 0, answer.stderr
    return {c["name"]: c for c in json.loads(answer.stdout)}


def test_receipt_ids_are_set_when_added_and_changed_later(backend, settings):
    add = ["connectors", "add", "smpp", "carrier1", "--host", "127.0.0.1", "--port", "2775"]
    added = smsvia(
        settings, *add, "--system-id", "shop", "--password", "pw", "--receipt-ids", "hex-to-decimal"
    )
    assert added.returncode == 0, added.stderr
    assert listed(settings)["carrier1"]["receipt_ids"] == "hex-to-decimal"

    updated = smsvia(
        settings,
        "connectors",
        "update",
        "smpp",
        "carrier1",
        "--receipt-ids",
        "exact",
        "--window",
        "50",
    )
    assert updated.returncode == 0, updated.stderr
    carrier = listed(settings)["carrier1"]
    assert (carrier["receipt_ids"], carrier["window"], carrier["tps"]) == ("exact", 50, 50)


def test_the_enquire_link_interval_is_set_when_added_and_changed_later(backend, settings):
    add = ["connectors", "add", "smpp", "carrier2", "--host", "127.0.0.1", "--port", "2775"]
    added = smsvia(settings, *add, "--system-id", "shop", "--password", "pw")
    assert added.returncode == 0, added.stderr
    assert listed(settings)["carrier2"]["enquire_link_interval"] == 30
    update = ["connectors", "update", "smpp", "carrier2", "--enquire-link-interval"]
    assert smsvia(settings, *update, "10").returncode == 0
    assert listed(settings)["carrier2"]["enquire_link_interval"] == 10


def test_the_response_timeout_is_set_when_added_and_changed_later(backend, settings):
    add = ["connectors", "add", "smpp", "carrier3", "--host", "127.0.0.1", "--port", "2775"]
    login = ["--system-id", "shop", "--password", "pw"]
    assert smsvia(settings, *add, *login, "--response-timeout", "60").returncode == 0
    assert listed(settings)["carrier3"]["response_timeout"] == 60
    update = ["connectors", "update", "smpp", "carrier3", "--response-timeout", "5"]
    assert smsvia(settings, *update).returncode == 0
    assert listed(settings)["carrier3"]["response_timeout"] == 5


def test_bad_connector_changes_are_refused_in_one_line(backend, settings):
    add = ["connectors", "add", "smpp", "c1", "--host", "h", "--port", "2775"]
    smsvia(settings, *add, "--system-id", "shop", "--password", "pw")
    for args, said in [
        (["--receipt-ids", "sometimes"], "receipt ids must be one of exact, hex-to-decimal"),
        (["--window", "0"], "tps and window must be at least 1"),
        (["--enquire-link-interval", "0"], "enquire_link interval must be 1 to 3600 seconds"),
        (["--response-timeout", "601"], "response timeout must be 1 to 600 seconds"),
        ([], "nothing to change"),
    ]:
        answer = smsvia(settings, "connectors", "update", "smpp", "c1", *args)
        assert answer.returncode != 0 and said in answer.stderr, answer.stderr
        assert "Traceback" not in answer.stderr
    missing = smsvia(settings, "connectors", "update", "smpp", "nope", "--tps", "5")
    assert missing.returncode != 0 and "'nope' not found" in missing.stderr
    assert listed(settings)["c1"]["receipt_ids"] == "auto"


def test_a_tls_ca_file_is_checked_kept_whole_and_dropped_with_an_empty_value(
    backend, settings, tmp_path
):
    cert, _key = certificate(tmp_path)
    add = ["connectors", "add", "smpp", "private", "--host", "127.0.0.1", "--port", "3550"]
    login = ["--system-id", "shop", "--password", "pw"]
    for args, said in [
        (["--tls-ca", cert], "--tls-ca needs --tls"),
        (["--tls", "--tls-ca", str(tmp_path / "none.pem")], "not a readable PEM file"),
        (["--tls", "--tls-ca", _key], "not a readable PEM file"),
    ]:
        refused = smsvia(settings, *add, *login, *args)
        assert refused.returncode != 0 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    relative = os.path.relpath(cert)  # kept as a path a worker started elsewhere finds
    added = smsvia(settings, *add, *login, "--tls", "--tls-ca", relative)
    assert added.returncode == 0, added.stderr
    assert listed(settings)["private"]["tls_ca"] == cert
    cleared = smsvia(settings, "connectors", "update", "smpp", "private", "--tls-ca", "")
    assert cleared.returncode == 0, cleared.stderr
    assert listed(settings)["private"]["tls_ca"] is None
