"""Operator commands for accounts, staff and tokens."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from campaigns.cli_support import cli_transaction

agents_cli = click.Group("agents", help="Manage agent accounts.")
staff_cli = click.Group("staff", help="Manage organisation staff.")
tokens_cli = click.Group("tokens", help="Manage personal access tokens.")


@agents_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 8 characters; asked for (hidden) when omitted.",
)
@with_appcontext
def create_agent_command(email: str, name: str, password: str) -> None:
    """Create a confirmed agent account (the operator vouches for the address)."""
    from agents.services import create_agent

    with cli_transaction():
        agent = create_agent(email, name, password, confirmed=True)
        message = _("Agent %(email)s created.", email=agent.email)
    click.echo(message)


@agents_cli.command("operator")
@click.argument("email")
@click.option("--remove", is_flag=True, help="Take the role back.")
@with_appcontext
def operator_command(email: str, remove: bool) -> None:
    """Make an agent the site's operator (sees /operator/stripe), or no longer."""
    from agents.services import find_agent, set_operator

    with cli_transaction():
        agent = find_agent(email)
        set_operator(agent, not remove)
        if remove:
            message = _("%(email)s is no longer the site's operator.", email=agent.email)
        else:
            message = _("%(email)s is now the site's operator.", email=agent.email)
    click.echo(message)


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="A label to recognise the token by, e.g. 'ci'.")
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    default="write",
    show_default=True,
    help="read: reads as the agent (their drafts too); write: also changes their pages.",
)
@click.option(
    "--expires-in",
    "days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days until the token stops working (default: it never expires).",
)
@with_appcontext
def create_token_command(email: str, name: str, scope: str, days: int | None) -> None:
    """Create a personal access token; it is printed once, as the last line."""
    from agents.services import create_token, find_agent
    from campaigns.model_types import utcnow

    with cli_transaction():
        agent = find_agent(email)
        expires_at = utcnow() + timedelta(days=days) if days else None
        token, clear = create_token(agent, name, scope=scope, expires_at=expires_at)
        message = _(
            "Token “%(name)s” (%(scope)s) created for %(email)s. Store it now: "
            "it is not shown again.",
            name=token.name,
            scope=token.scope,
            email=agent.email,
        )
        if expires_at:
            message += " " + _("It expires on %(date)s (UTC).", date=_when(expires_at))
    click.echo(message)
    click.echo(clear)


@tokens_cli.command("list")
@click.argument("email", required=False)
@with_appcontext
def list_tokens_command(email: str | None) -> None:
    """List unrevoked tokens (one agent's, or everyone's): id, agent, name, start,
    scope, created, expires, last used, state."""
    from agents.services import all_tokens, find_agent, list_tokens
    from campaigns.model_types import utcnow

    with cli_transaction():
        tokens = list_tokens(find_agent(email)) if email else all_tokens()
        now = utcnow()
        lines = [
            "\t".join(
                (
                    str(t.id),
                    t.agent.email or "",
                    t.name,
                    t.prefix + "…",
                    str(t.scope),
                    _when(t.created_at),
                    _when(t.expires_at) if t.expires_at else _("never expires"),
                    _when(t.last_used_at) if t.last_used_at else _("never used"),
                    _("expired") if t.is_expired(now) else _("active"),
                )
            )
            for t in tokens
        ] or [_("No tokens.")]
    click.echo("\n".join(lines))


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_token_command(token_id: int) -> None:
    """Revoke a token by its id (see `relais tokens list`): it stops working at once."""
    from agents.services import revoke_any_token

    with cli_transaction():
        token = revoke_any_token(token_id)
        message = _(
            "Token %(id)s (“%(name)s”, %(email)s) is revoked.",
            id=token.id,
            name=token.name,
            email=token.agent.email or "",
        )
    click.echo(message)


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


@staff_cli.command("add")
@click.argument("email")
@click.argument("org_slug")
@click.option("--role", default="staff", show_default=True, help="admin (everything) or staff.")
@with_appcontext
def add_staff_command(email: str, org_slug: str, role: str) -> None:
    """Make an existing agent staff (or admin) of an organisation."""
    from agents.services import find_agent
    from campaigns.organisations.services import add_staff, get_organisation

    with cli_transaction():
        org = get_organisation(org_slug)
        agent = find_agent(email)
        membership = add_staff(org, agent, role.strip().lower())
        message = _(
            "%(email)s is now %(role)s of %(org)s.",
            email=agent.email,
            role=str(membership.role),
            org=org.slug,
        )
    click.echo(message)


@staff_cli.command("list")
@click.argument("org_slug")
@with_appcontext
def list_staff_command(org_slug: str) -> None:
    """List an organisation's staff: role, email, name."""
    from campaigns.organisations.services import get_organisation

    with cli_transaction():
        org = get_organisation(org_slug)
        memberships = sorted(_memberships(org.id), key=lambda m: (str(m.role), m.agent.email or ""))
        lines = [
            "\t".join((str(m.role), m.agent.email or "", m.agent.name)) for m in memberships
        ] or [_("%(org)s has no staff yet.", org=org.slug)]
    click.echo("\n".join(lines))


def _memberships(organisation_id: int) -> list:
    from sqlalchemy import select

    from agents.models import Membership
    from extensions import db

    return list(
        db.session.scalars(select(Membership).where(Membership.organisation_id == organisation_id))
    )
