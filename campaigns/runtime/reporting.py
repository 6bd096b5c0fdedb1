"""Error reports to Sentry when ``SENTRY_DSN`` is set, from every process.

Web requests are reported by the Flask integration; the scheduler's and the
worker's failures by the logging integration, since both log every failure
with its traceback (``log.exception``). No personal data is sent
(``without_personal_data``): donors' and agents' details stay here.
"""

from __future__ import annotations

from flask import Flask


def without_personal_data(event: dict, _hint: dict) -> dict:
    """Only where and how a request failed: no cookies (the session), headers
    (tokens), body (forms with donors' details) or query string."""
    request = event.get("request")
    if isinstance(request, dict):
        event["request"] = {key: request[key] for key in ("url", "method") if key in request}
    event.pop("user", None)
    return event


def init_app(app: Flask) -> None:
    dsn = app.config.get("SENTRY_DSN")
    if not dsn or app.extensions.get("relais_sentry"):
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration()],
        environment=app.config.get("RELAIS_ENV", "development"),
        before_send=without_personal_data,
        traces_sample_rate=0.0,
    )
    app.extensions["relais_sentry"] = True
