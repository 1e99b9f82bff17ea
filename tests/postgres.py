"""A throwaway PostgreSQL cluster for the tests, made from the server's own binaries.

``initdb`` into a temporary directory, ``postgres`` listening on a unix socket in that
directory only (no TCP), durability switched off (the cluster lives for one test session).
The migrations run once into a template database; every test gets a clone of it, which
takes milliseconds, and it is dropped afterwards.

PostgreSQL refuses to run as root. Run as root (CI, containers), the cluster's directory is
given to the ``postgres`` account that Debian's server package creates (``nobody`` when
there is none) and the server programs run under that account; the tests still connect as
the database superuser ``postgres`` over the socket, with ``trust`` authentication.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

PORT = 5432  # only names the socket file: the server opens no TCP port
SUPERUSER = "postgres"
TEMPLATE = "sosedi_template"


def find_binaries() -> Path | None:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres``: $PG_BIN when set (only
    there), else Debian's versioned directories (15 first), else the PATH."""
    if os.environ.get("PG_BIN"):
        return _complete(Path(os.environ["PG_BIN"]))
    candidates = []
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        versions = sorted(base.iterdir(), key=lambda p: (p.name != "15", p.name))
        candidates += [version / "bin" for version in versions]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if _complete(candidate):
            return candidate
    return None


def _complete(directory: Path) -> Path | None:
    names = ("initdb", "pg_ctl", "postgres")
    return directory if all((directory / name).is_file() for name in names) else None


def _server_account() -> pwd.struct_passwd | None:
    """Whom to run the server as: nobody special unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account to run the server")


class Cluster:
    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.directory = Path(tempfile.mkdtemp(prefix="sosedi-pg-"))
        self.data = self.directory / "data"
        self.account = _server_account()
        self._names = itertools.count(1)
        self.started = False

    def _run(self, program: str, *args: str) -> None:
        kwargs = {}
        if self.account is not None:
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid}
        result = subprocess.run(
            [str(self.binaries / program), *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            **kwargs,
        )
        if result.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}{tail}")

    def start(self) -> None:
        if self.account is not None:
            os.chown(self.directory, self.account.pw_uid, self.account.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-k {self.directory} -h '' -p {PORT}",
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c max_connections=300 -c shared_buffers=64MB",
            ]
        )
        self._run(
            "pg_ctl",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.directory / "server.log"),
            "--options",
            options,
            "--wait",
            "start",
        )
        self.started = True

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "--pgdata", str(self.data), "--mode", "immediate", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@/{database}?host={self.directory}&port={PORT}"

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=str(self.directory), port=PORT, user=SUPERUSER, database="postgres"
        )

    async def create_database(self, *, template: str = "template0", name: str = "") -> str:
        """A new database, a copy of ``template``; returns its name."""
        name = name or f"t{next(self._names)}"
        admin = await self._admin()
        try:
            # FILE_COPY: with fsync off, copying the template's files beats writing them all
            # to the WAL (PostgreSQL 15's default strategy).
            await admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'
            )
        finally:
            await admin.close()
        return name

    async def drop_database(self, name: str) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
