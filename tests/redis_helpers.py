"""A throwaway Redis for the tests of shared dialog state: Debian's ``redis-server`` on a unix
socket in a temporary directory, with nothing saved to disk, stopped afterwards."""

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

REDIS_MISSING = (
    "redis-server is not installed (Debian: apt-get install redis-server): the tests of "
    "dialog state shared through Redis are skipped"
)


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[str]:
    """A Redis on a unix socket in ``directory`` while inside; its URL."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError(REDIS_MISSING)
    socket = directory / "redis.sock"
    # No TCP port: nothing else on the machine can reach it; nothing saved to disk.
    options = f"--port 0 --unixsocket {socket} --unixsocketperm 700 --dir {directory}"
    process = subprocess.Popen(
        [binary, *options.split(), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = redis.Redis(unix_socket_path=str(socket))
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start: {process.stderr.read().decode()}"
                    ) from None
                time.sleep(0.02)
        yield f"unix://{socket}"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """The URL of a Redis started for this test module."""
    if shutil.which("redis-server") is None:
        pytest.skip(REDIS_MISSING)
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server):
    """The module's Redis, emptied before the test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server


async def redis_keys(url: str) -> dict[str, float]:
    """Every key in Redis with its time to live in seconds (-1: none)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        return {key.decode(): await client.ttl(key) for key in await client.keys("*")}
    finally:
        await client.aclose()


class JsonMemoryStorage(MemoryStorage):
    """Memory storage that keeps dialog data the way Redis gets it: through JSON. Every test
    then proves that what its dialogs keep (no datetimes, no objects; tuples come back as
    lists, int keys as strings) reads back the same with ``REDIS_URL`` set."""

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await super().set_data(key, json.loads(json.dumps(data)))
