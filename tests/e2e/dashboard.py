"""What the browser tests share: the demo's contacts imported as a user would, and signing
in to the dashboard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.processes import clean_environment

CHROMIUM = Path("/usr/bin/chromium")
SMSVIA = str(Path(sys.executable).parent / "smsvia")
SHOTS = Path(__file__).parent / "screenshots"


def import_csv(cwd: Path, account: str, rows: list[str]) -> None:
    """`smsvia contacts import` of a CSV with these lines (the header first)."""
    (cwd / "contacts.csv").write_text("\n".join(rows) + "\n")
    subprocess.run(
        [SMSVIA, "contacts", "import", "contacts.csv", "--account", account],
        cwd=cwd,
        env=clean_environment(),
        check=True,
        capture_output=True,
        timeout=60,
    )


def sign_in(page, base: str, sid: str, token: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email or Account SID").fill(sid)
    page.get_by_label("Password or Auth Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
