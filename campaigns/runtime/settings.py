"""Every setting Relais reads, typed and checked once at start-up.

Values come from the environment, then a ``.env`` file in the working
directory (the environment wins), then the defaults below; an empty value
means the default. ``flask_config`` puts them under the config keys the code
reads. A bad value is a ``ConfigError`` whose message is one line naming the
variable and what it expects; ``relais`` prints it and exits with status 2.

``python -m campaigns.runtime.settings > .env.example`` rewrites the example
file from these fields (a test checks that it is current).
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from campaigns.runtime import settings_words as words

MiB = 1024 * 1024
SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")
REDIS_SCHEMES = ("redis", "rediss", "unix")
# Public on purpose: development only, and production refuses to start without its own.
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105
DEV_PASSWORD_SALT = "dev-only-salt"  # noqa: S105
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "SECURITY_PASSWORD_SALT", "DATABASE_URL")
# Values never repeated in an error or a log line: secrets, and URLs that may
# carry a password.
UNSHOWN = {
    "secret_key",
    "security_password_salt",
    "relais_encryption_key",
    "stripe_secret_key",
    "stripe_webhook_secret",
    "stripe_connect_webhook_secret",
    "database_url",
    "smtp_url",
    "redis_url",
    "metrics_token",
    "x_client_secret",
    "facebook_app_secret",
    "sentry_dsn",
}


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one sentence for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore"
    )

    relais_env: Literal["development", "production", "test"] = Field(
        "development",
        description="development, production or test (any case); production refuses to start "
        "without SECRET_KEY, SECURITY_PASSWORD_SALT and DATABASE_URL and makes links https",
    )
    database_url: str = Field(
        "",
        description="postgresql://user:password@host/db or sqlite:///path (empty: "
        "instance/relais.db)",
    )
    relais_instance: str = Field(
        "", description="folder of the default SQLite file and of uploads (empty: instance/)"
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="signs sessions and links; required in production "
        "(empty in development: a public development key)",
    )
    security_password_salt: SecretStr = Field(
        SecretStr(""),
        description="salt of confirmation and password-reset tokens; required in production",
    )
    relais_encryption_key: SecretStr = Field(
        SecretStr(""),
        description="key for agents' X/Facebook credentials, comma-separated "
        "keys rotate (empty: derived from SECRET_KEY)",
    )
    public_url: str = Field(
        "",
        description="public base URL, e.g. https://dons.example.org (links in mail sent by "
        "jobs: receipts, unsubscribe, share links)",
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        description="number of proxies in front whose X-Forwarded-* headers are "
        "trusted (behind a load balancer: 1)",
    )
    smtp_url: str = Field(
        "",
        description="smtp://, smtps:// (SSL) or smtp+starttls://, with optional "
        "user:password@ (empty: mail is kept, not sent)",
    )
    mail_from: str = Field("Relais <no-reply@relais.localhost>", description="sender of every mail")
    unsubscribe_mailto: str = Field(
        "",
        description="address of the mailto: unsubscribe link in mail headers "
        "(empty: MAIL_FROM's address)",
    )
    show_sent_mail: bool | None = Field(
        None,
        description="1 shows every kept mail (reset links too) at /mail to anyone "
        "(empty: on only in development without SMTP_URL)",
    )
    redis_url: str = Field(
        "",
        description="Redis for rate limits, ranks and live updates across workers "
        "(empty: in-process and SQL)",
    )
    redis_prefix: str = Field(
        "relais:", description="key prefix when several sites share one Redis"
    )
    live_stream_seconds: float = Field(
        300,
        gt=0,
        description="how long one live (SSE) connection lasts before the browser reconnects",
    )
    live_heartbeat_seconds: float = Field(
        15, gt=0, description="seconds between keep-alive comments on a quiet live stream"
    )
    live_coalesce_seconds: float = Field(
        1.0, ge=0, description="at most one live snapshot build per cause in this many seconds"
    )
    live_max_streams: int = Field(
        200, ge=1, description="live streams one web process serves at once (more get 503)"
    )
    live_rate_limit: str = Field("60 per minute", description="live stream openings per address")
    public_page_cache_seconds: float = Field(
        5, ge=0, description="anonymous cause pages are cached this long per process (0: off)"
    )
    last_good_seconds: float = Field(
        10,
        ge=0,
        description="public pages keep their last good render this often, shown while the "
        "database is down (0: off)",
    )
    open_data_rate_limit: str = Field(
        "120 per minute", description="requests per address to /open/"
    )
    ratelimit_auth: str = Field(
        "10 per minute", description="login, sign-up and reset POSTs per address"
    )
    api_write_rate_limit: str = Field(
        "60 per minute", description="API writes per personal access token"
    )
    upload_folder: str = Field(
        "", description="where photos and documents go (empty: instance/uploads)"
    )
    max_upload_bytes: int = Field(8 * MiB, gt=0, description="largest request body (8 MiB)")
    photo_max_bytes: int = Field(5 * MiB, gt=0, description="largest photo (5 MiB)")
    expense_document_max_bytes: int = Field(
        5 * MiB, gt=0, description="largest invoice or receipt of an expense (5 MiB)"
    )
    stripe_secret_key: SecretStr = Field(
        SecretStr(""),
        description="Stripe secret key sk_live_… or sk_test_… (empty: demo "
        "payments, no money moves)",
    )
    stripe_webhook_secret: SecretStr = Field(
        SecretStr(""), description="signing secret whsec_… of the Stripe webhook endpoint"
    )
    stripe_connect_webhook_secret: SecretStr = Field(
        SecretStr(""),
        description="signing secret whsec_… of the Stripe Connect webhook endpoint (events "
        "of organisations' connected accounts; empty: no Connect endpoint)",
    )
    fee_lookup_days: float = Field(
        30,
        gt=0,
        description="the record-fees job asks Stripe for the fee of card gifts up to this "
        "many days old (a delayed payment's fee is known only once it settles)",
    )
    x_client_id: str = Field(
        "", description='OAuth 2.0 client id of the platform\'s X app (empty: no "Connect X")'
    )
    x_client_secret: SecretStr = Field(SecretStr(""), description="its client secret")
    facebook_app_id: str = Field(
        "", description='the platform\'s Facebook app (empty: no "Connect a Facebook Page")'
    )
    facebook_app_secret: SecretStr = Field(SecretStr(""), description="its app secret")
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="bearer token that /metrics asks for (empty: /metrics is a 404)",
    )
    sentry_dsn: SecretStr = Field(
        SecretStr(""),
        description="Sentry DSN: errors of web, scheduler and worker are reported there "
        "(empty: not reported)",
    )
    fee_cover_rates: str = Field(
        "EUR=1.5%+25,GBP=1.5%+20,CHF=2.9%+30,USD=2.9%+30,CAD=2.9%+30",
        description="the Stripe fee a donor's cover is worked out from, per currency: "
        "percent plus fixed minor units (a currency left out: no cover offered)",
    )
    pending_gift_hours: float = Field(
        24,
        gt=0,
        description="a gift started but not paid this long ago is marked expired (Stripe's "
        "Checkout Session lasts 24 h); money paid later is still recorded",
    )
    donor_address_retention_days: float = Field(
        400,
        gt=0,
        description="a donor's postal address is blanked this long after the gift (a yearly "
        "receipt needs it until the next spring); on an issued receipt it stays until "
        "RECEIPT_KEEPING_YEARS have passed too",
    )
    receipt_keeping_years: int = Field(
        6,
        ge=1,
        description="how long an issued tax receipt keeps the donor's name and address "
        "(six years in France: Livre des procédures fiscales, art. L102 E)",
    )
    fairplay_velocity_minutes: float = Field(
        60,
        gt=0,
        description="fair play: a burst of small gifts is FAIRPLAY_VELOCITY_COUNT of them from "
        "one card or address within this many minutes",
    )
    fairplay_velocity_count: int = Field(
        5,
        ge=2,
        description="fair play: this many small gifts from one card or address within "
        "FAIRPLAY_VELOCITY_MINUTES flag every one of them for review",
    )
    fairplay_small_gift_minor: int = Field(
        500,
        ge=1,
        description="fair play: a gift of at most this amount, in minor units (500 = 5.00), "
        "is small for the burst check",
    )
    outbox_max_attempts: int = Field(
        6, ge=1, description="a message is a dead letter after this many attempts"
    )
    outbox_lease_seconds: float = Field(
        30,
        gt=0,
        description="a worker renews its claim every third of this; a claim not renewed "
        "for this long is given back (its worker died)",
    )
    outbox_retry_base_seconds: float = Field(
        30, gt=0, description="first retry delay; it doubles at each attempt"
    )
    outbox_retry_cap_seconds: float = Field(3600, gt=0, description="longest retry delay")
    outbox_batch: int = Field(50, ge=1, description="messages a worker claims at a time")
    outbox_rate_limits: str = Field(
        "email=20,x=1,facebook=1",
        description="sends per second per worker and channel; 0 or a channel left out: no limit",
    )
    relais_log_format: Literal["text", "json"] = Field(
        "text", description="text (readable lines) or json (one JSON object a line)"
    )
    relais_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL"
    )
    relais_cli_locale: Literal["en", "fr"] = Field(
        "en", description="language of command output: en or fr"
    )
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="port of relais demo (empty: 5000) and relais serve (empty: 8000)",
    )
    host: str = Field("", description="address relais serve listens on (empty: 127.0.0.1)")
    web_workers: int | None = Field(
        None,
        ge=1,
        description="relais serve's worker processes (empty: 1 without REDIS_URL, "
        "else one per CPU up to 4)",
    )
    web_threads: int | None = Field(
        None, ge=1, description="threads per relais serve worker (empty: LIVE_MAX_STREAMS + 15)"
    )

    @field_validator("relais_env", "relais_log_format", "relais_cli_locale", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("relais_log_level", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value:
            return value
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("a postgresql://… or sqlite:///path URL")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str) -> str:
        return _url(value, SMTP_SCHEMES)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        return _url(value, REDIS_SCHEMES)

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("an http:// or https:// URL, such as https://dons.example.org")
        return value

    @field_validator("mail_from", "unsubscribe_mailto")
    @classmethod
    def _address(cls, value: str) -> str:
        if value and "@" not in parseaddr(value)[1]:
            raise ValueError("an email address, optionally with a name: Name <address@host>")
        return value

    @field_validator(
        "live_rate_limit", "open_data_rate_limit", "ratelimit_auth", "api_write_rate_limit"
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("a rate limit such as '10 per minute' or '100/hour'") from None
        return value

    @field_validator("fee_cover_rates")
    @classmethod
    def _fee_cover_rates(cls, value: str) -> str:
        fee_cover_rates(value)
        return value

    @field_validator("outbox_rate_limits")
    @classmethod
    def _channel_rates(cls, value: str) -> str:
        channel_rates(value)
        return value

    # -- what the app's config holds ------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.relais_env == "production"

    def sqlalchemy_url(self, instance: Path) -> str:
        url = self.database_url or f"sqlite:///{instance / 'relais.db'}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    def flask_config(self, instance: Path) -> dict:
        """The settings under the Flask config keys the code reads."""
        production = self.is_production
        show_sent_mail = self.show_sent_mail
        if show_sent_mail is None:
            # The "sent mail" page shows every kept mail (reset links included) to
            # anyone: only for a development site that has no SMTP server.
            show_sent_mail = not production and not self.smtp_url
        return {
            "RELAIS_ENV": self.relais_env,
            "SECRET_KEY": self.secret_key.get_secret_value() or DEV_SECRET_KEY,
            "SECURITY_PASSWORD_SALT": self.security_password_salt.get_secret_value()
            or DEV_PASSWORD_SALT,
            "RELAIS_ENCRYPTION_KEY": self.relais_encryption_key.get_secret_value(),
            "SQLALCHEMY_DATABASE_URI": self.sqlalchemy_url(instance),
            "PUBLIC_URL": self.public_url,
            "PREFERRED_URL_SCHEME": "https" if production else "http",
            "TRUSTED_PROXIES": self.trusted_proxies,
            "SMTP_URL": self.smtp_url,
            "MAIL_FROM": self.mail_from,
            "SECURITY_EMAIL_SENDER": self.mail_from,
            "UNSUBSCRIBE_MAILTO": self.unsubscribe_mailto,
            "SHOW_SENT_MAIL": show_sent_mail,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "LIVE_STREAM_SECONDS": self.live_stream_seconds,
            "LIVE_HEARTBEAT_SECONDS": self.live_heartbeat_seconds,
            "LIVE_COALESCE_SECONDS": self.live_coalesce_seconds,
            "LIVE_MAX_STREAMS": self.live_max_streams,
            "LIVE_RATE_LIMIT": self.live_rate_limit,
            "PUBLIC_PAGE_CACHE_SECONDS": self.public_page_cache_seconds,
            "LAST_GOOD_SECONDS": self.last_good_seconds,
            "LAST_GOOD_FOLDER": str(instance / "last-good"),
            "OPEN_DATA_RATE_LIMIT": self.open_data_rate_limit,
            "RATELIMIT_AUTH": self.ratelimit_auth,
            "API_WRITE_RATE_LIMIT": self.api_write_rate_limit,
            "UPLOAD_FOLDER": self.upload_folder or str(instance / "uploads"),
            "MAX_CONTENT_LENGTH": self.max_upload_bytes,
            "PHOTO_MAX_BYTES": self.photo_max_bytes,
            "EXPENSE_DOCUMENT_MAX_BYTES": self.expense_document_max_bytes,
            "STRIPE_SECRET_KEY": self.stripe_secret_key.get_secret_value(),
            "STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret.get_secret_value(),
            "X_CLIENT_ID": self.x_client_id,
            "X_CLIENT_SECRET": self.x_client_secret.get_secret_value(),
            "FACEBOOK_APP_ID": self.facebook_app_id,
            "FACEBOOK_APP_SECRET": self.facebook_app_secret.get_secret_value(),
            "STRIPE_CONNECT_WEBHOOK_SECRET": self.stripe_connect_webhook_secret.get_secret_value(),
            "FEE_LOOKUP_DAYS": self.fee_lookup_days,
            "PENDING_GIFT_HOURS": self.pending_gift_hours,
            "FEE_COVER_RATES": fee_cover_rates(self.fee_cover_rates),
            "DONOR_ADDRESS_RETENTION_DAYS": self.donor_address_retention_days,
            "RECEIPT_KEEPING_YEARS": self.receipt_keeping_years,
            "FAIRPLAY_VELOCITY_MINUTES": self.fairplay_velocity_minutes,
            "FAIRPLAY_VELOCITY_COUNT": self.fairplay_velocity_count,
            "FAIRPLAY_SMALL_GIFT_MINOR": self.fairplay_small_gift_minor,
            "OUTBOX_MAX_ATTEMPTS": self.outbox_max_attempts,
            "OUTBOX_LEASE_SECONDS": self.outbox_lease_seconds,
            "OUTBOX_RETRY_BASE_SECONDS": self.outbox_retry_base_seconds,
            "OUTBOX_RETRY_CAP_SECONDS": self.outbox_retry_cap_seconds,
            "OUTBOX_BATCH": self.outbox_batch,
            "OUTBOX_RATE_LIMITS": channel_rates(self.outbox_rate_limits),
            "RELAIS_LOG_FORMAT": self.relais_log_format,
            "RELAIS_LOG_LEVEL": self.relais_log_level,
            "METRICS_TOKEN": self.metrics_token.get_secret_value(),
            "SENTRY_DSN": self.sentry_dsn.get_secret_value(),
        }


def _url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = parts._replace(scheme="")
    if value and parts.scheme.lower() not in schemes:
        raise ValueError("a URL starting with " + ", ".join(f"{s}://" for s in schemes))
    return value


FEE_COVER_RATE = re.compile(r"([A-Za-z]{3})=(\d{1,2}(?:\.\d{1,3})?)%\+(\d{1,5})")


def fee_cover_rates(value: str) -> dict[str, tuple[str, int]]:
    """``EUR=1.5%+25`` as ``{"EUR": ("1.5", 25)}``: percent (a decimal
    string: never a float near money) and fixed minor units per currency."""
    rates = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        match = FEE_COVER_RATE.fullmatch(part)
        if not match:
            raise ValueError("currency=percent%+fixed minor units, comma-separated: EUR=1.5%+25")
        rates[match.group(1).upper()] = (match.group(2), int(match.group(3)))
    return rates


def channel_rates(value: str) -> dict[str, float]:
    """``email=20,x=1`` as ``{"email": 20.0, "x": 1.0}``."""
    rates = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        channel, _, rate = part.partition("=")
        try:
            rates[channel.strip()] = float(rate)
        except ValueError:
            raise ValueError("channel=sends per second, comma-separated: email=20,x=1") from None
        if not channel.strip() or rates[channel.strip()] < 0:
            raise ValueError("channel=sends per second, comma-separated: email=20,x=1")
    return rates


def load_settings() -> Settings:
    """The settings, or a ConfigError saying in one line what to fix."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(
            "; ".join(
                words.problem(error, Settings.model_fields, UNSHOWN) for error in exc.errors()
            )
        ) from None
    if settings.is_production:
        missing = [
            name for name in REQUIRED_IN_PRODUCTION if not _given(getattr(settings, name.lower()))
        ]
        if missing:
            raise ConfigError(
                "Relais is in production mode (RELAIS_ENV=production) but these settings "
                f"are missing from the environment and .env: {', '.join(missing)}. "
                "Set them and start again."
            )
    return settings


def _given(value) -> bool:
    return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)


def env_example() -> str:
    """The text of ``.env.example``: every setting with its comment and default."""
    return words.env_file(Settings.model_fields)


if __name__ == "__main__":
    print(env_example(), end="")
