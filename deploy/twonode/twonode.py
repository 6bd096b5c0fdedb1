"""Two Relais nodes behind nginx on loopback, sharing PostgreSQL and Redis.

    DATABASE_URL=postgresql://… REDIS_URL=redis://… \\
        .venv/bin/python deploy/twonode/twonode.py --folder /tmp/relais-twonode

Starts, each in its own process group and all on 127.0.0.1:
  * ``relais db upgrade`` once;
  * two web nodes, ``relais serve --workers 2`` on two ports, each with its own
    instance folder (nothing local is shared) and one shared ``UPLOAD_FOLDER``;
  * two ``relais worker`` and two ``relais scheduler`` (one leads, one waits);
  * nginx (Debian's package) in front: round robin over both nodes, the live
    stream passed on unbuffered.
Once everything listens it prints one JSON line (the URLs, the folder, the
process ids) and runs until SIGTERM or SIGINT, then stops everything.

With ``--own-services`` it first starts its own PostgreSQL cluster and
redis-server in ``--folder`` (``own_services.py``; DATABASE_URL and REDIS_URL
are then not needed, and nothing shared is touched): what bench/night.py and
bench/faults.py stop and start under load.
Logs are in ``--folder``/logs. The sessions, the CSRF tokens and the reset
links of one node are good on the other: both get the same SECRET_KEY and
SECURITY_PASSWORD_SALT (given, or made once and kept in the folder).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from own_services import Postgres, RedisServer  # beside this script

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = Path(__file__).with_name("nginx.conf.in")
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, processes: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        for proc in processes:
            if proc.poll() is not None:
                raise SystemExit(f"{proc.args[-1]!r} exited with {proc.returncode}; see {logs}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listened on {port} after {START_SECONDS} s; see {logs}")


def kept_secret(folder: Path, name: str, given: str | None = None) -> str:
    """A secret given, else from the environment, else one made once for this folder."""
    if given:
        return given
    if os.environ.get(name):
        return os.environ[name]
    path = folder / f"{name.lower()}.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


class TwoNodes:
    def __init__(
        self, folder: Path, nginx_port: int, workers: int, env: dict[str, str] | None = None
    ):
        self.folder = folder
        self.logs = folder / "logs"
        self.nginx_port = nginx_port
        self.workers = workers
        self.extra_env = dict(env or {})  # over os.environ, for every process
        self.node_ports = [free_port(), free_port()]
        self.processes: list[subprocess.Popen] = []
        self.roles: dict[int, str] = {}
        self.launches: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_")}
        env.update(self.extra_env)
        env.update(
            SECRET_KEY=kept_secret(self.folder, "SECRET_KEY", self.extra_env.get("SECRET_KEY")),
            SECURITY_PASSWORD_SALT=kept_secret(
                self.folder, "SECURITY_PASSWORD_SALT", self.extra_env.get("SECURITY_PASSWORD_SALT")
            ),
            UPLOAD_FOLDER=str(self.folder / "uploads"),
            TRUSTED_PROXIES="1",  # nginx; a node asked directly sees no X-Forwarded-For
            PYTHONUNBUFFERED="1",
            **extra,
        )
        env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{self.nginx_port}")
        return env

    def relais(self, role: str, *args: str, **env: str) -> subprocess.Popen:
        out = open(self.logs / f"{role}.log", "a")  # noqa: SIM115 - the child keeps it
        command = [sys.executable, "-c", "from app import main; main()", *args]
        proc = subprocess.Popen(  # noqa: S603 - our own commands
            command,
            cwd=ROOT,
            env=self.env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(proc)
        self.roles[proc.pid] = role
        self.launches[role] = (args, env)
        return proc

    def process(self, role: str) -> subprocess.Popen:
        """The running process of ``role`` (``web-a``, ``worker-b``, ``scheduler-a``…)."""
        for proc in reversed(self.processes):
            if self.roles.get(proc.pid) == role:
                return proc
        raise KeyError(role)

    def kill(self, role: str) -> int:
        """``kill -9`` of ``role``'s whole process group (gunicorn and its workers)."""
        proc = self.process(role)
        with _gone():
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return proc.pid

    def relaunch(self, role: str) -> subprocess.Popen:
        """``role`` started again as it was first started; waits for a web node to listen."""
        old = self.process(role)
        if old.poll() is None:
            raise RuntimeError(f"{role} is still running")
        self.processes.remove(old)
        args, env = self.launches[role]
        proc = self.relais(role, *args, **env)
        if role.startswith("web-"):
            wait_listening(self.node_ports["ab".index(role[-1])], [proc], self.logs)
        return proc

    def start(self) -> dict:
        for name in ("logs", "uploads", "nginx", "a", "b"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        migrate = self.relais("migrate", "db", "upgrade", RELAIS_INSTANCE=str(self.folder / "a"))
        if migrate.wait(timeout=120) != 0:
            raise SystemExit(f"relais db upgrade failed; see {self.logs / 'migrate.log'}")
        self.processes.remove(migrate)
        for letter, port in zip("ab", self.node_ports, strict=True):
            # A node's web server, worker and scheduler write their samples in one
            # folder, which that node's /metrics reads; a new set starts from zero.
            samples = self.folder / letter / "metrics"
            shutil.rmtree(samples, ignore_errors=True)
            node = {"RELAIS_INSTANCE": str(self.folder / letter)}
            node["PROMETHEUS_MULTIPROC_DIR"] = str(samples)
            web = ("serve", "--port", str(port), "--workers", str(self.workers))
            self.relais(f"web-{letter}", *web, **node)
            self.relais(f"worker-{letter}", "worker", **node)
            self.relais(f"scheduler-{letter}", "scheduler", **node)
        self.start_nginx()
        for port in (*self.node_ports, self.nginx_port):
            wait_listening(port, self.processes, self.logs)
        return {
            "url": f"http://127.0.0.1:{self.nginx_port}",
            "nodes": [f"http://127.0.0.1:{port}" for port in self.node_ports],
            "folder": str(self.folder),
            "uploads": str(self.folder / "uploads"),
            "pids": {self.roles[p.pid]: p.pid for p in self.processes},
        }

    def start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise SystemExit("nginx is not installed: apt-get install -y nginx")
        prefix = self.folder / "nginx"
        conf = NGINX_CONF.read_text()
        for key, value in {
            "@PREFIX@": str(prefix),
            "@PORT@": str(self.nginx_port),
            "@NODE_A@": f"127.0.0.1:{self.node_ports[0]}",
            "@NODE_B@": f"127.0.0.1:{self.node_ports[1]}",
            "@USER@": "root" if os.geteuid() == 0 else "",
        }.items():
            conf = conf.replace(key, value)
        if os.geteuid() != 0:
            conf = conf.replace("user root;\n", "")
        (prefix / "nginx.conf").write_text(conf)
        out = open(self.logs / "nginx.log", "a")  # noqa: SIM115 - the child keeps it
        command = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
        command += ["-e", str(self.logs / "nginx-error.log"), "-g", "daemon off;"]
        proc = subprocess.Popen(  # noqa: S603 - our own commands
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(proc)
        self.roles[proc.pid] = "nginx"

    def stop(self) -> None:
        """SIGTERM to each process group, then SIGKILL to what is left."""
        for proc in self.processes:
            if proc.poll() is None:
                with _gone():
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with _gone():
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


class OwnServices:
    """This set's own PostgreSQL cluster and redis-server, in its folder."""

    def __init__(self, folder: Path):
        self.postgres = Postgres(folder / "pg")
        self.redis = RedisServer(folder / "redis")

    def start(self) -> dict[str, str]:
        self.postgres.start()
        self.redis.start()
        return {"DATABASE_URL": self.postgres.url, "REDIS_URL": self.redis.url}

    def stop(self) -> None:
        self.redis.kill()
        if self.postgres.is_running():
            self.postgres.stop()


class _gone:
    """Ignore a process (group) that has already exited."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is ProcessLookupError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True, help="state, uploads and logs")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per node")
    parser.add_argument(
        "--own-services",
        action="store_true",
        help="start a private PostgreSQL cluster and redis-server in --folder",
    )
    args = parser.parse_args()
    if not args.own_services:
        for name in ("DATABASE_URL", "REDIS_URL"):
            if not os.environ.get(name, "").startswith(("postgresql", "redis")):
                parser.error(f"set {name} (or give --own-services): both nodes share them")
    args.folder.mkdir(parents=True, exist_ok=True)
    folder = args.folder.resolve()
    services = OwnServices(folder) if args.own_services else None
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    nodes = None
    try:
        env = services.start() if services else {}
        nodes = TwoNodes(folder, args.port, args.workers, env)
        print(json.dumps({**nodes.start(), **env}), flush=True)
        while not stopping:
            for proc in nodes.processes:
                if proc.poll() is not None:
                    print(f"{nodes.roles[proc.pid]} exited with {proc.returncode}", file=sys.stderr)
                    stopping.append(True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if nodes is not None:
            nodes.stop()
        if services is not None:
            services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
