"""Updates per second of the deployment a large chain runs (docs/deploy.md): 1, 2 and 3
bot processes in webhook mode behind nginx, sharing PostgreSQL and Redis, against one process
on SQLite behind the same nginx, all on this machine.

The data and the load are ``bench_throughput``'s: 20,000 centers, 200,000 activities, 300
residents, of whom 64 at a time run a resident's round as fast as the bot answers (a closed
loop, from a process of their own). Each deployment gets a fresh copy of the same data, a
fresh fake Telegram, and (on PostgreSQL) a Redis database of its own. The fake Telegram
delivers updates to nginx as Telegram does, up to 40 requests at once. Each instance runs
what ``python -m bot`` runs, with the throughput benchmark's probe in front
(:mod:`bench.instance`), which tells this process each update it has handled; updates are
counted here over a fixed window after a warm-up.

CPU time per update is reported by group (the instances, PostgreSQL's processes, this
process with the fake Telegram, the residents' process, nginx and Redis): on a machine with
few cores they all share them, which is what bounds the gain of adding instances here.

Needs nginx, redis-server and PostgreSQL's server binaries (as the tests do); without them
it reports nothing and says why.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import load_driver
from bench.bench_throughput import TOKEN, Plan, fill_database, start_driver
from bench.bench_throughput import settings_for_setup as setup_settings
from bench.common import Figure, progress
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from tests.cluster import NGINX, Deployment
from tests.postgres import Cluster, find_binaries
from tests.redis_helpers import running_redis

WARMUP_S = float(os.environ.get("BENCH_INSTANCES_WARMUP", "8"))
WINDOW_S = float(os.environ.get("BENCH_INSTANCES_WINDOW", "20"))
SIZES = (1, 2, 3)
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    name: str
    updates: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # group -> seconds in the window
    busy: float = 0.0  # share of the machine's CPU time in the window
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


def _missing() -> list[str]:
    missing = []
    if NGINX is None:
        missing.append("nginx")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if find_binaries() is None:
        missing.append("PostgreSQL's server binaries")
    return missing


# ---- CPU accounting from /proc ----------------------------------------------------------


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far) for every process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        found[int(entry)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def _descendants(processes: dict[int, tuple[int, str, float]], root: int) -> set[int]:
    found = {root}
    grew = True
    while grew:
        grew = False
        for pid, (parent, _name, _cpu) in processes.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _cpu_by_group(groups: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds so far of each group (its processes and their descendants), of this
    process alone (its children are the other groups) and of Redis."""
    processes = _processes()
    totals = {}
    for group, roots in groups.items():
        members: set[int] = set()
        for root in roots & processes.keys():
            members |= _descendants(processes, root)
        totals[group] = sum(processes[pid][2] for pid in members)
    totals["fake Telegram (this process)"] = processes[os.getpid()][2]
    totals["redis"] = sum(cpu for _p, name, cpu in processes.values() if name == "redis-server")
    return totals


# ---- one deployment -----------------------------------------------------------------------


