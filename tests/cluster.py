"""The reference deployment of docs/deploy.md on this machine's loopback: nginx in front of
several bot processes in webhook mode, sharing one PostgreSQL database and one Redis.

The fake Telegram runs in the test's process and delivers updates to nginx as Telegram
would, several at a time and each chat's in order; nginx's access log records which instance
answered each update, so that a test can tell what a killed instance had taken in.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.leader import LEASE
from fake_telegram.server import FakeTelegram
from storage.database import Database
from storage.schema import leases
from tests.conftest import TOKEN
from tests.webhook_helpers import SECRET, free_port

ROOT = Path(__file__).resolve().parent.parent
HOOK_PATH = "/telegram/webhook"
NGINX = shutil.which("nginx") or next(
    (str(p) for p in (Path("/usr/sbin/nginx"),) if p.exists()), None
)
NGINX_MISSING = "nginx is not installed (Debian: apt-get install nginx-light)"

# The location block of docs/deploy.md, without TLS and Telegram's address ranges.
NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_body_buffer_size 1m;
    log_format routed escape=json '$upstream_addr|$upstream_status|$status|$request_body';
    upstream sosedi {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = {path} {{
            access_log {dir}/routed.log routed;
            limit_except POST {{ deny all; }}
            client_max_body_size 1m;
            proxy_pass http://sosedi;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""


@dataclass
class Instance:
    name: str
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


@dataclass
class Routed:
    """One request nginx passed on: the instances it tried, their answers, its own."""

    update_id: int
    upstreams: list[str]
    upstream_statuses: list[str]
    status: int


@dataclass
class Deployment:
    directory: Path
    server: FakeTelegram
    database_url: str
    redis_url: str | None
    size: int = 3
    module: str = "bot"  # what each instance runs: ``python -m <module>``
    token: str = TOKEN
    environment: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    nginx: asyncio.subprocess.Process | None = None
    port: int = 0

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    async def start(self) -> None:
        if NGINX is None:
            raise FileNotFoundError(NGINX_MISSING)
        self.port = free_port()
        self.instances = [
            Instance(f"bot{i + 1}", free_port(), self.directory / f"bot{i + 1}.log")
            for i in range(self.size)
        ]
        servers = "\n".join(
            f"        server {i.address} max_fails=1 fail_timeout=5s;" for i in self.instances
        )
        conf = self.directory / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(dir=self.directory, servers=servers, port=self.port, path=HOOK_PATH)
        )
        # nginx's workers may run as another account: let them write their temporary files.
        os.chmod(self.directory, 0o755)
        self.nginx = await asyncio.create_subprocess_exec(
            NGINX,
            "-p",
            str(self.directory),
            "-c",
            str(conf),
            "-e",
            str(self.directory / "error.log"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for instance in self.instances:
            await self.launch(instance)
        await asyncio.gather(*(self.healthy(instance) for instance in self.instances))

    async def launch(self, instance: Instance) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
        env.update(
            PYTHONPATH=str(ROOT),
            BOT_TOKEN=self.token,
            TELEGRAM_API_URL=self.server.base_url,
            DATABASE_URL=self.database_url,
            WEBHOOK_URL=self.webhook_url,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(instance.port),
            **self.environment,
        )
        if self.redis_url is not None:
            env["REDIS_URL"] = self.redis_url
        with instance.log.open("ab") as log:
            instance.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=log,
            )

    async def healthy(self, instance: Instance, seconds: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        async with aiohttp.ClientSession() as http:
            while True:
                assert instance.alive, f"{instance.name} exited:\n{self.log_of(instance)}"
                try:
                    async with http.get(f"http://{instance.address}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert asyncio.get_running_loop().time() < deadline, self.log_of(instance)
                await asyncio.sleep(0.1)

    async def leader(self) -> Instance:
        """The instance holding the worker lease: it runs the jobs and the sender."""
        db = Database.from_url(self.database_url)
        try:
            async with db.read() as conn:
                owner = await conn.scalar(select(leases.c.owner).where(leases.c.name == LEASE))
        finally:
            await db.close()
        assert owner, "nobody holds the worker lease"
        pid = int(owner.split(":")[1])
        [holder] = [i for i in self.instances if i.process and i.process.pid == pid]
        return holder

    async def kill(self, instance: Instance) -> None:
        """SIGKILL: no shut-down hook runs, what it had under way is cut short."""
        assert instance.process is not None
        instance.process.kill()
        await instance.process.wait()

    def routed(self) -> list[Routed]:
        found = []
        path = self.directory / "routed.log"
        if not path.exists():
            return found
        for line in path.read_text().splitlines():
            upstreams, statuses, status, body = line.split("|", 3)
            match = re.search(r'update_id\\"\s*:\s*(\d+)', body)
            if match is None:
                continue
            found.append(
                Routed(
                    int(match.group(1)),
                    [u.strip() for u in re.split(r"[,:]\s(?=\d)", upstreams) if u.strip()],
                    [s.strip() for s in re.split(r"[,:]\s", statuses) if s.strip()],
                    int(status),
                )
            )
        return found

    def log_of(self, instance: Instance) -> str:
        return instance.log.read_text(errors="replace") if instance.log.exists() else ""

    async def stop(self) -> dict[str, int | None]:
        """SIGINT to every instance still running, then nginx; their exit codes."""
        codes: dict[str, int | None] = {}
        for instance in self.instances:
            if instance.alive:
                instance.process.send_signal(signal.SIGINT)
        for instance in self.instances:
            if instance.process is not None:
                try:
                    codes[instance.name] = await asyncio.wait_for(instance.process.wait(), 30)
                except TimeoutError:
                    instance.process.kill()
                    codes[instance.name] = await instance.process.wait()
        if self.nginx is not None and self.nginx.returncode is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                await asyncio.wait_for(self.nginx.wait(), 10)
            except TimeoutError:
                self.nginx.kill()
                await self.nginx.wait()
        return codes
