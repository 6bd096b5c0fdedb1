"""Many live streams held open on raw sockets (one thread for all of them)."""

from __future__ import annotations

import socket


def open_stream(port: int, path: str) -> tuple[socket.socket, bytes]:
    """A stream connection once its first lines arrived: the socket and what it
    read (the status line, and the first message when the server accepted it)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    seen = b""

    def done() -> bool:
        head, ended, _body = seen.partition(b"\r\n\r\n")
        if not ended:
            return False
        return not head.startswith(b"HTTP/1.1 200") or b"event: totals" in seen

    while not done():
        chunk = sock.recv(65536)
        if not chunk:
            break
        seen += chunk
    return sock, seen


def status_of(seen: bytes) -> int:
    return int(seen.split(b" ", 2)[1]) if seen.startswith(b"HTTP/") else 0
