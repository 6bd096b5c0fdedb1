"""The few-seconds cache of public cause pages serves anonymous visitors only,
and never anything personal."""

import pytest

from campaigns import page_cache
from campaigns.giving import ledger as services
from tests.factories import AgentFactory, CauseFactory, OrganisationFactory, PageFactory


@pytest.fixture
def cached(app):
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 60
    page_cache.clear()
    yield
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0
    page_cache.clear()


def total_after_a_gift(db, cause, page):
    services.record_gift(page=page, cause=cause, amount_minor=4200, donor_name="A")
    db.session.commit()


def test_an_anonymous_visitor_gets_the_cached_page(db, client, cached):
    cause = CauseFactory()
    page = PageFactory(cause=cause)
    db.session.commit()
    first = client.get(f"/c/{cause.slug}")
    assert first.status_code == 200 and "X-Relais-Cache" not in first.headers
    total_after_a_gift(db, cause, page)
    again = client.get(f"/c/{cause.slug}")
    assert again.headers["X-Relais-Cache"] == "hit"
    assert again.data == first.data  # a few seconds old; the live stream brings the rest
    board = client.get(f"/c/{cause.slug}/leaderboard")
    assert client.get(f"/c/{cause.slug}/leaderboard").headers["X-Relais-Cache"] == "hit"
    assert board.status_code == 200


def test_each_language_has_its_own_copy(db, client, cached):
    cause = CauseFactory()
    db.session.commit()
    english = client.get(f"/c/{cause.slug}", headers={"Accept-Language": "en"})
    french = client.get(f"/c/{cause.slug}", headers={"Accept-Language": "fr"})
    assert "X-Relais-Cache" not in french.headers
    assert b'lang="fr"' in french.data and b'lang="en"' in english.data


def test_without_a_language_the_organisations_own_is_cached(db, client, cached):
    english = CauseFactory(organisation=OrganisationFactory(locale="en"))
    db.session.commit()
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")  # a link preview, curl
    first = client.get(f"/c/{english.slug}")
    again = client.get(f"/c/{english.slug}")
    assert again.headers["X-Relais-Cache"] == "hit"
    assert b'lang="en"' in first.data and b'lang="en"' in again.data


def test_visitors_with_a_session_are_never_served_from_the_cache(app, db, client, cached, login_as):
    cause = CauseFactory()
    page = PageFactory(cause=cause)
    db.session.commit()
    client.get(f"/c/{cause.slug}")  # cached for anonymous visitors
    login_as(AgentFactory(name="Zoé Quelqu'une"))
    db.session.commit()
    total_after_a_gift(db, cause, page)
    mine = client.get(f"/c/{cause.slug}")
    assert "X-Relais-Cache" not in mine.headers
    assert "42" in mine.text  # fresh figures for a visitor with a cookie
    assert b"csrf_token" in mine.data  # the log-out form: personal, so never stored
    # A new browser, without a cookie, in the same language.
    anonymous = app.test_client().get(f"/c/{cause.slug}", headers={"Accept-Language": "en"})
    assert anonymous.headers["X-Relais-Cache"] == "hit"
    assert b"csrf_token" not in anonymous.data


def test_errors_and_a_zero_setting_are_not_cached(app, db, client, cached):
    assert client.get("/c/no-such-cause").status_code == 404
    assert "X-Relais-Cache" not in client.get("/c/no-such-cause").headers
    cause = CauseFactory()
    db.session.commit()
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0
    client.get(f"/c/{cause.slug}")
    assert "X-Relais-Cache" not in client.get(f"/c/{cause.slug}").headers


def test_one_render_at_a_time_the_others_get_the_copy_it_replaces(db, client, cached):
    import threading

    cause = CauseFactory()
    db.session.commit()
    first = client.get(f"/c/{cause.slug}", headers={"Accept-Language": "en"})
    ((key, entry),) = page_cache._entries.items()
    page_cache._entries[key] = (0.0, *entry[1:])  # expired
    page_cache._rendering[key] = threading.Event()  # another visitor's render under way
    try:
        meanwhile = client.get(f"/c/{cause.slug}", headers={"Accept-Language": "en"})
    finally:
        page_cache._rendering.pop(key)
    assert meanwhile.headers["X-Relais-Cache"] == "stale" and meanwhile.data == first.data
    fresh = client.get(f"/c/{cause.slug}", headers={"Accept-Language": "en"})
    assert "X-Relais-Cache" not in fresh.headers  # expired and nobody rendering: rendered
    assert (
        client.get(f"/c/{cause.slug}", headers={"Accept-Language": "en"}).headers["X-Relais-Cache"]
        == "hit"
    )


