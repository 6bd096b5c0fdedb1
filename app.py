"""Application factory, configuration and the ``relais`` command line."""

from __future__ import annotations

import os
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup
from werkzeug.middleware.proxy_fix import ProxyFix

from extensions import babel, csrf, db, limiter, migrate

HERE = Path(__file__).resolve().parent


class ConfigError(RuntimeError):
    pass


def load_config(app: Flask) -> None:
    """Configuration from the environment, with safe development defaults."""
    env = os.environ
    production = env.get("RELAIS_ENV", "development") == "production"
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if production:
        missing = [
            k for k in ("SECRET_KEY", "SECURITY_PASSWORD_SALT", "DATABASE_URL") if not env.get(k)
        ]
        if missing:
            raise ConfigError(
                "Relais is in production mode (RELAIS_ENV=production) but these settings "
                f"are missing from the environment: {', '.join(missing)}. Set them and start again."
            )
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'relais.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    app.config.update(
        RELAIS_ENV="production" if production else "development",
        SECRET_KEY=env.get("SECRET_KEY", "dev-only-not-secret"),
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        PUBLIC_URL=env.get("PUBLIC_URL", ""),
        SMTP_URL=env.get("SMTP_URL", ""),
        MAIL_FROM=env.get("MAIL_FROM", "Relais <no-reply@relais.localhost>"),
        # The "sent mail" page shows every kept mail (reset links included) to
        # anyone: only for a development site that has no SMTP server.
        SHOW_SENT_MAIL=env.get("SHOW_SENT_MAIL", "0" if production or env.get("SMTP_URL") else "1")
        == "1",
        # Behind a load balancer: how many proxies' X-Forwarded-* to trust.
        TRUSTED_PROXIES=int(env.get("TRUSTED_PROXIES", "0")),
        PREFERRED_URL_SCHEME="https" if production else "http",
        UPLOAD_FOLDER=env.get("UPLOAD_FOLDER", str(instance / "uploads")),
        MAX_CONTENT_LENGTH=int(env.get("MAX_UPLOAD_BYTES", str(8 * 1024 * 1024))),
        PHOTO_MAX_BYTES=int(env.get("PHOTO_MAX_BYTES", str(5 * 1024 * 1024))),
        REDIS_URL=env.get("REDIS_URL", ""),
        # Several sites on one Redis: each its own key prefix (ranks, live notices).
        REDIS_PREFIX=env.get("REDIS_PREFIX", "relais:"),
        # A live stream ends after this long (EventSource reconnects and resumes),
        # so that it does not hold a gunicorn thread for ever.
        LIVE_STREAM_SECONDS=float(env.get("LIVE_STREAM_SECONDS", "300")),
        # Anonymous GETs of cause pages are served from a per-process cache this
        # long (their figures move live through SSE); 0 turns it off.
        PUBLIC_PAGE_CACHE_SECONDS=float(env.get("PUBLIC_PAGE_CACHE_SECONDS", "5")),
        OPEN_DATA_RATE_LIMIT=env.get("OPEN_DATA_RATE_LIMIT", "120 per minute"),
        EXPENSE_DOCUMENT_MAX_BYTES=int(env.get("EXPENSE_DOCUMENT_MAX_BYTES", str(5 * 1024 * 1024))),
        RATELIMIT_STORAGE_URI=env.get("REDIS_URL") or "memory://",
        RATELIMIT_AUTH=env.get("RATELIMIT_AUTH", "10 per minute"),
        RATELIMIT_HEADERS_ENABLED=True,
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_DEFAULT_TIMEZONE="Europe/Paris",
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
        LANGUAGES=("fr", "en"),
        STRIPE_SECRET_KEY=env.get("STRIPE_SECRET_KEY", ""),
        STRIPE_WEBHOOK_SECRET=env.get("STRIPE_WEBHOOK_SECRET", ""),
        SCHEDULER_ENABLED=False,
        # Flask-Security: argon2 hashes, confirm by email, reset by email.
        SECURITY_PASSWORD_SALT=env.get("SECURITY_PASSWORD_SALT", "dev-only-salt"),
        SECURITY_PASSWORD_HASH="argon2",  # noqa: S106 - the scheme name
        SECURITY_REGISTERABLE=True,
        SECURITY_CONFIRMABLE=True,
        SECURITY_RECOVERABLE=True,
        SECURITY_CHANGEABLE=True,
        SECURITY_TRACKABLE=False,
        SECURITY_SEND_REGISTER_EMAIL=True,
        SECURITY_EMAIL_SENDER=env.get("MAIL_FROM", "Relais <no-reply@relais.localhost>"),
        SECURITY_POST_LOGIN_VIEW="/me",
        SECURITY_POST_CONFIRM_VIEW="/me",
        SECURITY_POST_REGISTER_VIEW="/account/check-email",
        SECURITY_URL_PREFIX="/account",
        SECURITY_CONFIRM_EMAIL_WITHIN=timedelta(days=3),
        SECURITY_RESET_PASSWORD_WITHIN=timedelta(days=1),
        SECURITY_AUTO_LOGIN_AFTER_CONFIRM=True,
        SECURITY_PASSWORD_LENGTH_MIN=8,
        SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS=False,
        WTF_CSRF_TIME_LIMIT=None,
    )


