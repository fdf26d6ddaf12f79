"""`smsvia cost` run as a user runs it: the installed command, in a child process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SMSVIA = str(Path(sys.executable).parent / "smsvia")


def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None):
    return subprocess.run(
        [SMSVIA, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def cost_json(*args: str, **kwargs) -> dict:
    result = run("cost", *args, "--json", **kwargs)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("1" * 160, 1),
        ("1" * 161, 2),
        ("1" * 306, 2),
        ("1" * 307, 3),
        ("{" + "a" * 158, 1),
        ("{" + "a" * 159, 2),
        ("😜" + "a" * 68, 1),
        ("😜" + "a" * 69, 2),
        ("😜" + "a" * 133, 3),
        ("🇮🇹" + "a" * 66, 1),
        ("🇮🇹" + "a" * 67, 2),
        ("é" + "a" * 159, 1),
        ("é" + "a" * 160, 2),
    ],
    ids=lambda value: value if isinstance(value, int) else f"{value[:2]}+{len(value)}",
)
def test_cost_answers_the_issue_vectors(text, segments):
    assert cost_json(text)["segments"] == segments


def test_cost_json_contract_fields():
    data = cost_json("Hi 😜 " + "a" * 100, "--to", "+4915112345678")
    assert data["encoding"] == "UCS-2"
    assert data["segments"] == 2
    assert data["parts"] == [67, 39]
    assert data["price"] == "0.2080"
    assert data["currency"] == "USD"
    assert data["country"] == "DE"
    assert data["ucs2_characters"] == [
        {
            "char": "😜",
            "position": 3,
            "codepoint": "U+1F61C",
            "name": "FACE WITH STUCK-OUT TONGUE AND WINKING EYE",
            "suggestion": None,
        }
    ]


def test_cost_explains_320_characters_are_three_segments():
    result = run("cost", "a" * 320)
    out = result.stdout.decode()
    assert result.returncode == 0
    assert "153 + 153 + 14" in out
    assert "not 2" in out


def test_cost_highlights_the_characters_that_forced_ucs2():
    out = run("cost", "it’s done").stdout.decode()
    assert "U+2019 RIGHT SINGLE QUOTATION MARK" in out
    assert "--smart-encoding" in out


def test_cost_smart_encoding_reports_replacements():
    data = cost_json("“Sale” — 20% off", "--smart-encoding")
    assert data["encoding"] == "GSM-7"
    assert data["smart_encoding"]["applied"] is True
    assert [r["original"] for r in data["smart_encoding"]["replacements"]] == ["“", "”", "—"]


def test_cost_mms_uses_the_mms_price():
    assert cost_json("photo", "--mms")["price"] == "0.0600"


def test_cost_reads_stdin_when_text_is_dash():
    data = cost_json("-", stdin=b"a" * 161 + b"\n")  # echo's newline is not part of the text
    assert data["characters"] == 161
    assert data["segments"] == 2


def test_cost_uses_an_operator_price_book(tmp_path):
    book = tmp_path / "book.toml"
    book.write_text('[countries.US]\nsms = "0.0100"\n')
    assert cost_json("hi", env={"SMSVIA_PRICE_BOOK": str(book)})["price"] == "0.0100"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["cost", "x", "--to", "12"], None, "error 21211"),
        (["cost", "x", "--to", "+8613800138000"], None, "error 21408"),
        (["cost", "a" * 1601], None, "error 21617"),
        (["cost", "-"], b"a\0b", "NUL character at position 1"),
        (["cost", "-"], b"\xff\xfe", "not UTF-8"),
        (["cost", "-"], "a\ud83d".encode("utf-8", "surrogatepass"), "not UTF-8"),
        (["cost"], None, "Missing argument"),
    ],
)
def test_bad_input_is_one_clear_line_on_stderr_not_a_traceback(args, stdin, message):
    result = run(*args, stdin=stdin)
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert message in stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""


def test_lone_surrogate_in_an_argument_is_refused():
    # A non-UTF-8 argument reaches Python as a lone surrogate (surrogateescape).
    result = run("cost", os.fsdecode(b"caf\xe9"))
    assert result.returncode != 0
    assert "lone surrogate" in result.stderr.decode()


def test_broken_price_book_is_a_clear_error(tmp_path):
    book = tmp_path / "book.toml"
    book.write_text("[countries.US]\nsms = 0.01\n")
    result = run("cost", "hi", env={"SMSVIA_PRICE_BOOK": str(book)})
    assert result.returncode != 0
    assert "write prices as strings" in result.stderr.decode()


def test_every_command_has_help():
    for args in (["--help"], ["cost", "--help"]):
        result = run(*args)
        assert result.returncode == 0
        assert "Usage" in result.stdout.decode()
