"""Start-up time and resident memory of the bot with 10,000 and with 1,000,000 scheduled
sign-ups: the scheduler keeps no job per reminder, so neither may grow with the sign-ups.

Two SQLite databases are built (schema by the migrations, rows by plain ``sqlite3``): 50
activities over the next four weeks at five centers in three time zones, and 200 or 20,000
consented users each signed up (confirmed) for all 50. Their reminders are planned as the
reminder job would have left them had the bot just stopped: ``reminder_due_at`` is each
sign-up's next reminder after the build (``domain.reminders.plan_reminders`` with the default
reminders and quiet hours), or ``NEVER`` once its last has gone. Activity times are chosen so
that no reminder comes due while the benchmark runs: each start-up is a restart with nothing
overdue, the same every time, and the first reminder run has to find that out among all the
sign-ups.

Each run starts ``python -m bot`` as production does, in its own process, on a fresh copy of
its database, against a ``FakeTelegram`` in this process. From the bot's log (read as it
comes, timed here): start-up until "started as @..." (``ready_s``) and until the first run
of the reminder job, which the scheduler starts at once, has finished (``startup_s``); that
run's own length. Resident memory (``VmRSS`` of the bot's process) is read one second after
that run, once start-up has settled; ``VmHWM`` gives the peak. Runs of the two sizes take
turns, three of each (``BENCH_SCHEDULER_REPEATS``), and the figures are medians.
``BENCH_SCHEDULER_LARGE`` sets the big database's sign-ups for a shorter run (a multiple of
50, e.g. 100000; the figures are then named after it).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import Figure, median, progress
from domain.reminders import DEFAULT_REMINDERS, QuietHours, plan_reminders
from fake_telegram.server import FakeTelegram
from storage.database import Database
from storage.migrate import upgrade
from storage.reminders import NEVER

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-scheduler"
SMALL = 10_000
LARGE_VARIABLE = "BENCH_SCHEDULER_LARGE"
DEFAULT_LARGE = 1_000_000
REPEATS_VARIABLE = "BENCH_SCHEDULER_REPEATS"
DEFAULT_REPEATS = 3
ACTIVITIES = 50
SPREAD = timedelta(days=28)
FIRST_USER_ID = 1_000_000_001
CENTERS = (
    ("Europe/Moscow", "Москва", 55.75, 37.61),
    ("Europe/Moscow", "Казань", 55.79, 49.11),
    ("Asia/Yekaterinburg", "Екатеринбург", 56.84, 60.60),
    ("Asia/Yekaterinburg", "Пермь", 58.01, 56.23),
    ("Asia/Novosibirsk", "Новосибирск", 55.01, 82.94),
)
# No reminder may come due from the build until this long after it: every run then starts
# from the same state, whatever the time the build took.
QUIET_WINDOW = timedelta(hours=2)
# Memory is read this long after the first reminder run: what start-up left behind, not
# what was still being freed.
SETTLE_S = 1.0
STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0

READY_MARK = "started as @"
JOB_START_MARK = 'Running job "reminders_job'
JOB_DONE_MARK = 'Job "reminders_job'
_QUEUED_RE = re.compile(r"queued (\d+) reminders")


# ---- the databases --------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    """A UTC instant as SQLAlchemy's SQLite DATETIME stores it (``storage.schema``): the
    reminder query compares these strings, so the format must be exactly the same."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True, slots=True)
class Plan:
    """The activities' start times and each one's ``reminder_due_at``, as of ``built_at``."""

    built_at: datetime
    starts: list[datetime]
    zones: list[str]
    next_due: list[datetime]


def _plan(built_at: datetime, signed_up_at: datetime) -> Plan:
    """Starts spread evenly over ``SPREAD``, moved on by whole minutes until no reminder of
    any activity is due within ``QUIET_WINDOW`` of the build."""
    quiet = QuietHours()  # the bot's default quiet hours, which the started bot uses too
    step = SPREAD / ACTIVITIES
    first = built_at.replace(second=0, microsecond=0) + timedelta(hours=3)
    for shift in range(0, 24 * 60, 7):
        starts = [first + timedelta(minutes=shift) + step * i for i in range(ACTIVITIES)]
        zones = [CENTERS[i % len(CENTERS)][0] for i in range(ACTIVITIES)]
        plans = [
            plan_reminders(DEFAULT_REMINDERS, start, zone, quiet, signed_up_at=signed_up_at)
            for start, zone in zip(starts, zones, strict=True)
        ]
        send_times = [reminder.send_at for plan in plans for reminder in plan]
        if any(built_at <= at <= built_at + QUIET_WINDOW for at in send_times):
            continue
        next_due = [
            min((r.send_at for r in plan if r.send_at > built_at), default=NEVER) for plan in plans
        ]
        return Plan(built_at, starts, zones, next_due)
    raise RuntimeError("no activity times leave the benchmark's window free of reminders")


async def _migrate(path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db)
    finally:
        await db.close()


