"""What every command shares: the consoles, the error type, running async work."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from rich.console import Console

from smsvia.config import Settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class CliError(Exception):
    """A problem with the command line itself (unreadable input, ...)."""


def collect_less() -> None:
    """Tune the cycle collector for a long-lived service that makes many short-lived
    objects (a campaign's batch of a thousand messages is a hundred thousand of them): what
    is loaded by now is frozen out of its scans, and it runs after 50,000 new container
    objects rather than 700. Objects without cycles are freed at once either way.
    Measured on benchmarks/campaign.py: fan-out 15 % faster, 17 MB more resident."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived service on uvloop where it is installed (cheaper socket I/O), as
    uvicorn does for `serve`, with the collector tuned for it."""
    collect_less()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def with_runtime(work: Callable[..., Awaitable[T]], *, migrate: bool = True) -> T:
    """Open the runtime (database at the newest schema, unless `migrate` is False), run
    `work(runtime)`, close."""
    from smsvia.runtime import open_runtime

    async def run() -> T:
        runtime = await open_runtime(Settings(), migrate=migrate)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


async def until_stopped() -> None:
    """Wait for Ctrl-C or SIGTERM."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def configure_logging(settings: Settings) -> None:
    from smsvia.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
