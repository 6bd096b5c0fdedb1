"""``relais serve``: the production web server, gunicorn through its Python API.

Threads. A live page holds one Server-Sent Events stream per open tab, and
under gunicorn a stream holds one thread of its worker for up to
``LIVE_STREAM_SECONDS`` (300 s) before the browser reconnects. Sync workers
would be taken whole by one stream, so the worker class is ``gthread``. Each
process refuses streams past ``LIVE_MAX_STREAMS`` (200) so that they cannot
starve page views: the threads are that cap plus ``PAGE_THREADS`` for
everything else, so a process full of streams still serves pages. Waiting
streams cost little (a thread blocked on a condition, no database
connection); gthread starts threads only as connections need them.

Workers. Without ``REDIS_URL`` live updates and rate limits stay inside one
process, so one worker is the default; with Redis, one per CPU up to
``MAX_DEFAULT_WORKERS``.

Each worker builds its own app after the fork (nothing opened in the master
is shared). SIGTERM stops gracefully: requests in flight get
``GRACEFUL_TIMEOUT`` seconds; live streams still open then are cut, and their
browsers reconnect elsewhere.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo
from gunicorn.app.base import BaseApplication

# SQLAlchemy's default pool serves 15 requests at once per process (5 + 10
# overflow): more page threads would only wait for a connection.
PAGE_THREADS = 15
# Each process holds up to 15 database connections: 4 processes stay inside
# PostgreSQL's default max_connections (100), with room for the scheduler and workers.
MAX_DEFAULT_WORKERS = 4
# Below the 30 s that compose.yaml and deploy/systemd/ allow before SIGKILL,
# so that a stop stays graceful.
GRACEFUL_TIMEOUT = 20
SHM = "/dev/shm"  # noqa: S108 - see worker_tmp_dir below
ACCESS_LOG_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms '
    "request_id=%({x-request-id}o)s"
)


class RelaisServer(BaseApplication):
    """Gunicorn serving the app that ``factory`` builds, once per worker."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]):
        self.factory = factory
        self.options = options
        super().__init__(prog="relais serve")

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


def prepare_metrics_folder() -> None:
    """Point prometheus-client at a fresh folder for this server's processes.

    Each gunicorn worker is its own process; prometheus-client's multiprocess
    mode writes each one's samples to ``PROMETHEUS_MULTIPROC_DIR`` and merges
    them at scrape time. It picks its storage when it is first imported, so
    ``relais`` calls this before building the app (see ``app.main``)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        return
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="relais-metrics-")


def _worker_exited(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def server_options(
    config: dict, host: str, port: int, workers: int | None, threads: int | None
) -> tuple[dict[str, Any], list[str]]:
    """Gunicorn's settings for this app's ``config``, and warnings for choices
    that would hurt live pages."""
    streams = int(config.get("LIVE_MAX_STREAMS", 200))
    has_redis = bool(config.get("REDIS_URL"))
    if workers is None:
        workers = min(cpus(), MAX_DEFAULT_WORKERS) if has_redis else 1
    if threads is None:
        threads = streams + PAGE_THREADS
    warnings = []
    if workers > 1 and not has_redis:
        warnings.append(
            f"{workers} workers without REDIS_URL: live updates and rate limits stay inside "
            "each process, so a gift one worker records is not streamed by the others. "
            "Set REDIS_URL, or use --workers 1."
        )
    if threads <= streams:
        warnings.append(
            f"{threads} threads per worker with LIVE_MAX_STREAMS={streams}: open live streams "
            "can take every thread and page views then wait. Give each worker more threads "
            "than LIVE_MAX_STREAMS (WEB_THREADS), or lower LIVE_MAX_STREAMS."
        )
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "proc_name": "relais",
        # The heartbeat file on tmpfs: on a disk-backed /tmp (containers) it can block
        # workers. gunicorn creates it with mkstemp.
        "worker_tmp_dir": SHM if os.path.isdir(SHM) else None,
        # gunicornc's socket in $HOME: unused here, and two servers of one user would share it.
        "control_socket_disable": True,
        # A dead worker's live-stream gauge must not count any more.
        "child_exit": _worker_exited,
    }
    return options, warnings


@click.command("serve")
@click.option("--host", envvar="HOST", show_envvar=True, default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    envvar="PORT",
    show_envvar=True,
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
)
@click.option(
    "--workers",
    envvar="WEB_WORKERS",
    show_envvar=True,
    type=click.IntRange(min=1),
    help="Processes; default 1 without REDIS_URL, else one per CPU up to 4.",
)
@click.option(
    "--threads",
    envvar="WEB_THREADS",
    show_envvar=True,
    type=click.IntRange(min=1),
    help=f"Threads per process; default LIVE_MAX_STREAMS + {PAGE_THREADS}.",
)
def serve_command(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve Relais with gunicorn (gthread workers) on DATABASE_URL until SIGTERM."""
    info = click.get_current_context().ensure_object(ScriptInfo)
    app = info.load_app()
    options, warnings = server_options(app.config, host, port, workers, threads)
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"Relais on http://{options['bind'][0]}/ with {options['workers']} worker(s) of "
        f"{options['threads']} threads.",
        err=True,
    )
    # A fresh app per worker from the CLI's own factory; the master's app only
    # if the CLI was given none (``flask --app``).
    factory = info.create_app or (lambda: app)
    RelaisServer(factory, options).run()