def _signup_rows(
    plan: Plan, users: int, signed_up: str
) -> Iterator[tuple[int, int, str, str, str, str]]:
    for index in range(ACTIVITIES):
        due = _stamp(plan.next_due[index])
        for user_id in range(FIRST_USER_ID, FIRST_USER_ID + users):
            yield (index + 1, user_id, "confirmed", signed_up, signed_up, due)


def build(path: Path, signups: int, plan: Plan) -> int:
    """A database with ``signups`` confirmed sign-ups, spread evenly over the activities;
    how many of them have a reminder still to come."""
    asyncio.run(_migrate(path))
    users = signups // ACTIVITIES
    created = plan.built_at - timedelta(days=30)
    signed_up = _stamp(plan.built_at - timedelta(days=7))  # before every reminder is due
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # Only for the build: a crash here loses nothing but the benchmark's own file.
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO centers (id, external_id, name, address, city, latitude, longitude,"
            " timezone, search_key, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i + 1,
                    f"bench-{i + 1}",
                    f"Соседи {city}",
                    "ул. Ленина, 1",
                    city,
                    lat,
                    lon,
                    zone,
                    city.lower(),
                    _stamp(created),
                )
                for i, (zone, city, lat, lon) in enumerate(CENTERS)
            ],
        )
        connection.executemany(
            "INSERT INTO activities (id, center_id, title, category, starts_at, ends_at,"
            " seats_taken, status, created_at, announced_at)"
            " VALUES (?, ?, ?, 'lectures', ?, ?, ?, 'scheduled', ?, ?)",
            [
                (
                    i + 1,
                    i % len(CENTERS) + 1,
                    f"Лекция {i + 1}",
                    _stamp(start),
                    _stamp(start + timedelta(hours=2)),
                    users,
                    _stamp(created),
                    _stamp(created),
                )
                for i, start in enumerate(plan.starts)
            ],
        )
        connection.executemany(
            "INSERT INTO users (id, display_name, language, consent_at, consent_version,"
            " created_at) VALUES (?, ?, 'ru', ?, '2026-11-22', ?)",
            (
                (user_id, f"Житель {user_id}", _stamp(created), _stamp(created))
                for user_id in range(FIRST_USER_ID, FIRST_USER_ID + users)
            ),
        )
        connection.executemany(
            "INSERT INTO signups (activity_id, user_id, role, status, created_at, updated_at,"
            " reminder_due_at) VALUES (?, ?, 'participant', ?, ?, ?, ?)",
            _signup_rows(plan, users, signed_up),
        )
        connection.execute("COMMIT")
        pending = sum(users for due in plan.next_due if due != NEVER)
    finally:
        connection.close()  # the last connection: SQLite folds the log into the file
    return pending


# ---- one start-up ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Startup:
    ready_s: float  # process start until "started as @..."
    startup_s: float  # process start until the first reminder run has finished
    job_ms: float  # that run, from "Running job" to "executed successfully"
    queued: int  # reminders that run queued
    rss_mb: float  # VmRSS, SETTLE_S after that run
    peak_mb: float  # VmHWM at the same moment


