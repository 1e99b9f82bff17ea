"""Run the fake Telegram server on its own: ``python -m fake_telegram --port 8081``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from fake_telegram.server import FakeTelegram


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fake_telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-username", default="sosedi_bot")
    parser.add_argument("--bot-name", default="Sosedi")
    return parser.parse_args()


async def _serve(args: argparse.Namespace) -> None:
    bot_id = int(args.token.split(":", 1)[0]) if args.token.split(":", 1)[0].isdigit() else 1
    server = FakeTelegram(
        token=args.token, bot_id=bot_id, bot_username=args.bot_username, bot_name=args.bot_name
    )
    base_url = await server.start(args.host, args.port)
    print(f"Fake Telegram Bot API at {base_url}", flush=True)
    print(f"Bot token: {args.token}", flush=True)
    print(f"Control API: {base_url}/control", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_arguments()))


if __name__ == "__main__":
    main()
