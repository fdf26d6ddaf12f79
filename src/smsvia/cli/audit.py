"""`smsvia audit export`, and the audit log's entry for every command that changed something.

A command that finished without error is recorded after the fact (`record_command`): who ran
it ("cli:<user>"), the command ("keys.delete"), the object (its last positional argument: a
SID, a name or a file; never an email), the account (the first Account SID on the command
line) and the names of the options given — never their values, which may be passwords.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from smsvia.cli._common import err_console, with_runtime
from smsvia.domain import ids

audit_app = typer.Typer(help="The audit log: who changed what, when.", no_args_is_help=True)

# Commands that only read or run something: nothing to record.
_READ_ONLY = {"cost", "export", "serve", "worker", "sim", "audit"}
_READ_VERBS = {"list", "preview", "status", "verify", "export"}
_READ_OPTIONS = {"--check", "--new-key"}  # `keys rotate-master` only counting or printing


@audit_app.command("export")
def audit_export(
    account: Annotated[
        str | None, typer.Option("--account", help="One account's events (default: all).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json (one object a line).")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: standard output).")
    ] = None,
) -> None:
    """Every event in the audit log, oldest first."""
    from smsvia.cli._common import CliError
    from smsvia.services import audit

    if fmt not in ("csv", "json"):
        raise CliError("--format must be csv or json")

    async def write(runtime) -> int:
        count = 0
        sink = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        try:
            async for line in audit.export(runtime.store, account, fmt):
                sink.write(line)
                count += 1
        finally:
            if out:
                sink.close()
        return count

    written = with_runtime(write)
    if out:
        events = written - (1 if fmt == "csv" else 0)
        err_console.print(f"{events} events written to {out}", highlight=False)


def record_command(root: Any, args: list[str]) -> None:
    """Put a command that succeeded in the audit log, unless it only read."""
    path, command, rest = _resolve(root, args)
    if command is None or not path or "--help" in rest:
        return
    if path[0] in _READ_ONLY or path[-1] in _READ_VERBS or _READ_OPTIONS & set(rest):
        return
    positional, options = _parse(command, rest)
    named = [value for value in positional if "@" not in value]  # an email is not kept
    account = next((a for a in args if ids.is_sid(a, ids.ACCOUNT)), None)
    from smsvia.services import audit

    change = audit.Change(
        actor=f"cli:{_user()}",
        action=".".join(path).replace("-", "_"),
        object=named[-1] if named else None,
        address="local",
        given=tuple(options),
    )
    try:
        # The command itself brought the schema up to date.
        with_runtime(lambda rt: audit.record_for(rt.store, account, change), migrate=False)
    except Exception as exc:  # the change itself is done; say the entry is missing
        err_console.print(f"[yellow]warning:[/] not recorded in the audit log: {exc}")


def _resolve(root: Any, args: list[str]) -> tuple[list[str], Any, list[str]]:
    """The command's path ("connectors", "add", "smpp"), the command, its own arguments."""
    command, path, index = root, [], 0
    while hasattr(command, "commands") and index < len(args):
        sub = command.commands.get(args[index])
        if sub is None:
            return path, None, []
        command, index = sub, index + 1
        path.append(args[index - 1])
    return path, None if hasattr(command, "commands") else command, args[index:]


def _parse(command: Any, rest: list[str]) -> tuple[list[str], list[str]]:
    """Positional values, and the names of the options given (their values skipped)."""
    takes_value = {
        opt: not getattr(param, "is_flag", False)
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
    }
    positional: list[str] = []
    options: list[str] = []
    tokens = iter(rest)
    for token in tokens:
        if token.startswith("--") or (token.startswith("-") and len(token) == 2):
            name, has_value, _ = token.partition("=")
            options.append(name.lstrip("-").replace("-", "_"))
            if takes_value.get(name, False) and not has_value:
                next(tokens, None)
        else:
            positional.append(token)
    return positional, options


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
