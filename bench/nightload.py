"""The night's load: anonymous page views, signed-in agents, API reads and
signed Stripe webhooks at given rates, and live streams held open.

Open loop: a pacer thread puts each request on a queue at its planned time
and a pool of client threads (keep-alive ``http.client`` connections) sends
them, so a slow server shows as a lower achieved rate and longer latencies,
not as a slower client. Every webhook's answer is kept: the gifts Stripe
would have to deliver again (no 200) are replayed by ``replay_failed``, and
``sent_total`` is what the ledger must hold at the end.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import random
import re
import selectors
import socket
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import stripe  # noqa: E402

from tests import stripe_objects as so  # noqa: E402

AMOUNTS = (500, 1000, 1000, 2000, 2500, 5000)
DUPLICATES = 0.1  # share of webhooks that are Stripe re-sending an event already sent


def percentile(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Gift:
    body: str
    amount: int
    page: str
    answers: list[int] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return 200 in self.answers


class Traffic:
    """What to ask and what was answered; thread-safe."""

    def __init__(self, base: str, secret: str, pages: list[str], events: list[str], cause: str):
        self.base = base
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.secret = secret
        self.pages, self.events, self.cause = pages, events, cause
        self.gifts: list[Gift] = []
        self.lock = threading.Lock()
        self.agents: list[tuple[str, str]] = []  # (cookie header, own page slug)
        self.rng = random.Random(2026)

    # --- requests of each kind: (method, path, body, headers, on_answer) ---

    def anonymous(self):
        roll = self.rng.random()
        if roll < 0.3:
            path = f"/c/{self.cause}"
        elif roll < 0.5:
            path = f"/c/{self.cause}/leaderboard"
        else:
            path = f"/p/{self.rng.choice(self.pages + self.events)}"
        return "GET", path, None, {"Accept-Language": self.rng.choice(("fr", "en"))}, None

    def agent(self):
        cookie, slug = self.rng.choice(self.agents)
        path = f"/p/{slug}" if self.rng.random() < 0.5 else "/me"
        return "GET", path, None, {"Cookie": cookie, "Accept-Language": "en"}, None

    def api(self):
        roll = self.rng.random()
        if roll < 0.3:
            path = f"/api/v1/causes/{self.cause}"
        elif roll < 0.6:
            path = f"/api/v1/causes/{self.cause}/leaderboard?board=pages&limit=10"
        else:
            path = f"/api/v1/pages/{self.rng.choice(self.pages)}"
        return "GET", path, None, {}, None

    def webhook(self):
        with self.lock:
            again = self.gifts and self.rng.random() < DUPLICATES
            if again:
                gift = self.rng.choice(self.gifts)
            else:
                page = self.rng.choice(self.pages + self.events)
                amount = self.rng.choice(AMOUNTS)
                session = so.checkout_session(
                    amount=amount, page=page, cause=self.cause, email="donor@night.example.org"
                )
                gift = Gift(
                    json.dumps(so.event(session, "checkout.session.completed")), amount, page
                )
                self.gifts.append(gift)
        return self.signed(gift)

    def signed(self, gift: Gift):
        signature = stripe.WebhookSignature.generate_signature_header(gift.body, self.secret)
        headers = {"Content-Type": "application/json", "Stripe-Signature": signature}

        def answered(status: int, _body: bytes) -> None:
            with self.lock:
                gift.answers.append(status)

        return "POST", "/webhooks/stripe", gift.body.encode(), headers, answered

    # --- totals -----------------------------------------------------------------

    def sent_total(self) -> tuple[int, int]:
        """(gifts Stripe would have delivered, their sum) — every distinct event."""
        with self.lock:
            return len(self.gifts), sum(g.amount for g in self.gifts)

    def unrecorded(self) -> list[Gift]:
        with self.lock:
            return [g for g in self.gifts if not g.recorded]

    def sign_in(self, count: int, emails: list[str], password: str) -> None:
        """``count`` agents signed in through the login form (CSRF and all)."""
        for i in range(count):
            browser = requests.Session()
            form = browser.get(f"{self.base}/account/login", timeout=60)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text)
            done = browser.post(
                f"{self.base}/account/login",
                data={"email": emails[i], "password": password, "csrf_token": token.group(1)},
                allow_redirects=False,
                timeout=60,
            )
            if done.status_code != 302:
                raise RuntimeError(f"agent {i} could not sign in: {done.status_code}")
            cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
            self.agents.append((cookie, self.pages[i]))


class Clients:
    """``size`` threads, each with its own keep-alive connection, sending what
    the pacer queues; results go to the current step's record."""

    def __init__(self, traffic: Traffic, size: int):
        self.traffic = traffic
        self.jobs: queue.Queue = queue.Queue()
        self.record: dict = defaultdict(list)
        self.statuses: dict = defaultdict(Counter)
        self.lock = threading.Lock()
        self.inflight = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(size)]
        for thread in self.threads:
            thread.start()

    def _send(self, conn, method, path, body, headers):
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def _run(self) -> None:
        conn = None
        while True:
            job = self.jobs.get()
            if job is None:
                return
            with self.lock:
                self.inflight += 1
            kind, (method, path, body, headers, answered) = job
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(
                        self.traffic.host, self.traffic.port, timeout=60
                    )
                try:
                    status, raw = self._send(conn, method, path, body, headers)
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    conn.close()  # nginx closed an idle keep-alive: once more
                    status, raw = self._send(conn, method, path, body, headers)
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
                status, raw = 0, b""
            elapsed = time.perf_counter() - started
            if answered is not None:
                answered(status, raw)
            with self.lock:
                self.record[kind].append(elapsed)
                self.statuses[kind][status] += 1
                self.inflight -= 1

    def wait_idle(self, seconds: float) -> None:
        """Until every queued request has been answered (at most ``seconds``)."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            with self.lock:
                if not self.inflight and not self.jobs.qsize():
                    return
            time.sleep(0.05)

    def take(self) -> tuple[dict, dict]:
        with self.lock:
            record, statuses = self.record, self.statuses
            self.record, self.statuses = defaultdict(list), defaultdict(Counter)
        return record, statuses

    def close(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)


def pace(clients: Clients, rates: dict[str, float], seconds: float, stop=None) -> dict:
    """Queue each kind at its rate (per second) for ``seconds``; return what
    was answered: per kind the count, the achieved rate, p50/p99 and statuses."""
    traffic = clients.traffic
    makers = {
        "anonymous": traffic.anonymous,
        "agent": traffic.agent,
        "api": traffic.api,
        "webhook": traffic.webhook,
    }
    clients.take()
    start = time.perf_counter()
    due = {kind: start for kind, rate in rates.items() if rate > 0}
    end = start + seconds
    while True:
        now = time.perf_counter()
        if now >= end or (stop is not None and stop.is_set()):
            break
        kind = min(due, key=due.get)
        if due[kind] > now:
            time.sleep(min(due[kind] - now, end - now))
            continue
        clients.jobs.put((kind, makers[kind]()))
        due[kind] += 1.0 / rates[kind]
    backlog = clients.jobs.qsize()
    clients.wait_idle(60)  # the queued requests count in this step
    elapsed = time.perf_counter() - start
    record, statuses = clients.take()
    return {
        kind: {
            "count": len(record[kind]),
            "rate": len(record[kind]) / elapsed,
            "p50": percentile(record[kind], 50) * 1000,
            "p99": percentile(record[kind], 99) * 1000,
            "statuses": dict(statuses[kind]),
        }
        for kind in rates
    } | {"backlog": backlog, "seconds": elapsed}


def replay_failed(clients: Clients, rounds: int = 5) -> int:
    """Deliver again each gift that never had a 200, as Stripe does; how many remain."""
    for _ in range(rounds):
        left = clients.traffic.unrecorded()
        if not left:
            return 0
        for gift in left:
            clients.jobs.put(("replay", clients.traffic.signed(gift)))
        clients.wait_idle(120)
        if clients.traffic.unrecorded():
            time.sleep(5)  # Stripe waits before it tries again
    return len(clients.traffic.unrecorded())


class Streams:
    """Live streams held open through nginx on raw sockets, one thread reading
    them all; a stream that ends (LIVE_STREAM_SECONDS) is opened again."""

    def __init__(self, host: str, port: int, path: str):
        self.host, self.port, self.path = host, port, path
        self.selector = selectors.DefaultSelector()
        self.raised: dict[int, int] = {}  # stream id -> the last cause total it was sent
        self.pending: dict[int, bytes] = {}  # stream id -> the start of a message
        self.refused = 0
        self.messages = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._next = 0

    def _open(self) -> bool:
        sock = socket.create_connection((self.host, self.port), timeout=30)
        # HTTP/1.0: nginx passes the stream on as it comes, not in chunked encoding.
        request = (
            f"GET {self.path} HTTP/1.0\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n\r\n"
        )
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        if head.split(b" ", 2)[1:2] != [b"200"]:
            sock.close()
            with self.lock:
                self.refused += 1
            return False
        sock.setblocking(False)
        with self.lock:
            self._next += 1
            ident = self._next
        self._note(ident, head)
        self.selector.register(sock, selectors.EVENT_READ, ident)
        return True

    def _note(self, ident: int, data: bytes) -> None:
        """Read the complete messages in what arrived: the cause's total of the last."""
        if b"\r\n\r\n" in data and ident not in self.pending:
            data = data.split(b"\r\n\r\n", 1)[1]  # past the response's headers
        buffered = self.pending.pop(ident, b"") + data
        *messages, rest = buffered.split(b"\n\n")
        self.pending[ident] = rest
        for message in messages:
            for line in message.split(b"\n"):
                if line.startswith(b"data: "):
                    try:
                        raised = json.loads(line[6:])["raised"]["amount_minor"]
                    except (ValueError, KeyError, TypeError):
                        continue
                    with self.lock:
                        self.messages += 1
                        self.raised[ident] = raised

    def open(self, count: int) -> tuple[int, float]:
        started = time.perf_counter()
        opened = sum(self._open() for _ in range(count))
        if not self._thread.is_alive():
            self._thread.start()
        return opened, time.perf_counter() - started

    def _read(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.selector.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    self._note(key.data, data)
                    continue
                self.selector.unregister(key.fileobj)
                key.fileobj.close()
                with self.lock:
                    self.raised.pop(key.data, None)
                self.pending.pop(key.data, None)
                if not self._stop.is_set():
                    with contextlib.suppress(OSError):
                        self._open()

    def open_count(self) -> int:
        return len(self.selector.get_map())

    def totals_seen(self) -> Counter:
        with self.lock:
            return Counter(self.raised.values())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
