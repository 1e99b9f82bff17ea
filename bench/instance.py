"""One bot instance for ``bench_instances``: what ``python -m bot`` runs in webhook mode, with
the throughput benchmark's probe in front of the dispatcher, which tells the benchmark (at
``127.0.0.1:$BENCH_SIGNAL_PORT``) each update it has handled.

    python -m bench.instance    # settings from the environment, as the bot's
"""

from __future__ import annotations

import asyncio
import os
import sys

from bench.bench_throughput import Probe, install_outermost
from bot.__main__ import load_settings
from bot.app import create_bot, create_dispatcher
from bot.cli import run_webhook
from bot.config import Settings


async def serve(settings: Settings, signal_port: int) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", signal_port)
    bot = create_bot(settings)
    dispatcher = create_dispatcher(settings)
    probe = Probe()
    probe.writer = writer
    install_outermost(dispatcher, probe)
    try:
        await run_webhook(dispatcher, bot, settings)
    finally:
        await bot.session.close()
        await dispatcher.fsm.close()
        writer.close()


def main() -> int:
    settings = load_settings(Settings)
    asyncio.run(serve(settings, int(os.environ["BENCH_SIGNAL_PORT"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
