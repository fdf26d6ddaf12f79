"""`smsvia sim`: the SMSC, RBM and MMSC simulators on their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

import typer

from smsvia.cli._common import CliError, configure_logging, console, run_fast, until_stopped
from smsvia.config import Settings

sim_app = typer.Typer(help="Simulators for tests, demos and benchmarks.", no_args_is_help=True)


@sim_app.command("smsc")
def sim_smsc(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 2775,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    system_id: Annotated[str, typer.Option("--system-id", help="system_id to accept.")] = "smsvia",
    password: Annotated[str, typer.Option("--password", help="Password to accept.")] = "secret",
    any_credentials: Annotated[
        bool, typer.Option("--any-credentials", help="Accept every bind.")
    ] = False,
    dlr_delay: Annotated[
        float, typer.Option("--dlr-delay", help="Seconds from submit to receipt.")
    ] = 0.5,
    throttle_tps: Annotated[
        int | None,
        typer.Option("--throttle-tps", help="Answer ESME_RTHROTTLED above N submits/s."),
    ] = None,
    drop_after: Annotated[
        int | None,
        typer.Option("--drop-after", help="Cut the connection, unanswered, every N submits."),
    ] = None,
    ids: Annotated[
        str,
        typer.Option(
            "--ids",
            help="How message ids are written: hex, decimal, hex-to-decimal (hex answers, "
            "decimal receipts), zero-padded (padded answers, bare receipts), unnumbered "
            "(answers without an id) or long (84 characters, past SMPP's 64).",
        ),
    ] = "hex",
    first_id: Annotated[
        int | None, typer.Option("--first-id", help="Number the first message N.")
    ] = None,
    delivers_with: Annotated[
        str,
        typer.Option(
            "--delivers-with",
            help="How receipts and customers' texts come: deliver_sm, message_payload "
            "(deliver_sm with the text in that TLV) or data_sm.",
        ),
    ] = "deliver_sm",
    intermediate: Annotated[
        str | None,
        typer.Option(
            "--intermediate",
            help="Send an intermediate receipt with this stat (BUFFRED, ENROUTE, ...) before "
            "each final one.",
        ),
    ] = None,
) -> None:
    """An SMPP 3.4 SMSC: To ending 9999 → UNDELIV, 9998 → ESME_RINVDSTADR, 9997 → no receipt."""
    from smsvia.sim.smsc import DELIVERS_WITH, ID_STYLES, SmscBehaviour, SmscSimulator

    if ids not in ID_STYLES:
        raise CliError(f"--ids must be one of {', '.join(ID_STYLES)}, not {ids!r}")
    if delivers_with not in DELIVERS_WITH:
        raise CliError(
            f"--delivers-with must be one of {', '.join(DELIVERS_WITH)}, not {delivers_with!r}"
        )
    settings = Settings()
    configure_logging(settings)
    behaviour = SmscBehaviour(
        system_id=None if any_credentials else system_id,
        password=None if any_credentials else password,
        dlr_delay=dlr_delay,
        throttle_tps=throttle_tps,
        drop_after=drop_after,
        ids=ids,
        first_id=first_id,
        delivers_with=delivers_with,
        intermediate=intermediate,
    )

    simulator = SmscSimulator(host, port, behaviour)
    credentials = "any credentials" if any_credentials else f"{system_id} / {password}"
    _serve(
        simulator,
        simulator.start,
        host,
        port,
        lambda: f"SMSC simulator on {host}:{simulator.port} ({credentials}); Ctrl-C stops it",
    )
    console.print(
        f"accepted {len(simulator.accepted)} submits, sent {simulator.receipts_sent} receipts",
        highlight=False,
    )


@sim_app.command("rcs")
def sim_rcs(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8090,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook", help="Where events go, e.g. http://127.0.0.1:8080/rcs/NAME/events"
        ),
    ] = None,
    client_token: Annotated[
        str, typer.Option("--client-token", help="Key of the events' X-Goog-Signature.")
    ] = "smsvia-sim-client-token",
    delivered_after: Annotated[
        float, typer.Option("--delivered-after", help="Seconds from send to DELIVERED.")
    ] = 0.05,
    read_after: Annotated[
        float, typer.Option("--read-after", help="Seconds from send to READ.")
    ] = 0.2,
) -> None:
    """An RBM platform: numbers ending 77 never get it, 55 → 500, even → delivered, odd → not
    RCS-capable."""
    from smsvia.sim.rbm import RbmBehaviour, RbmSimulator

    settings = Settings()
    configure_logging(settings)
    behaviour = RbmBehaviour(
        client_token=client_token,
        webhook_url=webhook,
        delivered_after=delivered_after,
        read_after=read_after,
    )

    simulator = RbmSimulator(behaviour)
    events = f"events to {webhook}" if webhook else "no events (no --webhook)"
    _serve(
        simulator,
        lambda: simulator.start(host, port),
        host,
        port,
        lambda: f"RBM simulator on http://{host}:{simulator.port} ({events}); Ctrl-C stops it",
    )
    records = simulator.records
    console.print(
        f"delivered {len(records.delivered)} messages, revoked {len(records.revoked)}, "
        f"sent {records.events_sent} events",
        highlight=False,
    )


@sim_app.command("mmsc")
def sim_mmsc(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8091,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    vasp_url: Annotated[
        str | None,
        typer.Option(
            "--vasp-url",
            help="Where reports and inbound MMS go, e.g. http://127.0.0.1:8080/mm7/NAME",
        ),
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", help="Basic auth demanded, and sent back.")
    ] = None,
    password: Annotated[str | None, typer.Option("--password", help="Basic auth.")] = None,
    delivered_after: Annotated[
        float, typer.Option("--delivered-after", help="Seconds from submit to report.")
    ] = 0.05,
) -> None:
    """An MMS relay speaking MM7 at /mm7: To ending 44 → refused (3002), 33 → reported
    Rejected, 88 → never answered, others → Retrieved."""
    from smsvia.sim.mmsc import MmscBehaviour, MmscSimulator

    settings = Settings()
    configure_logging(settings)
    behaviour = MmscBehaviour(
        vasp_url=vasp_url, username=username, password=password, delivered_after=delivered_after
    )

    simulator = MmscSimulator(behaviour)
    reports = f"reports to {vasp_url}" if vasp_url else "no reports (no --vasp-url)"
    _serve(
        simulator,
        lambda: simulator.start(host, port),
        host,
        port,
        lambda: (
            f"MMSC simulator on http://{host}:{simulator.port}/mm7 ({reports}); Ctrl-C stops it"
        ),
    )
    records = simulator.records
    console.print(
        f"accepted {len(records.accepted)} MMS, refused {records.refused}, "
        f"sent {len(records.reports)} reports",
        highlight=False,
    )


class _Simulator(Protocol):
    async def stop(self) -> None: ...


def _serve(
    simulator: _Simulator,
    start: Callable[[], Awaitable[object]],
    host: str,
    port: int,
    banner: Callable[[], str],
) -> None:
    """Start a simulator, say where it listens, run it until Ctrl-C, then stop it."""

    async def run() -> None:
        try:
            await start()
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        console.print(banner(), highlight=False)
        await until_stopped()
        await simulator.stop()

    run_fast(run())
