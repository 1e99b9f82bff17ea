"""One process per database sends and runs the jobs; the others stand by."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.leader import LEASE, Leadership
from storage.database import Database
from storage.leases import holder
from storage.migrate import upgrade


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def two_processes(database_url):
    """Two engines on one database stand for two bot processes."""
    url = database_url
    first, second = Database.from_url(url), Database.from_url(url)
    await upgrade(first)
    yield first, second
    await first.close()
    await second.close()


def leadership(db: Database, name: str, clock: Clock, log: list[str]) -> Leadership:
    async def gain() -> None:
        log.append(f"{name} leads")

    async def lose() -> None:
        log.append(f"{name} stands by")

    return Leadership(db, on_gain=gain, on_lose=lose, ttl=30, owner=name, clock=clock)


async def test_only_one_leads_and_the_other_takes_over_when_it_stops(two_processes):
    clock, log = Clock(), []
    a = leadership(two_processes[0], "a", clock, log)
    b = leadership(two_processes[1], "b", clock, log)
    assert await a.check() is True
    assert await b.check() is False
    clock.now += timedelta(seconds=20)
    assert await a.check() is True, "renewed"
    clock.now += timedelta(seconds=20)
    assert await b.check() is False, "a renewed 20 s ago: still a's"
    await a.stop()  # a clean shut-down gives the lease back
    assert await b.check() is True
    assert log == ["a leads", "a stands by", "b leads"]


async def test_a_dead_leader_is_replaced_once_its_lease_runs_out(two_processes):
    clock, log = Clock(), []
    a = leadership(two_processes[0], "a", clock, log)
    b = leadership(two_processes[1], "b", clock, log)
    await a.check()
    # a is killed: it renews no more and gives nothing back.
    clock.now += timedelta(seconds=29)
    assert await b.check() is False
    clock.now += timedelta(seconds=2)
    assert await b.check() is True
    async with two_processes[0].read() as conn:
        assert (await holder(conn, LEASE))[0] == "b"
    # a comes back (a long pause, not a death): it finds the lease taken and stands by.
    assert await a.check() is False
    assert log == ["a leads", "b leads", "a stands by"]


async def test_a_failed_start_gives_the_lease_back_and_the_next_check_tries_again(two_processes):
    clock, log = Clock(), []
    attempts = []

    async def gain() -> None:
        attempts.append(clock.now)
        if len(attempts) == 1:
            raise RuntimeError("database is locked")  # e.g. recovering the sender's rows
        log.append("leads")

    async def lose() -> None:
        log.append("stands by")

    a = Leadership(two_processes[0], on_gain=gain, on_lose=lose, ttl=30, owner="a", clock=clock)
    assert await a.check() is False
    async with two_processes[0].read() as conn:
        assert await holder(conn, LEASE) is None, "given back at once"
    assert await a.check() is True
    assert log == ["stands by", "leads"]


async def test_a_leader_that_cannot_reach_the_database_stands_by_before_its_lease_runs_out(
    two_processes, monkeypatch
):
    clock, log = Clock(), []
    a = leadership(two_processes[0], "a", clock, log)
    assert await a.check() is True

    def broken(*_args, **_kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(two_processes[0], "write", broken)
    clock.now += timedelta(seconds=10)
    assert await a.check() is True, "still 20 s left: keep going"
    clock.now += timedelta(seconds=10)
    assert await a.check() is False, "10 s left: stop before another may take over"
    assert log == ["a leads", "a stands by"]
