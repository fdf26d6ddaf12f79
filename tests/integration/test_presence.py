"""Which claim holders are alive, on both databases: a worker that died is known at once, a
live one never, however slow."""

from __future__ import annotations

from smsvia.store.presence import Presence, new_owner, token_of


def test_owner_names_carry_a_presence_token():
    owner = new_owner()
    assert token_of(owner) is not None
    assert token_of("host:1234") is None  # an older smsvia's name: never declared dead


def test_a_live_worker_is_never_declared_dead_and_a_gone_one_is_at_once(backend):
    db = backend.store.db

    async def scenario():
        first, second = Presence(db, new_owner()), Presence(db, new_owner())
        await first.announce()
        await second.announce()
        while_both_live = await second.dead([first.owner, second.owner, "old-host:99"])
        await first.close()  # as the process ending would
        after = await second.dead([first.owner, "old-host:99"])
        await second.close()
        return while_both_live, after, first.owner

    while_both_live, after, gone = backend.run(scenario())
    assert while_both_live == set()
    assert after == {gone}


def test_a_worker_that_never_announced_itself_cannot_judge_others(backend):
    async def scenario():
        live = Presence(backend.store.db, new_owner())
        await live.announce()
        silent = Presence(backend.store.db, new_owner())
        judged = await silent.dead([live.owner])
        await live.close()
        return judged

    assert backend.run(scenario()) == set()
