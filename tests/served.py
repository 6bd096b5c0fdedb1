"""A web server in a child process (``relais serve``): started, waited for,
asked over HTTP, stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_SECONDS = 60


@contextmanager
def server_process(
    command: list[str], *, env: dict, cwd: Path, port: int, logs: Path
) -> Iterator[subprocess.Popen]:
    """``command`` running, listening on ``port``; its output in ``logs``/serve.*.
    Whatever it left running is killed at the end (its own process group)."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "serve.out", "w") as out, open(logs / "serve.err", "w") as err:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True
        )
        try:
            wait_until_listening(process, port, logs)
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def wait_until_listening(process: subprocess.Popen, port: int, logs: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{output(logs)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing listened on port {port} after {START_SECONDS} s:\n{output(logs)}")


def output(logs: Path) -> str:
    return "\n".join((logs / name).read_text() for name in ("serve.out", "serve.err"))


def get(url: str, language: str = "en") -> tuple[int, str]:
    """Status and body of a GET (error statuses included)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not a loopback URL: {url}")
    request = urllib.request.Request(url, headers={"Accept-Language": language})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def stop(process: subprocess.Popen) -> int:
    """SIGTERM, as a process manager stops a service: its exit status."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)