def _memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MiB."""
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024  # reported in kB
    return fields["VmRSS"], fields["VmHWM"]


async def _start_bot(server: FakeTelegram, url: str, cwd: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=server.base_url,
        DATABASE_URL=url,
        LOG_LEVEL="INFO",  # the scheduler's "Running job" lines are the clock read here
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,  # no .env of a checkout is read
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _watch(process: asyncio.subprocess.Process, started: float) -> Startup:
    assert process.stderr is not None
    ready = job_start = job_done = None
    queued = 0
    log: list[str] = []
    while job_done is None:
        raw = await process.stderr.readline()
        seen = time.perf_counter()
        if not raw:
            raise RuntimeError("the bot exited during start-up:\n" + "".join(log[-30:]))
        line = raw.decode(errors="replace")
        log.append(line)
        if "Traceback" in line or " ERROR " in line:
            raise RuntimeError("the bot logged an error:\n" + "".join(log[-30:]))
        if READY_MARK in line and ready is None:
            ready = seen
        elif JOB_START_MARK in line and job_start is None:
            job_start = seen
        elif (match := _QUEUED_RE.search(line)) is not None and job_done is None:
            queued = int(match.group(1))
        elif JOB_DONE_MARK in line and job_start is not None:
            if "executed successfully" not in line:
                raise RuntimeError("the first reminder run failed:\n" + "".join(log[-30:]))
            job_done = seen
    # The reminder run may finish before start-up logs its last line; the bot is up when
    # both have happened.
    while ready is None:
        raw = await process.stderr.readline()
        if not raw:
            raise RuntimeError("the bot exited during start-up:\n" + "".join(log[-30:]))
        if READY_MARK in raw.decode(errors="replace"):
            ready = time.perf_counter()
    await asyncio.sleep(SETTLE_S)
    rss, peak = _memory_mb(process.pid)
    assert job_start is not None
    return Startup(
        ready_s=ready - started,
        startup_s=max(ready, job_done) - started,
        job_ms=(job_done - job_start) * 1000,
        queued=queued,
        rss_mb=rss,
        peak_mb=peak,
    )


async def _drain(process: asyncio.subprocess.Process) -> None:
    """Keep reading the log, so that a chatty bot never blocks on a full pipe."""
    assert process.stderr is not None
    while await process.stderr.readline():
        pass


def fresh_copy(pristine: Path, directory: Path) -> Path:
    """A copy of ``pristine`` for one run: a run writes (its lease, what the jobs record),
    and every run must start from the same state."""
    database = directory / "run.db"
    for leftover in directory.glob("run.db*"):
        leftover.unlink()
    shutil.copyfile(pristine, database)
    return database


async def measure(database: Path, directory: Path) -> Startup:
    """Start the bot on ``database``, measure, stop it."""
    async with FakeTelegram(token=TOKEN) as server:
        started = time.perf_counter()
        process = await _start_bot(server, f"sqlite+aiosqlite:///{database}", directory)
        try:
            result = await asyncio.wait_for(_watch(process, started), STARTUP_TIMEOUT_S)
        except BaseException:
            process.kill()
            await process.wait()
            raise
        drain = asyncio.create_task(_drain(process))
        process.send_signal(signal.SIGINT)  # as an operator stops it: shut-down hooks run
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
        await drain
    if process.returncode != 0:
        raise RuntimeError(f"the bot exited with status {process.returncode}")
    return result


# ---- the benchmark ----------------------------------------------------------------------


def _label(count: int) -> str:
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    if count % 1_000 == 0:
        return f"{count // 1_000}k"
    return str(count)


def _setting(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    value = int(raw) if raw else default
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def run() -> list[Figure]:
    if not Path("/proc/self/status").exists():
        raise RuntimeError("resident memory is read from /proc: this benchmark needs Linux")
    large = _setting(LARGE_VARIABLE, DEFAULT_LARGE, SMALL)
    repeats = _setting(REPEATS_VARIABLE, DEFAULT_REPEATS, 1)
    if large % ACTIVITIES:
        raise ValueError(f"{LARGE_VARIABLE} must be a multiple of {ACTIVITIES}, not {large}")
    sizes = (SMALL, large)
    built_at = datetime.now(UTC)
    plan = _plan(built_at, signed_up_at=built_at - timedelta(days=7))
    results: dict[int, list[Startup]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
        directory = Path(tmp)
        pristine: dict[int, Path] = {}
        for size in sizes:
            progress(f"[scheduler] building {size:,} sign-ups")
            began = time.perf_counter()
            pristine[size] = directory / f"{_label(size)}.db"
            pending = build(pristine[size], size, plan)
            megabytes = pristine[size].stat().st_size / 2**20
            progress(
                f"[scheduler] {size:,} sign-ups ({pending:,} with a reminder to come, "
                f"{megabytes:.0f} MiB) in {time.perf_counter() - began:.1f} s"
            )
        # The sizes take turns, so that a slow moment of the machine hits both alike.
        for attempt in range(1, repeats + 1):
            for size in sizes:
                result = asyncio.run(measure(fresh_copy(pristine[size], directory), directory))
                results[size].append(result)
                progress(
                    f"[scheduler] {_label(size)} #{attempt}: ready {result.ready_s:.2f} s, "
                    f"first reminder run done {result.startup_s:.2f} s "
                    f"({result.job_ms:.1f} ms, {result.queued} queued), "
                    f"RSS {result.rss_mb:.1f} MiB (peak {result.peak_mb:.1f})"
                )

    def med(size: int, field: str) -> float:
        return median([getattr(result, field) for result in results[size]])

    small, big = _label(SMALL), _label(large)
    baseline = f"{SMALL:,} sign-ups, same run, median of {repeats}"
    each = f"python -m bot on a fake server, median of {repeats}"
    figures: list[Figure] = []
    for size in sizes:
        label = _label(size)
        figures += [
            Figure(f"scheduler.ready_s.{label}", med(size, "ready_s"), "s", baseline=each),
            Figure(f"scheduler.startup_s.{label}", med(size, "startup_s"), "s", baseline=each),
            Figure(f"scheduler.first_job_ms.{label}", med(size, "job_ms"), "ms", baseline=each),
            Figure(f"scheduler.first_job_queued.{label}", med(size, "queued"), "reminders", "== 0"),
            Figure(f"scheduler.rss_mb.{label}", med(size, "rss_mb"), "MiB", baseline=each),
            Figure(f"scheduler.peak_rss_mb.{label}", med(size, "peak_mb"), "MiB", baseline=each),
        ]
    figures += [
        Figure(
            "scheduler.startup_ratio",
            med(large, "startup_s") / med(SMALL, "startup_s"),
            "x",
            "<= 1.2",
            f"{big} vs {small}; {baseline}",
        ),
        Figure(
            "scheduler.rss_ratio",
            med(large, "rss_mb") / med(SMALL, "rss_mb"),
            "x",
            "<= 1.2",
            f"{big} vs {small}; {baseline}",
        ),
    ]
    return figures