def test_a_fresh_copy_is_served_before_the_limits_the_login_and_the_database(
    app, db, client, cached
):
    """A hit is served before the other hooks (the rate limiter, the login, the
    unit of work: one more hook at the end of the list stands for them), asks
    nothing of the database, and still carries the security headers, the
    request id and its metrics."""
    from campaigns.runtime import metrics
    from tests.conftest import count_queries

    cause = CauseFactory()
    db.session.commit()
    path = f"/c/{cause.slug}"
    assert client.get(path).status_code == 200  # rendered, kept
    checked = []
    hooks = app.before_request_funcs[None]
    hooks.append(lambda: checked.append(1))
    counted = metrics.HTTP_REQUESTS.labels("GET", "campaigns.cause_detail", "200")
    before = counted._value.get()
    try:
        with count_queries(db) as statements:
            hit = client.get(path, headers={"X-Request-Id": "abc-123"})
        assert client.get(f"{path}/leaderboard").status_code == 200  # not kept yet: rendered
    finally:
        hooks.pop()
    assert hit.headers["X-Relais-Cache"] == "hit" and statements == []
    assert checked == [1]  # the leaderboard's render went through the hooks, the hit did not
    assert hit.headers["X-Request-Id"] == "abc-123"
    assert "frame-ancestors 'none'" in hit.headers["Content-Security-Policy"]
    assert hit.headers["X-Frame-Options"] == "DENY"
    assert counted._value.get() == before + 1


def test_a_copy_served_once_is_then_answered_before_flask(app, db, client, cached):
    """From its second hit on, a copy is answered by the WSGI layer: no request
    context, no hook. The bytes and headers are those of the hit Flask served
    (security policy included), with the request's own id, and it is counted."""
    from flask import request_started

    from campaigns.runtime import metrics

    cause = CauseFactory()
    db.session.commit()
    path = f"/c/{cause.slug}"
    rendered = client.get(path)
    through_flask = client.get(path)
    started = []

    def note(sender, **extra):
        started.append(1)

    counted = metrics.HTTP_REQUESTS.labels("GET", "campaigns.cause_detail", "200")
    before = counted._value.get()
    request_started.connect(note, app)
    try:
        early = client.get(path, headers={"X-Request-Id": "from-nginx-1"})
        unnamed = client.get(path, headers={"X-Request-Id": "no spaces allowed"})
    finally:
        request_started.disconnect(note, app)
    assert started == []
    assert early.data == through_flask.data == rendered.data
    assert early.headers["X-Relais-Cache"] == "hit"
    assert early.headers["X-Request-Id"] == "from-nginx-1"
    assert unnamed.headers["X-Request-Id"] not in ("no spaces allowed", "from-nginx-1")
    assert len(unnamed.headers["X-Request-Id"]) == 32
    without_id = lambda response: sorted(  # noqa: E731
        (n, v) for n, v in response.headers.items() if n.lower() != "x-request-id"
    )
    assert without_id(early) == without_id(through_flask)
    assert "frame-ancestors 'none'" in early.headers["Content-Security-Policy"]
    assert counted._value.get() == before + 2


def test_the_layer_before_flask_serves_only_the_current_copy_to_anonymous_gets(
    app, db, client, cached
):
    from flask import request_started

    cause = CauseFactory()
    page = PageFactory(cause=cause)
    db.session.commit()
    path = f"/c/{cause.slug}"
    client.get(path)
    client.get(path)  # the hit Flask served: the next ones are answered before it
    started = []

    def note(sender, **extra):
        started.append(request_started)

    request_started.connect(note, app)
    try:
        client.set_cookie("seen", "1")  # any cookie: Flask
        client.get(path)
        client.delete_cookie("seen")
        client.get(path, headers={"Authorization": "Bearer t"})  # credentials: Flask
        client.head(path)  # not a GET
        assert len(started) == 3
        total_after_a_gift(db, cause, page)
        ((key, entry),) = page_cache._entries.items()
        page_cache._entries[key] = (0.0, *entry[1:])  # expired: rendered again
        renewed = client.get(path)
        assert len(started) == 4 and "X-Relais-Cache" not in renewed.headers
        assert b"42" in renewed.data  # the new copy, with the gift
        client.get(path)  # its first hit, through Flask
        assert len(started) == 5
        assert client.get(path).data == renewed.data and len(started) == 5
        app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0  # turned off: nothing kept is served
        assert "X-Relais-Cache" not in client.get(path).headers
    finally:
        request_started.disconnect(note, app)


def test_behind_a_proxy_each_forwarded_host_gets_its_own_copy(monkeypatch):
    """The proxy's headers are applied before the page cache's WSGI layer:
    copies (whose links are absolute) are kept per host the client asked for."""
    from flask import request

    from app import create_app

    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    proxied = create_app({"TESTING": True, "PUBLIC_PAGE_CACHE_SECONDS": 60})

    @proxied.get("/where")
    @page_cache.cached_for_anonymous
    def where():
        return f"{request.scheme}://{request.host}"

    page_cache.clear()
    try:
        web = proxied.test_client(use_cookies=False)
        for host in ("a.example", "b.example", "a.example", "b.example", "a.example"):
            for _ in range(3):  # rendered, a hit through Flask, a hit before it
                answer = web.get(
                    "/where", headers={"X-Forwarded-Host": host, "X-Forwarded-Proto": "https"}
                )
                assert answer.text == f"https://{host}"
    finally:
        page_cache.clear()
