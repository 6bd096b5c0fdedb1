"""A private PostgreSQL cluster and a private redis-server, on loopback ports,
in a folder of their own: for the two-node set's faults, which stop and start
them under load (never a shared server).

    pg = Postgres(Path("/tmp/x/pg")).start()   # initdb the first time
    pg.url                                      # postgresql://postgres@127.0.0.1:PORT/relais
    pg.stop(); pg.start()                       # a restart, data kept
    redis = RedisServer(Path("/tmp/x/redis")).start(); redis.kill(); redis.start()

PostgreSQL comes from Debian's packages (``/usr/lib/postgresql/<version>/bin``)
and runs as the ``postgres`` user when this runs as root (initdb refuses
root). Durability is traded for speed as on the CI server (fsync off): a stop
is clean, and the data survives a restart.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL programs' folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _version(path: str) -> tuple[int, ...]:
    parts = Path(path).parts
    return tuple(int(p) for p in parts if p.isdigit()) or (0,)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Postgres:
    """One cluster in ``folder`` (its data directory), listening on 127.0.0.1
    only, with one database ``relais`` made at the first start."""

    def __init__(self, folder: Path, port: int | None = None, database: str = "relais"):
        self.folder = folder
        self.port = port or free_port()
        self.database = database
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql")
        self.as_user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def log(self) -> Path:
        return self.folder.with_name(self.folder.name + ".log")

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.as_user:
            command = ("runuser", "-u", self.as_user, "--", *command)
        return subprocess.run(  # noqa: S603 - our own commands
            command, check=check, capture_output=True, text=True, timeout=120
        )

    def _initdb(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.log
        log.touch()
        if self.as_user:
            user = pwd.getpwnam(self.as_user)
            for path in (self.folder, log):
                os.chown(path, user.pw_uid, user.pw_gid)
            # The postgres user must reach the folder through its parents.
            parent = self.folder.parent
            while parent != parent.parent:
                if parent.stat().st_mode & 0o001 == 0:
                    parent.chmod(parent.stat().st_mode | 0o011)
                parent = parent.parent
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.folder),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> Postgres:
        fresh = not (self.folder / "PG_VERSION").exists()
        if fresh:
            self._initdb()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=400 -c shared_buffers=256MB"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.folder),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            str(START_SECONDS),
            "start",
        )
        if fresh:
            self.sql(f'CREATE DATABASE "{self.database}"', database="postgres")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (sessions cut, clean shutdown) or ``immediate`` (as a crash)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder), "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def is_running(self) -> bool:
        return (
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.folder), "status", check=False
            ).returncode
            == 0
        )

    def sql(self, statement: str, database: str | None = None) -> str:
        result = self._run(
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database or self.database,
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            statement,
        )
        return result.stdout.strip()

    def destroy(self) -> None:
        if (self.folder / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer:
    """redis-server with an append-only file in ``folder``: killed and started
    again, it comes back with what it held (stale sets included)."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        program = shutil.which("redis-server")
        if program is None:
            raise RuntimeError("redis-server is not installed: apt-get install -y redis-server")
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [program, "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--dir", str(self.folder), "--save", "", "--appendonly", "yes"]
        command += ["--appendfsync", "everysec", "--protected-mode", "no", "--maxclients", "4000"]
        log = open(self.folder / "redis.log", "a")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + START_SECONDS
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
