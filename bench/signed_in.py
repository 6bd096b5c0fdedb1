"""Benchmark (not a test): pages for signed-in people, as ratios of bare Flask.

    eval "$(.ci/services)"
    .venv/bin/python bench/signed_in.py              # 10 s per measure, 8 clients

On a fresh PostgreSQL database next to BENCH_DATABASE_URL (or
TEST_DATABASE_URL), the seeded demo; one agent's session cookie made with the
app's own session signer (as a login would leave it), then kept as the first
answer sets it, as a browser's cookie jar does (the session then holds its
CSRF token). Under the same gunicorn settings, one after the other in the
same run:

- a bare Flask app answering "ok" (the denominator),
- the agent's own page and the cause page, signed in, with the page cache on
  (``PUBLIC_PAGE_CACHE_SECONDS`` = 5: the body kept, the menu and the CSRF token
  made per request),
- the same two with the cache off (every request rendered, as before).

Prints requests/s, p50/p99 and each ratio to bare Flask (issue 13's goal:
>= 10 %), and checks that every answer carried the agent's own menu.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reads import (
    BARE_APP,
    ROOT,
    base_url,
    create_database,
    drop_database,
    free_port,
    gunicorn,
    hammer,
    make_app,
    migrate,
    percentile,
    stop,
    wait_for,
)


def signed_in_cookie(app) -> tuple[str, str, str]:
    """(cookie header, own page path, cause page path) for the demo's first page owner."""
    from sqlalchemy import select

    from agents.models import Agent
    from campaigns.pages.models import Page, PageStatus
    from extensions import db

    with app.app_context():
        page = db.session.scalars(
            select(Page).where(Page.status == PageStatus.PUBLISHED).order_by(Page.id)
        ).first()
        owner = db.session.get(Agent, page.owner_id)
        with app.test_request_context():
            signer = app.session_interface.get_signing_serializer(app)
            value = signer.dumps(
                {"_user_id": owner.fs_uniquifier, "_fresh": True, "_id": uuid.uuid4().hex}
            )
        paths = (f"/p/{page.slug}", f"/c/{page.cause.slug}")
        db.session.rollback()
    name = app.config.get("SESSION_COOKIE_NAME", "session")
    return f"{name}={value}", *paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10, help="load duration per measure")
    args = parser.parse_args()
    if not 0 < args.clients <= 64 or not 0 < args.seconds <= 120:
        sys.exit("--clients <= 64 and --seconds <= 120")
    from campaigns.demo import seed as demo
    from extensions import db

    base = base_url()
    name = f"relais_bench_signed_{uuid.uuid4().hex[:8]}"
    url, _ = create_database(base, name)
    instance = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    try:
        app = make_app(url, instance)
        migrate(app)
        with app.app_context():
            demo.seed()
            db.session.commit()
        cookie, own, cause = signed_in_cookie(app)
        env = {k: v for k, v in os.environ.items() if k not in ("RELAIS_ENV", "REDIS_URL")}
        env.update(DATABASE_URL=url, RELAIS_INSTANCE=str(instance), SMTP_URL="")
        (instance / "bare_app.py").write_text(BARE_APP)
        on, off = {"PUBLIC_PAGE_CACHE_SECONDS": "5"}, {"PUBLIC_PAGE_CACHE_SECONDS": "0"}
        measures = [
            ("bare Flask", "bare_app:app", "/", instance, {}, {}),
            ("own page, kept", "app:create_app()", own, ROOT, on, {"Cookie": cookie}),
            ("cause page, kept", "app:create_app()", cause, ROOT, on, {"Cookie": cookie}),
            ("own page, rendered", "app:create_app()", own, ROOT, off, {"Cookie": cookie}),
            ("cause page, rendered", "app:create_app()", cause, ROOT, off, {"Cookie": cookie}),
        ]
        results = {}
        for label, target, path, cwd, extra, headers in measures:
            port = free_port()
            with open(instance / f"{label.replace(' ', '_')}.log", "w") as log:
                proc = gunicorn(
                    target, port, {**env, **extra}, cwd, args.workers, args.threads, log
                )
                try:
                    wait_for(port, path, proc)
                    if headers:
                        headers = check_signed_in(port, path, headers)
                    hammer(port, path, args.clients, 2, headers)  # warm-up
                    n, latencies = hammer(port, path, args.clients, args.seconds, headers)
                finally:
                    stop(proc)
            results[label] = n / args.seconds
            ratio = results[label] / results["bare Flask"]
            print(
                f"{label}: {results[label]:.0f} req/s (p50 {1000 * percentile(latencies, 0.5):.1f}"
                f" ms, p99 {1000 * percentile(latencies, 0.99):.1f} ms): "
                f"{100 * ratio:.1f} % of bare Flask"
            )
        for page in ("own page", "cause page"):
            gain = results[f"{page}, kept"] / results[f"{page}, rendered"]
            print(f"{page}: kept / rendered = {gain:.1f}x")
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        drop_database(base, name)


def check_signed_in(port: int, path: str, headers: dict) -> dict:
    """The page answers with the agent's menu (a log-out form), twice; returns
    the headers a browser sends next: the session cookie as the first answer
    set it (with its CSRF token), so that later requests do not rewrite it."""
    import http.client

    for _ in range(2):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if b"/account/logout" not in body:
            raise RuntimeError(f"{path} was not served to the signed-in agent")
        cookie = response.getheader("Set-Cookie")
        if cookie:
            headers = {**headers, "Cookie": cookie.split(";")[0]}
    return headers


if __name__ == "__main__":
    main()
