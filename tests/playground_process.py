"""The playground as `make run` starts it without a token: ``python -m bot`` in a process of its
own, on a free port, in an empty directory (so that no developer's .env or data is read)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = re.compile(r"http://127\.0\.0\.1:\d+/")


@dataclass
class Playground:
    url: str  # ends with "/"
    printed: list[str]
    directory: Path


def playground_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    env.update(PYTHONPATH=str(ROOT), PLAYGROUND_PORT="0", LOG_LEVEL="WARNING")
    env.update(overrides)
    return env


@contextlib.asynccontextmanager
async def running_playground(directory: Path, *args: str, **env: str):
    """Yield once the playground has printed its address; stop it with Ctrl+C afterwards and
    check that it stopped cleanly, with nothing worse than a warning in its log."""
    log_path = directory / "playground.log"
    with log_path.open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=directory,
            env=playground_env(**env),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        printed: list[str] = []
        try:
            async with asyncio.timeout(90):
                while not any(URL.search(line) for line in printed):
                    line = await process.stdout.readline()
                    assert line, f"the playground stopped: {log_path.read_text()}"
                    printed.append(line.decode().strip())
            url = next(URL.search(line)[0] for line in printed if URL.search(line))
            yield Playground(url, printed, directory)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                rest, _ = await asyncio.wait_for(process.communicate(), timeout=30)
                printed += rest.decode().splitlines()
    output = log_path.read_text()
    assert process.returncode == 0, output
    assert "Traceback" not in output and " ERROR " not in output, output
