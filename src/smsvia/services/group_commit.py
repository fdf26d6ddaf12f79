"""Group commit: concurrent callers share one transaction.

Under load many requests arrive at once; writing each in its own transaction pays a BEGIN
and a COMMIT (a WAL flush) per request. A caller here waits for the commit that holds its
item before it returns, so what it wrote is as durable as before, but a busy server
commits dozens at a time. With one caller nothing waits: the batch is that caller alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(slots=True)
class _Waiting(Generic[Item, Result]):
    item: Item
    done: asyncio.Future[Result]


class GroupCommit(Generic[Item, Result]):
    """`submit` an item, get its result once the batch that held it committed.

    `run` writes a batch in one transaction and returns, per item, its result or the
    exception that refused it alone. If `run` itself fails, each item of the batch is run
    again on its own: whatever failed fails alone, never taking its neighbours with it.
    """

    def __init__(
        self,
        run: Callable[[Sequence[Item]], Awaitable[Sequence[Result | Exception]]],
        *,
        max_batch: int,
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._waiting: list[_Waiting[Item, Result]] = []
        self._committer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_while_waiting())
        return await done

    async def _commit_while_waiting(self) -> None:
        # Ends when nobody waits; `submit` starts it again. What arrives during a commit
        # goes into the next one.
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            await self._commit(batch)

    async def _commit(self, batch: list[_Waiting[Item, Result]]) -> None:
        try:
            outcomes = await self._run([waiting.item for waiting in batch])
        except Exception as exc:
            if len(batch) > 1:
                for waiting in batch:
                    await self._commit([waiting])
                return
            _settle(batch[0].done, exception=exc)
            return
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                _settle(waiting.done, exception=outcome)
            else:
                _settle(waiting.done, result=outcome)


def _settle(future: asyncio.Future, *, result: object = None, exception: Exception | None = None):
    if future.done():  # the caller went away (its request was cancelled)
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