async def _phase(
    name: str,
    directory: Path,
    plan: Plan,
    database_url: str,
    redis_url: str | None,
    size: int,
    postgres_pid: int | None,
) -> Phase:
    phase = Phase(name)
    handled: list[float] = []
    driver_lines: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
    driver_lines = asyncio.Queue()
    relay: dict[str, asyncio.StreamWriter] = {}

    async def instance_connected(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        async for line in reader:
            handled.append(time.monotonic())
            writer = relay.get("driver")
            if writer is not None:
                writer.write(line)

    async def driver_connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await driver_lines.put((reader, writer))

    instances_server = await asyncio.start_server(instance_connected, "127.0.0.1", 0)
    driver_server = await asyncio.start_server(driver_connected, "127.0.0.1", 0)
    async with FakeTelegram(token=TOKEN) as server:
        deployment = Deployment(
            directory,
            server,
            database_url,
            redis_url,
            size=size,
            module="bench.instance",
            token=TOKEN,
            environment={
                "BENCH_SIGNAL_PORT": str(instances_server.sockets[0].getsockname()[1]),
                "DEFAULT_LOCALE": "ru",
            },
        )
        process = None
        try:
            await deployment.start()
            driver_port = driver_server.sockets[0].getsockname()[1]
            process = start_driver("bot", server.base_url, driver_port, plan)
            reader, writer = await asyncio.wait_for(driver_lines.get(), 120)
            if (await asyncio.wait_for(reader.readline(), 120)).strip() != b"ready":
                raise RuntimeError("the load driver did not start")
            relay["driver"] = writer
            groups = {
                "instances": {i.process.pid for i in deployment.instances if i.process},
                "postgresql": {postgres_pid} if postgres_pid else set(),
                "residents' driver": {process.pid} if process.pid else set(),
                "nginx": {deployment.nginx.pid} if deployment.nginx else set(),
            }
            await asyncio.sleep(WARMUP_S)
            start_cpu, start_machine = _cpu_by_group(groups), _machine_busy()
            start, first = time.monotonic(), len(handled)
            await asyncio.sleep(WINDOW_S)
            end, last = time.monotonic(), len(handled)
            end_cpu, end_machine = _cpu_by_group(groups), _machine_busy()
            phase.updates, phase.seconds = last - first, end - start
            phase.cpu = {group: end_cpu[group] - start_cpu[group] for group in end_cpu}
            phase.busy = (end_machine[0] - start_machine[0]) / (end_machine[1] - start_machine[1])
            writer.write(b"stop\n")
            line = await asyncio.wait_for(reader.readline(), load_driver.STOP_TIMEOUT_S + 30)
            if not line.startswith(b"report "):
                raise RuntimeError(f"the load driver ended without a report: {line[:200]!r}")
            report = json.loads(line[len(b"report ") :])
            relay.pop("driver", None)
            writer.close()
            await asyncio.to_thread(process.join, 30)
            for kind, count in report["anomalies"].items():
                phase.errors[f"driver: {kind}"] += count
            async with FakeTelegramClient(server.base_url) as control:
                phase.errors["unanswered callbacks"] = len(await control.unanswered_callbacks())
            for method, count in server.stats()["errors"].items():
                phase.errors[f"refused {method}"] += count
        finally:
            if process is not None and process.is_alive():
                process.terminate()
            codes = await deployment.stop()
            instances_server.close()
            driver_server.close()
        for instance in deployment.instances:
            log = deployment.log_of(instance)
            phase.errors["instance log: ERROR"] += log.count(" ERROR ") + log.count("Traceback")
        phase.errors["instance exit codes"] = sum(1 for code in codes.values() if code != 0)
    phase.errors = +phase.errors
    return phase


# ---- the runs -----------------------------------------------------------------------------


async def _measure(tmp: Path, postgres: Cluster, redis_url: str) -> list[Phase]:
    now = datetime.now(UTC)
    settings = setup_settings()
    progress("[instances] building the data on SQLite and on PostgreSQL (as bench_throughput)")
    started = time.perf_counter()
    sqlite_file = tmp / "filled.db"
    plan = await fill_database(f"sqlite+aiosqlite:///{sqlite_file}", now, settings)
    await postgres.create_database(name="filled")
    await fill_database(postgres.url("filled"), now, settings)
    progress(f"[instances] data ready in {time.perf_counter() - started:.0f} s: {plan.counts}")
    postgres_pid = int((postgres.data / "postmaster.pid").read_text().split()[0])

    phases = []
    directory = tmp / "sqlite-1"
    directory.mkdir()
    shutil.copy(sqlite_file, directory / "bot.db")
    progress("[instances] 1 instance on SQLite")
    phases.append(
        await _phase(
            "sqlite-1", directory, plan, f"sqlite+aiosqlite:///{directory}/bot.db", None, 1, None
        )
    )
    for number, size in enumerate(SIZES, start=1):
        name = f"postgresql-{size}"
        directory = tmp / name
        directory.mkdir()
        database = await postgres.create_database(template="filled", name=name.replace("-", "_"))
        progress(f"[instances] {size} instance(s) on PostgreSQL and Redis")
        phases.append(
            await _phase(
                name,
                directory,
                plan,
                postgres.url(database),
                f"{redis_url}?db={number}",
                size,
                postgres_pid,
            )
        )
    return phases


def _figures(phases: list[Phase]) -> list[Figure]:
    baseline = phases[0]
    figures = []
    for phase in phases:
        key = phase.name.replace("-", "_")
        progress(
            f"[instances] {phase.name}: {phase.rate:.1f} updates/s, machine CPU "
            f"{100 * phase.busy:.0f} % busy; CPU ms per update: "
            + ", ".join(
                f"{group} {1e3 * seconds / max(1, phase.updates):.2f}"
                for group, seconds in phase.cpu.items()
            )
        )
        machine = phase.busy * (os.cpu_count() or 1) * phase.seconds
        progress(
            f"[instances] {phase.name}: the machine's CPU per update "
            f"{1e3 * machine / max(1, phase.updates):.2f} ms, of which not in these processes "
            f"(the kernel's network stack, others) "
            f"{1e3 * (machine - sum(phase.cpu.values())) / max(1, phase.updates):.2f} ms"
        )
        progress(f"[instances] {phase.name} errors: {dict(phase.errors) or 'none'}")
        figures.append(Figure(f"instances.{key}.updates_per_s", phase.rate, "updates/s"))
        if phase is not baseline:
            figures.append(
                Figure(
                    f"instances.{key}.ratio_vs_sqlite_1",
                    phase.rate / baseline.rate if baseline.rate else 0.0,
                    "x",
                    baseline="1 instance on SQLite behind the same nginx, same run",
                )
            )
        figures.append(
            Figure(
                f"instances.{key}.cpu_ms_per_update",
                1e3 * sum(phase.cpu.values()) / max(1, phase.updates),
                "ms",
                baseline="all processes of the deployment, the fake Telegram and the driver",
            )
        )
        figures.append(
            Figure(
                f"instances.{key}.errors",
                phase.errors.total(),
                "errors",
                "== 0",
                "driver anomalies + unanswered callbacks + refused Bot API calls + errors "
                "logged by the instances",
            )
        )
    return figures


def run() -> list[Figure]:
    missing = _missing()
    if missing:
        progress(f"[instances] skipped: {', '.join(missing)} not installed")
        return []
    binaries = find_binaries()
    assert binaries is not None
    with tempfile.TemporaryDirectory(prefix="bench-instances-") as name:
        tmp = Path(name)
        postgres = Cluster(binaries)
        try:
            postgres.start()
            with running_redis(tmp) as redis_url:
                phases = asyncio.run(_measure(tmp, postgres, redis_url))
        finally:
            postgres.stop()
    return _figures(phases)
