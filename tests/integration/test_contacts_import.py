"""CSV import on SQLite and PostgreSQL: good rows in, bad rows reported, nothing in clear."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text

from smsvia.domain.consent import ConsentKind
from smsvia.services import accounts
from smsvia.services.consent import append, verify
from smsvia.services.contact_import import import_csv
from smsvia.store.marketing_models import ConsentEvent, Contact
from smsvia.store.models import Account

SMSVIA = str(Path(sys.executable).parent / "smsvia")
CSV = """Phone,First Name,Last Name,Email,Tags,Consent,Consent Date,Shoe size
+14155550100,Ada,Lovelace,ada@example.com,vip,yes,2026-03-01,38
415-555-0101,Grace,Hopper,grace@example.com,"boots,vip",,,41
12,Bad,Number,,,,,
+14155550102,Bad,Date,,,yes,31/12/2025,
+14155550103,Too,Many,,,,,,extra

+14155550104,Alan,Turing,,,,,
"""


def write(tmp_path: Path, content: str = CSV) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(content)
    return path


def count(backend, model) -> int:
    async def go():
        async with backend.store.db.sessions() as session:
            return await session.scalar(select(func.count()).select_from(model))

    return backend.run(go())


def test_good_rows_are_imported_and_bad_ones_reported(backend, tmp_path):
    shop = backend.run(accounts.create_account(backend.store, "shop"))
    errors = tmp_path / "errors.csv"
    report = backend.run(import_csv(backend.store, shop.sid, write(tmp_path), errors_to=errors))
    assert (report.rows, report.created, report.failed, report.consents) == (6, 3, 3, 1)
    rows = list(csv.DictReader(errors.open()))
    assert [(r["row"], r["field"]) for r in rows] == [
        ("4", "phone"),
        ("5", "consent_date"),
        ("6", ""),
    ]
    assert "9 columns where the header has 8" in rows[2]["error"]
    assert count(backend, Contact) == 3
    assert backend.run(verify(backend.store)) == (1, [])


def test_importing_again_updates_instead_of_duplicating(backend, tmp_path):
    shop = backend.run(accounts.create_account(backend.store, "shop"))
    path = write(tmp_path)
    backend.run(import_csv(backend.store, shop.sid, path, errors_to=tmp_path / "e1.csv"))
    path.write_text("phone,first_name,tags\n+14155550100,Augusta,poet\n")
    again = backend.run(import_csv(backend.store, shop.sid, path, errors_to=tmp_path / "e2.csv"))
    assert (again.created, again.updated) == (0, 1)
    assert count(backend, Contact) == 3

    async def ada():
        index = backend.store.cipher.blind_index("+14155550100", "phone")
        async with backend.store.db.sessions() as session:
            return await session.scalar(select(Contact).where(Contact.phone_index == index))

    contact = backend.run(ada())
    cipher = backend.store.cipher
    assert cipher.open(contact.first_name, "contact.first_name") == "Augusta"
    assert cipher.open(contact.last_name, "contact.last_name") == "Lovelace"  # kept
    assert contact.tags == ["poet", "vip"]


def test_reimported_evidence_adds_nothing_and_never_undoes_a_stop(backend, tmp_path):
    shop = backend.run(accounts.create_account(backend.store, "shop"))
    path = write(tmp_path)
    backend.run(import_csv(backend.store, shop.sid, path, errors_to=tmp_path / "e1.csv"))
    again = backend.run(import_csv(backend.store, shop.sid, path, errors_to=tmp_path / "e2.csv"))
    assert (again.consents, again.consents_known, again.kept_opted_out) == (0, 1, 0)

    async def stop(phone: str):
        async with backend.store.db.transaction() as session:
            account = await session.scalar(select(Account).where(Account.sid == shop.sid))
            await append(
                session,
                backend.store,
                account_id=account.id,
                phone=phone,
                kind=ConsentKind.OPTED_OUT,
                source="keyword",
                evidence={"text": "STOP"},
                now=datetime.now(UTC),
            )

    backend.run(stop("+14155550100"))
    path.write_text("phone,consent,consent_date\n+14155550100,yes,2026-11-01\n")
    third = backend.run(import_csv(backend.store, shop.sid, path, errors_to=tmp_path / "e3.csv"))
    assert (third.consents, third.kept_opted_out) == (0, 1)
    assert count(backend, ConsentEvent) == 2  # the first import and the STOP


def test_the_raw_database_holds_no_number_name_or_email(backend, tmp_path, settings):
    shop = backend.run(accounts.create_account(backend.store, "shop"))
    backend.run(import_csv(backend.store, shop.sid, write(tmp_path), errors_to=tmp_path / "e.csv"))
    secrets_ = ["4155550100", "Lovelace", "ada@example.com", "Hopper", "Turing"]
    if backend.store.db.is_sqlite:
        raw = Path(settings.database_url.split("///", 1)[1]).read_bytes()
        wal = Path(str(settings.database_url.split("///", 1)[1]) + "-wal")
        raw += wal.read_bytes() if wal.exists() else b""
        dump = raw.decode("latin-1")
    else:

        async def tables():
            async with backend.store.db.sessions() as session:
                parts = []
                for table in ("contacts", "consent_events"):
                    rows = await session.execute(text(f"SELECT t::text FROM {table} t"))
                    parts.extend(row[0] for row in rows)
                return "\n".join(parts)

        dump = backend.run(tables())
    for secret in secrets_:
        assert secret not in dump


def test_import_command_shows_progress_and_a_summary(backend, tmp_path, settings):
    shop = backend.run(accounts.create_account(backend.store, "shop"))
    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": settings.database_url,
        "SMSVIA_MASTER_KEY": settings.master_key.get_secret_value(),
        "SMSVIA_DATA_DIR": str(settings.data_dir),
    }
    path = write(tmp_path)
    done = subprocess.run(
        [SMSVIA, "contacts", "import", str(path), "--account", shop.sid],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "6 rows: 3 contacts created, 0 updated, 1 consents recorded (0 already known, "
        "0 ignored: opted out), 3 rows refused"
    ) in " ".join(done.stdout.split())
    assert (tmp_path / "contacts.csv.errors.csv").exists()
    assert "importing contacts.csv" in done.stderr
    missing = subprocess.run(
        [SMSVIA, "contacts", "import", str(tmp_path / "nope.csv"), "--account", shop.sid],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert count(backend, ConsentEvent) == 1


def test_a_file_of_several_batches_is_imported_whole(backend, tmp_path):
    # Three batches: the statistics are refreshed after the first and second (PostgreSQL).
    shop = backend.run(accounts.create_account(backend.store, "shop"))
    lines = "".join(f"+1415555{n:04d},Customer {n}\n" for n in range(2500))
    path = write(tmp_path, "phone,first_name\n" + lines)
    report = backend.run(import_csv(backend.store, shop.sid, path, errors_to=tmp_path / "e.csv"))
    assert (report.rows, report.created, report.failed) == (2500, 2500, 0)
    assert count(backend, Contact) == 2500