# Every module that defines tables: all are imported before the mappers configure
# (relationships name classes by string) and before Alembic compares the metadata.
MODEL_MODULES = (
    "agents.models",
    "campaigns.audit",
    "campaigns.fund_use.models",
    "campaigns.giving.models",
    "campaigns.offline.models",
    "campaigns.organisations.models",
    "campaigns.pages.models",
    "campaigns.totals.models",
    "messaging.automatic.models",
    "messaging.broadcasts.models",
    "messaging.mail.models",
    "messaging.outbox.models",
    "messaging.preferences.models",
    "messaging.sharing.models",
    "messaging.social.models",
    "messaging.templating.models",
)


# Modules that add routes to a blueprint defined in another module ("campaigns"
# in pages/views.py, "staff" in organisations/staff_views.py, "api" in
# campaigns/json_api.py): imported before the blueprints are registered.
ROUTE_MODULES = (
    "agents.staff_views",
    "campaigns.organisations.api",
    "campaigns.organisations.views",
    "campaigns.pages.api",
    "campaigns.pages.staff_views",
    "campaigns.standings.api",
)


def import_modules() -> None:
    for name in (*MODEL_MODULES, *ROUTE_MODULES):
        import_module(name)


def create_app(config: dict | None = None) -> Flask:
    """Build the Relais application; ``config`` overrides the environment."""
    app = Flask(
        __name__,
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        instance_path=os.environ.get("RELAIS_INSTANCE", str(HERE / "instance")),
    )
    load_config(app)
    if config:
        app.config.update(config)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from agents import auth, locale
    from agents.cli import agents_cli, staff_cli, tokens_cli
    from agents.views import bp as agents_bp
    from campaigns import errors, templating
    from campaigns.dashboard.views import bp as dashboard_bp
    from campaigns.demo.cli import demo_command
    from campaigns.fund_use.views import bp as expenses_bp
    from campaigns.giving.cli import stripe_cli
    from campaigns.giving.staff_views import bp as staff_donations_bp
    from campaigns.giving.views import bp as giving_bp
    from campaigns.giving.webhooks import bp as webhooks_bp
    from campaigns.json_api import bp as api_bp
    from campaigns.offline.views import bp as offline_bp
    from campaigns.open_data.views import bp as open_data_bp
    from campaigns.organisations.cli import orgs_cli
    from campaigns.organisations.staff_views import bp as staff_bp
    from campaigns.pages.views import bp as campaigns_bp
    from campaigns.standings.cli import ranks_cli
    from campaigns.standings.views import bp as live_bp
    from campaigns.totals.cli import totals_cli
    from messaging import listeners
    from messaging.broadcasts.views import bp as broadcasts_bp
    from messaging.mail.views import bp as messaging_bp
    from messaging.outbox.cli import worker_command
    from messaging.outbox.views import bp as outbox_staff_bp
    from messaging.preferences.views import bp as unsubscribe_bp
    from messaging.scheduling.cli import scheduler_command
    from messaging.sharing.views import bp as sharing_bp
    from messaging.social.views import bp as social_bp
    from messaging.templating.views import bp as messaging_staff_bp

    import_modules()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(HERE / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=locale.select_locale)
    limiter.init_app(app)
    auth.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    listeners.init_app(app)

    app.register_blueprint(campaigns_bp)
    app.register_blueprint(giving_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(open_data_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(staff_donations_bp)
    app.register_blueprint(expenses_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(offline_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(agents_bp)
    app.register_blueprint(messaging_bp)
    app.register_blueprint(broadcasts_bp)
    app.register_blueprint(outbox_staff_bp)
    app.register_blueprint(sharing_bp)
    app.register_blueprint(messaging_staff_bp)
    app.register_blueprint(social_bp)
    app.register_blueprint(unsubscribe_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(webhooks_bp)
    csrf.exempt(webhooks_bp)

    for command in (
        demo_command,
        orgs_cli,
        agents_cli,
        staff_cli,
        tokens_cli,
        totals_cli,
        ranks_cli,
        stripe_cli,
        scheduler_command,
        worker_command,
    ):
        app.cli.add_command(command)
    return app


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """Relais: peer-to-peer fundraising. Commands run against DATABASE_URL."""


def main() -> None:
    cli.main(prog_name="relais")
