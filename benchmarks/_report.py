"""How benchmarks/e2e.py prints its runs: one table row per run, then what the rcs runs'
fallbacks took and, beside a peer, each smsvia run's share of the peer's rate in its own
round (the machine's speed drifts between rounds; within one it is shared)."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from _run import Result
from _support import percentile
from rich.table import Table

# A run, and the round it was measured in (1 unless --rounds).
Run = tuple[int, Result]


def rate(messages: int, seconds: float) -> str:
    speed = _speed(messages, seconds)
    return f"{speed:,.0f}" if speed == speed else "-"


def per_message(seconds: dict[str, float], messages: int) -> str:
    return " + ".join(f"{name} {1000 * t / messages:.2f}" for name, t in seconds.items())


def results_table(runs: Sequence[Run], title: str) -> Table:
    rounds = len({number for number, _ in runs}) > 1
    columns = [
        *(["round"] if rounds else []),
        *("system", "db / store", "path", "messages", "accepted/s", "submitted/s"),
        *("DLR-complete/s", "delivered callbacks/s", "receipts called back"),
        *("accept p50 ms", "accept p99 ms", "peak RSS MB", "CPU ms/msg"),
        *("others' CPU ms/msg", "errors"),
    ]
    table = Table(*columns, title=title)
    for number, r in runs:
        table.add_row(
            *([str(number)] if rounds else []),
            r.system,
            r.db,
            r.path,
            f"{r.messages:,}",
            rate(r.messages, r.accept_seconds),
            rate(r.messages, r.sent_seconds),
            rate(r.messages, r.receipts_seconds),
            rate(r.messages, r.callbacks_seconds),
            f"{r.called_back:,} of {r.messages:,}",
            f"{r.p50 * 1000:.1f}",
            f"{r.p99 * 1000:.1f}",
            f"{r.peak_rss_mb:.0f}",
            per_message(r.cpu_seconds, r.messages),
            per_message(r.other_cpu_seconds, r.messages),
            str(r.errors),
        )
    return table


def shares_of_peer(runs: Sequence[Run], peer: str) -> list[str]:
    """For each smsvia db and path: its delivered callbacks/s and accepted/s as a share of
    the peer's in the same round, round by round, and their median. Empty without a peer."""
    peers = {number: r for number, r in runs if r.system != "smsvia"}
    shares: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for number, r in runs:
        theirs = peers.get(number)
        if r.system != "smsvia" or theirs is None:
            continue
        shares.setdefault((r.db, r.path), []).append(
            (
                _speed(r.messages, r.callbacks_seconds)
                / _speed(theirs.messages, theirs.callbacks_seconds),
                _speed(r.messages, r.accept_seconds)
                / _speed(theirs.messages, theirs.accept_seconds),
            )
        )
    lines = []
    for (db, path), measured in shares.items():
        delivered = [d for d, _ in measured]
        accepted = [a for _, a in measured]
        lines.append(
            f"smsvia {db} / {path} as a share of {peer} in the same round: delivered "
            f"callbacks/s {_percentages(delivered)}; accepted/s {_percentages(accepted)}"
        )
    return lines


def fallback_lines(runs: Sequence[Run]) -> list[str]:
    """What the rcs runs' fallbacks to SMS took."""
    lines = []
    for _, r in runs:
        if r.path != "rcs" or not r.fallback_seconds:
            continue
        whole = [total for total, _ in r.fallback_seconds]
        own = [decided for _, decided in r.fallback_seconds]
        lines.append(
            f"{r.db} rcs: {r.messages - len(whole)} delivered by RCS, {len(whole)} fell back "
            f"to SMS. Created -> SMS submitted (queueing included): p50 "
            f"{percentile(whole, 50):.1f} s, p99 {percentile(whole, 99):.1f} s; fallback "
            f"decision -> SMS submitted: p50 {percentile(own, 50) * 1000:.0f} ms, p99 "
            f"{percentile(own, 99) * 1000:.0f} ms"
        )
    return lines


def _speed(messages: int, seconds: float) -> float:
    """Messages a second; nan where the run never got there."""
    return messages / seconds if seconds == seconds and seconds > 0 else float("nan")


def _percentages(shares: list[float]) -> str:
    each = ", ".join(f"{100 * share:.0f} %" if share == share else "-" for share in shares)
    known = [share for share in shares if share == share]
    if len(shares) == 1 or not known:
        return each
    return f"{each} (median {100 * median(known):.0f} %)"
