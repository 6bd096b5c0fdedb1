"""Application factory, configuration and the ``relais`` command line."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo
from werkzeug.middleware.proxy_fix import ProxyFix

import extensions
from campaigns.runtime.logs import configure_logging
from campaigns.runtime.paths import asset_folder, instance_folder
from campaigns.runtime.settings import ConfigError, load_settings
from extensions import babel, csrf, db, limiter, migrate


def load_config(app: Flask) -> None:
    """Configuration: the typed settings (the environment, then .env: see
    campaigns/runtime/settings.py) under the config keys the code reads, and
    the choices below that are not settings."""
    settings = load_settings()
    if settings.relais_instance:  # also when it is only in .env
        app.instance_path = str(Path(settings.relais_instance).resolve())
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.update(settings.flask_config(instance))
    # Cookies that carry a login: never readable by scripts, not sent on
    # cross-site posts, and over HTTPS only in production (development runs on http).
    production = settings.is_production
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=production,
    )
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        RATELIMIT_HEADERS_ENABLED=True,
        # Redis stopped: limits are counted in this process's memory (Flask-Limiter
        # warns once and checks Redis again, backing off), never a 500; a stopped
        # server refuses at once, an unreachable one fails within a second.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_STORAGE_OPTIONS={"socket_timeout": 1, "socket_connect_timeout": 1},
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_DEFAULT_TIMEZONE="Europe/Paris",
        BABEL_TRANSLATION_DIRECTORIES=str(asset_folder("translations")),
        LANGUAGES=("fr", "en"),
        SCHEDULER_ENABLED=False,
        # Flask-Security: argon2 hashes, confirm by email, reset by email.
        SECURITY_PASSWORD_HASH="argon2",  # noqa: S106 - the scheme name
        SECURITY_REGISTERABLE=True,
        SECURITY_CONFIRMABLE=True,
        SECURITY_RECOVERABLE=True,
        SECURITY_CHANGEABLE=True,
        SECURITY_TRACKABLE=False,
        SECURITY_SEND_REGISTER_EMAIL=True,
        SECURITY_POST_LOGIN_VIEW="/me",
        SECURITY_POST_CONFIRM_VIEW="/me",
        SECURITY_POST_REGISTER_VIEW="/account/check-email",
        SECURITY_URL_PREFIX="/account",
        SECURITY_CONFIRM_EMAIL_WITHIN=timedelta(days=3),
        SECURITY_RESET_PASSWORD_WITHIN=timedelta(days=1),
        SECURITY_AUTO_LOGIN_AFTER_CONFIRM=True,
        SECURITY_PASSWORD_LENGTH_MIN=8,
        SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS=False,
        # Login, sign-up, reset and confirmation answer alike whether or not an
        # address has an account; signing up with a taken one mails its owner.
        SECURITY_RETURN_GENERIC_RESPONSES=True,
        WTF_CSRF_TIME_LIMIT=None,
    )


# Every module that defines tables: all are imported before the mappers configure
# (relationships name classes by string) and before Alembic compares the metadata.
MODEL_MODULES = (
    "agents.models",
    "campaigns.audit",
    "campaigns.badges.models",
    "campaigns.fairplay.models",
    "campaigns.fund_use.models",
    "campaigns.giving.models",
    "campaigns.leagues.models",
    "campaigns.matching.models",
    "campaigns.monthly.models",
    "campaigns.news.models",
    "campaigns.offline.models",
    "campaigns.organisations.models",
    "campaigns.pages.models",
    "campaigns.runtime.heartbeats",
    "campaigns.standings.models",
    "campaigns.totals.models",
    "messaging.automatic.models",
    "messaging.broadcasts.models",
    "messaging.outbox.models",
    "messaging.preferences.models",
    "messaging.sharing.models",
    "messaging.social.models",
    "messaging.templating.models",
    "messaging.webhooks.models",
)


# Modules that add routes to a blueprint defined in another module ("campaigns"
# in pages/views.py, "staff" in organisations/staff_views.py, "api" in
# campaigns/json_api.py): imported before the blueprints are registered.
ROUTE_MODULES = (
    "agents.profile_views",
    "agents.staff_views",
    "campaigns.api_docs",
    "campaigns.organisations.api",
    "campaigns.organisations.views",
    "campaigns.pages.api",
    "campaigns.pages.cohost_views",
    "campaigns.pages.sponsor_views",
    "campaigns.pages.team_views",
    "campaigns.pages.report_views",
    "campaigns.pages.staff_views",
    "campaigns.standings.api",
    "campaigns.leagues.api",
    "campaigns.discovery.api",
    "campaigns.donors.views",
    "campaigns.giving.yearly_views",
    "messaging.sharing.poster",
)


def import_modules() -> None:
    for name in (*MODEL_MODULES, *ROUTE_MODULES):
        import_module(name)


def create_app(config: dict | None = None) -> Flask:
    """Build the Relais application; ``config`` overrides the environment."""
    app = Flask(
        __name__,
        template_folder=str(asset_folder("templates")),
        static_folder=str(asset_folder("static")),
        instance_path=str(instance_folder()),
    )
    load_config(app)
    if config:
        app.config.update(config)
    configure_logging(app)

    from agents import auth, locale
    from agents import erasure as agents_erasure
    from agents.cli import agents_cli, staff_cli, tokens_cli
    from agents.views import bp as agents_bp
    from campaigns import erasure as campaigns_erasure
    from campaigns import errors, page_cache, per_transaction, templating, unit_of_work
    from campaigns.badges import views as badges
    from campaigns.badges.cli import badges_cli
    from campaigns.cards import views as cards
    from campaigns.dashboard.operator_views import bp as operator_bp
    from campaigns.dashboard.views import bp as dashboard_bp
    from campaigns.demo.cli import demo_command
    from campaigns.discovery import views as discovery
    from campaigns.donors.views import bp as donors_bp
    from campaigns.embeds import views as embeds
    from campaigns.fairplay import views as fairplay
    from campaigns.fund_use.views import bp as expenses_bp
    from campaigns.giving import stripe_gateway
    from campaigns.giving.cli import receipts_cli, stripe_cli
    from campaigns.giving.connect_views import bp as stripe_connect_bp
    from campaigns.giving.staff_views import bp as staff_donations_bp
    from campaigns.giving.views import bp as giving_bp
    from campaigns.giving.webhooks import bp as webhooks_bp
    from campaigns.json_api import bp as api_bp
    from campaigns.leagues.cli import leagues_cli
    from campaigns.leagues.views import bp as leagues_bp
    from campaigns.matching import views as matching
    from campaigns.monthly.views import bp as monthly_bp
    from campaigns.news.views import bp as news_bp
    from campaigns.offline.views import bp as offline_bp
    from campaigns.open_data.views import bp as open_data_bp
    from campaigns.organisations.cli import orgs_cli
    from campaigns.organisations.staff_views import bp as staff_bp
    from campaigns.pages.views import bp as campaigns_bp
    from campaigns.runtime import degraded, headers, metrics, reporting
    from campaigns.runtime.health import bp as health_bp
    from campaigns.runtime.serve import serve_command
    from campaigns.standings import board_index, live
    from campaigns.standings.cli import ranks_cli
    from campaigns.standings.views import bp as live_bp
    from campaigns.totals import written as totals_written
    from campaigns.totals.cli import totals_cli
    from messaging import erasure as messaging_erasure
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
    from messaging.webhooks.views import bp as outgoing_webhooks_bp

    import_modules()
    extensions.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(asset_folder("migrations")), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=locale.select_locale)
    limiter.init_app(app)
    auth.init_app(app)
    templating.init_app(app)
    page_cache.init_app(app)
    errors.init_app(app)
    degraded.init_app(app)
    headers.init_app(app)
    metrics.init_app(app)
    reporting.init_app(app)
    listeners.init_app(app)
    # Leaving: each package erases its own tables (agents.signals.account_deleted).
    agents_erasure.init_app(app)
    campaigns_erasure.init_app(app)
    messaging_erasure.init_app(app)
    stripe_gateway.init_app(app)
    # After-commit: live totals and ranks follow what a unit of work committed.
    live.init_app(app)
    board_index.init_app(app)
    totals_written.init_app(app)  # a gift's listeners read the totals it just wrote
    per_transaction.init_app(app)  # and the settings they each ask for, once
    cards.init_app(app)
    discovery.init_app(app)
    embeds.init_app(app)
    # Badges follow gifts and joins (campaigns' own signals) and have a staff screen.
    badges.init_app(app)
    # Match challenges follow gifts and refunds (campaigns' own signals).
    matching.init_app(app)
    # Fair play checks gifts and cards (campaigns' own signals) and has a staff queue.
    fairplay.init_app(app)

    app.register_blueprint(health_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(giving_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(open_data_bp)
    app.register_blueprint(leagues_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(operator_bp)
    app.register_blueprint(staff_donations_bp)
    app.register_blueprint(donors_bp)
    app.register_blueprint(stripe_connect_bp)
    app.register_blueprint(expenses_bp)
    app.register_blueprint(news_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(offline_bp)
    app.register_blueprint(monthly_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(agents_bp)
    app.register_blueprint(messaging_bp)
    app.register_blueprint(broadcasts_bp)
    app.register_blueprint(outbox_staff_bp)
    app.register_blueprint(outgoing_webhooks_bp)
    app.register_blueprint(sharing_bp)
    app.register_blueprint(messaging_staff_bp)
    app.register_blueprint(social_bp)
    app.register_blueprint(unsubscribe_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(webhooks_bp)
    csrf.exempt(webhooks_bp)
    # Last of the web set-up: every view registered above becomes one unit of work.
    unit_of_work.init_app(app)
    if app.config["TRUSTED_PROXIES"]:
        # Outermost, so that everything inside (the page cache's WSGI layer too)
        # sees the client's scheme, host and address.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    for command in (
        demo_command,
        orgs_cli,
        agents_cli,
        staff_cli,
        tokens_cli,
        totals_cli,
        ranks_cli,
        badges_cli,
        leagues_cli,
        stripe_cli,
        receipts_cli,
        scheduler_command,
        worker_command,
        serve_command,
    ):
        app.cli.add_command(command)
    return app


class RelaisGroup(FlaskGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        # FlaskGroup prints a traceback and goes on when the app cannot be built
        # (`relais --help`); a bad setting must stop here, as one line (main).
        ctx.ensure_object(ScriptInfo).load_app()
        return super().list_commands(ctx)


@click.group(cls=RelaisGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """Relais: peer-to-peer fundraising. Commands run against DATABASE_URL."""


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        from campaigns.runtime.serve import prepare_metrics_folder

        prepare_metrics_folder()  # before anything imports prometheus-client
    elif os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The scheduler and workers of a node write their job and delivery
        # samples where that node's web server reads them.
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        import atexit

        from prometheus_client import multiprocess

        # Its live gauges must not count once it has exited (gunicorn does this
        # for its own workers).
        atexit.register(multiprocess.mark_process_dead, os.getpid())
    try:
        cli.main(prog_name="relais")
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
