"""What every click command shares: the language it answers in and its unit of work."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from campaigns.errors import ServiceError, ValidationError
from campaigns.unit_of_work import transaction


def cli_locale() -> str:
    """The language of command output: no request or browser to pick one, so
    English unless RELAIS_CLI_LOCALE says fr."""
    chosen = os.environ.get("RELAIS_CLI_LOCALE", "en")
    return chosen if chosen in ("en", "fr") else "en"


@contextmanager
def cli_transaction() -> Iterator[None]:
    """A command's unit of work (``campaigns.unit_of_work.transaction``: a writer,
    committed once at the end); on a refusal, rolled back, exit with code 1 and
    a sentence on stderr, never a traceback."""
    with force_locale(cli_locale()):
        try:
            with transaction():
                yield
        except ValidationError as exc:
            lines = [f"{field}: {message}" for field, message in exc.errors.items()]
            raise click.ClickException("\n".join(lines)) from None
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        except IntegrityError:
            raise click.ClickException(
                _(
                    "Someone else wrote the same record at the same moment; nothing was "
                    "saved. Run the command again."
                )
            ) from None
        except SQLAlchemyError as exc:
            raise click.ClickException(
                _(
                    "The database could not be used (%(error)s); nothing was saved. Check "
                    "DATABASE_URL, and run `relais db upgrade` if the schema is missing.",
                    error=type(exc).__name__,
                )
            ) from None
