"""The command line as an operator meets it: clear messages and exit codes, no tracebacks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path, *args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    clean.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db/bot.db")
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,  # so that no developer's .env is read
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_the_commands(tmp_path):
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("run", "migrate", "import-centers", "demo-data"):
        assert command in result.stdout


def test_missing_token_explains_how_to_get_one(tmp_path):
    # Without a command and a token the playground opens instead (tests/test_playground.py).
    result = run(tmp_path, "run")
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and ".env" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BOT_TOKEN", "not-a-token"),
        ("DEFAULT_LOCALE", "de"),
        ("LOG_LEVEL", "LOUD"),
        ("ADMIN_IDS", "12,abc"),
        ("TELEGRAM_API_URL", "ftp://example"),
        ("DATABASE_URL", "sqlite:///x.db"),
        ("DATABASE_URL", "nonsense"),
    ],
)
def test_an_invalid_setting_is_named_in_one_line(tmp_path, name, value):
    env = {"BOT_TOKEN": "123:abc", name: value}
    result = run(tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Setting {name} is invalid")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unusable_database_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run(tmp_path, "migrate", DATABASE_URL=f"sqlite+aiosqlite:///{blocker}/sub/bot.db")
    assert result.returncode == 2
    assert result.stderr.startswith("Setting DATABASE_URL: cannot use the database")
    assert "Traceback" not in result.stderr


def test_unreachable_telegram_is_one_line(tmp_path):
    result = run(tmp_path, BOT_TOKEN="123:abc", TELEGRAM_API_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "Cannot reach the Bot API at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr


def test_links_for_posters(tmp_path):
    assert run(tmp_path, "demo-data").returncode == 0
    result = run(tmp_path, "links", "--bot", "sosedi_bot", "demo-ekb-1")
    assert result.returncode == 0
    header, row = result.stdout.strip().splitlines()
    assert header == "external_id,name,link"
    assert row.startswith("demo-ekb-1,Соседи на Малышева,https://t.me/sosedi_bot?start=center_")
    assert run(tmp_path, "links", "--bot", "sosedi_bot", "nope").returncode == 1


def test_migrate_demo_data_and_import(tmp_path):
    assert run(tmp_path, "migrate").returncode == 0
    assert (tmp_path / "db" / "bot.db").exists()
    first = run(tmp_path, "demo-data")
    second = run(tmp_path, "demo-data")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout

    good = tmp_path / "good.csv"
    good.write_text(
        "external_id,name,address,city,latitude,longitude\n"
        "x1,Соседи,ул. Ленина 1,Ачинск,56.27,90.50\n",
        encoding="utf-8",
    )
    result = run(tmp_path, "import-centers", str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 imported" in result.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "external_id,name,address,city,latitude,longitude\n"
        "x2,Соседи,ул. Ленина 2,Ачинск,96.27,90.50\n"
        "x3,Соседи,ул. Ленина 3,Ачинск,56.27,90.51\n",
        encoding="utf-8",
    )
    result = run(tmp_path, "import-centers", str(bad))
    assert result.returncode == 1
    assert "line 2:" in result.stdout and "1 imported" in result.stdout

    missing = run(tmp_path, "import-centers", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr + missing.stdout


async def test_the_bot_process_serves_users_and_stops_cleanly(tmp_path):
    """``python -m bot`` as `make run` starts it, against the fake server over HTTP. It
    handles updates as concurrent tasks, so the client waits for the bot to go quiet."""
    import asyncio
    import signal

    from fake_telegram.client import FakeTelegramClient
    from fake_telegram.server import FakeTelegram

    assert run(tmp_path, "demo-data").returncode == 0
    async with FakeTelegram(token="42:process-test") as server:
        env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
        env.update(
            PYTHONPATH=str(ROOT),
            BOT_TOKEN="42:process-test",
            TELEGRAM_API_URL=server.base_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db/bot.db",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with FakeTelegramClient(server.base_url, timeout=60, settle=0.5) as tg:
                user = await tg.new_user(first_name="Proc", language_code="en")
                greeting, _consent = await user.send("/start")
                assert greeting.text.startswith("Hello, Proc!")
                [reply] = await user.send("Kholmsk")
                assert "Холмск" in reply.text
                commands = await tg.commands()
                assert {c.get("language_code") or "" for c in commands} >= {"", "uk"}
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log and "started as @sosedi_bot" in log
