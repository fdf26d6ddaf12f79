"""Group commit as pure logic: concurrent callers share a batch, each gets its own result,
and an item that breaks its batch fails alone."""

from __future__ import annotations

import asyncio

import pytest

from smsvia.services.group_commit import GroupCommit


def test_concurrent_callers_share_batches_and_get_their_own_results():
    batches: list[list[int]] = []

    async def run(items):
        batches.append(list(items))
        await asyncio.sleep(0.01)  # a commit takes a while; more callers arrive meanwhile
        return [item * 10 if item % 7 else ValueError(f"{item} refused") for item in items]

    async def scenario():
        group = GroupCommit(run, max_batch=8)
        return await asyncio.gather(
            *(group.submit(n) for n in range(1, 21)), return_exceptions=True
        )

    results = asyncio.run(scenario())
    assert [r for r in results if not isinstance(r, Exception)] == [
        n * 10 for n in range(1, 21) if n % 7
    ]
    assert [str(r) for r in results if isinstance(r, Exception)] == ["7 refused", "14 refused"]
    assert sorted(n for batch in batches for n in batch) == list(range(1, 21))
    assert len(batches) < 20 and max(len(b) for b in batches) <= 8


def test_an_item_that_breaks_the_batch_fails_alone():
    async def run(items):
        if 3 in items:
            raise RuntimeError("constraint violated")
        return list(items)

    async def scenario():
        group = GroupCommit(run, max_batch=10)
        return await asyncio.gather(*(group.submit(n) for n in range(5)), return_exceptions=True)

    results = asyncio.run(scenario())
    assert results[:3] == [0, 1, 2] and results[4] == 4
    assert isinstance(results[3], RuntimeError)


def test_one_caller_alone_is_a_batch_of_one():
    async def run(items):
        assert len(items) == 1
        return ["done"]

    async def scenario():
        group = GroupCommit(run, max_batch=10)
        return [await group.submit("x"), await group.submit("y")]

    assert asyncio.run(scenario()) == ["done", "done"]
    with pytest.raises(RuntimeError):
        asyncio.run(GroupCommit(_boom, max_batch=1).submit(1))


async def _boom(items):
    raise RuntimeError("down")
