"""The operator CLI: each command's effect is in the database, and bad input
exits non-zero with a sentence on stderr, no traceback and nothing written.

The commands commit; inside the test's outer transaction a commit is a
savepoint, so every test still starts from an empty database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_security.utils import verify_password
from sqlalchemy import func, select

from agents.models import AccessToken, Agent, Membership, MembershipRole
from agents.services import authenticate_token
from campaigns.model_types import utcnow
from campaigns.organisations.models import Organisation
from tests.factories import AgentFactory, MembershipFactory, OrganisationFactory


def count(db, model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def refused(result, *fragments: str) -> None:
    """A friendly refusal: exit code 1, the fragments on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


# --- agents -------------------------------------------------------------------


def test_agents_create_makes_a_confirmed_agent(db, runner):
    result = runner.invoke(
        args=["agents", "create", "Lea@Example.org", "--name", "Léa", "--password", "s3cret-pass"]
    )
    assert result.exit_code == 0, result.output
    # The domain is normalised; the local part is kept as typed.
    assert "Lea@example.org" in result.output
    agent = db.session.scalar(select(Agent).where(Agent.email == "Lea@example.org"))
    assert agent.name == "Léa"
    assert agent.confirmed_at is not None and agent.active
    assert verify_password("s3cret-pass", agent.password)


def test_agents_create_prompts_for_a_hidden_password(db, runner):
    result = runner.invoke(
        args=["agents", "create", "max@example.org", "--name", "Max"],
        input="long-password\nlong-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "long-password" not in result.output  # hidden while typed
    agent = db.session.scalar(select(Agent).where(Agent.email == "max@example.org"))
    assert verify_password("long-password", agent.password)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["taken@example.org", "--name", "Again", "--password", "long-password"], "already"),
        (["TAKEN@example.org", "--name", "Again", "--password", "long-password"], "already"),
        (["new@example.org", "--name", "New", "--password", "short"], "8 characters"),
        (["not-an-email", "--name", "New", "--password", "long-password"], "valid email"),
        (["new@example.org", "--name", "  ", "--password", "long-password"], "name"),
    ],
)
def test_agents_create_refuses_bad_input(db, runner, args, message):
    AgentFactory(email="taken@example.org")
    db.session.commit()
    before = count(db, Agent)
    result = runner.invoke(args=["agents", "create", *args])
    refused(result, message)
    assert count(db, Agent) == before


# --- tokens -------------------------------------------------------------------


def test_tokens_create_prints_a_token_that_authenticates(db, runner):
    agent = AgentFactory(email="bot@example.org")
    db.session.commit()
    result = runner.invoke(args=["tokens", "create", "BOT@example.org", "--name", "ci"])
    assert result.exit_code == 0, result.output
    clear = result.stdout.strip().splitlines()[-1]
    assert clear.startswith("rls_")
    assert authenticate_token(clear) == agent
    token = db.session.scalar(select(AccessToken).where(AccessToken.agent_id == agent.id))
    assert token.name == "ci"
    assert clear not in token.token_hash  # only a hash is kept


def test_tokens_create_for_an_unknown_agent_is_refused(db, runner):
    result = runner.invoke(args=["tokens", "create", "ghost@example.org"])
    refused(result, "ghost@example.org")
    assert count(db, AccessToken) == 0


def test_tokens_create_writes_and_never_expires_unless_told(db, runner):
    AgentFactory(email="bot@example.org")
    db.session.commit()
    runner.invoke(args=["tokens", "create", "bot@example.org", "--name", "ci"])
    result = runner.invoke(
        args=["tokens", "create", "bot@example.org", "--scope", "read", "--expires-in", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "(read)" in result.output and "expires on" in result.output
    ci, reader = db.session.scalars(select(AccessToken).order_by(AccessToken.id)).all()
    assert (ci.scope, ci.expires_at) == ("write", None)
    assert reader.scope == "read"
    left = reader.expires_at - utcnow()
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)


@pytest.mark.parametrize(
    "args", [["--scope", "admin"], ["--expires-in", "0"], ["--expires-in", "soon"]]
)
def test_tokens_create_refuses_a_bad_scope_or_expiry(db, runner, args):
    AgentFactory(email="bot@example.org")
    db.session.commit()
    result = runner.invoke(args=["tokens", "create", "bot@example.org", *args])
    assert result.exit_code == 2  # click's usage error, with the choices
    assert "Traceback" not in result.output
    assert count(db, AccessToken) == 0


def test_tokens_list_and_revoke(db, runner):
    from agents.services import create_token

    bot, other = AgentFactory(email="bot@example.org"), AgentFactory(email="other@example.org")
    live, live_clear = create_token(bot, "ci", scope="read")
    old, _clear = create_token(bot, "old", expires_at=utcnow() + timedelta(days=1))
    old.expires_at = utcnow() - timedelta(days=1)
    create_token(other, "theirs")
    db.session.commit()

    listed = runner.invoke(args=["tokens", "list", "bot@example.org"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split("\t") for line in listed.stdout.strip().splitlines()]
    assert [(r[0], r[2], r[4], r[-1]) for r in rows] == [
        (str(old.id), "old", "write", "expired"),
        (str(live.id), "ci", "read", "active"),
    ]
    assert rows[1][3] == live.prefix + "…" and live_clear not in listed.stdout
    everyone = runner.invoke(args=["tokens", "list"])
    assert "other@example.org" in everyone.stdout and "bot@example.org" in everyone.stdout

    revoked = runner.invoke(args=["tokens", "revoke", str(live.id)])
    assert revoked.exit_code == 0, revoked.output
    assert "is revoked" in revoked.output
    assert authenticate_token(live_clear) is None
    assert str(live.id) not in [
        line.split("\t")[0] for line in runner.invoke(args=["tokens", "list"]).stdout.splitlines()
    ]
    refused(runner.invoke(args=["tokens", "revoke", "999999"]), "does not exist")


# --- organisations ---------------------------------------------------------------


def test_orgs_create_and_list(db, runner):
    result = runner.invoke(
        args=[
            "orgs",
            "create",
            "eau-vive",
            "--name",
            "Eau Vive",
            "--legal-name",
            "Association Eau Vive",
            "--address",
            "1 rue de la Source, Lyon",
        ]
    )
    assert result.exit_code == 0, result.output
    org = db.session.scalar(select(Organisation).where(Organisation.slug == "eau-vive"))
    assert (org.name, org.currency, org.locale) == ("Eau Vive", "EUR", "fr")
    assert (org.legal_name, org.address) == ("Association Eau Vive", "1 rue de la Source, Lyon")

    other = runner.invoke(
        args=["orgs", "create", "clean-water", "--name", "Clean Water", "--currency", "usd",
              "--locale", "en"]
    )  # fmt: skip
    assert other.exit_code == 0, other.output
    org = db.session.scalar(select(Organisation).where(Organisation.slug == "clean-water"))
    assert (org.currency, org.locale) == ("USD", "en")

    listing = runner.invoke(args=["orgs", "list"])
    assert listing.exit_code == 0
    lines = listing.output.strip().splitlines()
    assert lines == ["clean-water\tUSD\ten\tClean Water", "eau-vive\tEUR\tfr\tEau Vive"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["taken", "--name", "Again"], "already taken"),
        (["Bad Slug", "--name", "Bad"], "lower-case"),
        (["new-org", "--name", "New", "--currency", "XXX"], "Choose one of"),
        (["new-org", "--name", "New", "--locale", "de"], "fr"),
        (["new-org", "--name", ""], "required"),
    ],
)
def test_orgs_create_refuses_bad_input(db, runner, args, message):
    OrganisationFactory(slug="taken")
    db.session.commit()
    result = runner.invoke(args=["orgs", "create", *args])
    refused(result, message)
    assert count(db, Organisation) == 1


# --- staff ----------------------------------------------------------------------


def test_staff_add_makes_an_agent_staff_then_admin(db, runner):
    org = OrganisationFactory(slug="eau-vive")
    agent = AgentFactory(email="lea@example.org")
    db.session.commit()

    result = runner.invoke(args=["staff", "add", "lea@example.org", "eau-vive"])
    assert result.exit_code == 0, result.output
    membership = db.session.scalar(select(Membership).where(Membership.agent_id == agent.id))
    assert (membership.organisation_id, membership.role) == (org.id, MembershipRole.STAFF)

    result = runner.invoke(args=["staff", "add", "lea@example.org", "eau-vive", "--role", "admin"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    memberships = db.session.scalars(select(Membership).where(Membership.agent_id == agent.id))
    assert [m.role for m in memberships] == [MembershipRole.ADMIN]

    listing = runner.invoke(args=["staff", "list", "eau-vive"])
    assert listing.exit_code == 0
    assert "admin\tlea@example.org" in listing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lea@example.org", "nowhere"], "no organisation"),
        (["ghost@example.org", "eau-vive"], "ghost@example.org"),
        (["lea@example.org", "eau-vive", "--role", "owner"], "admin or staff"),
    ],
)
def test_staff_add_refuses_bad_input(db, runner, args, message):
    OrganisationFactory(slug="eau-vive")
    AgentFactory(email="lea@example.org")
    db.session.commit()
    result = runner.invoke(args=["staff", "add", *args])
    refused(result, message)
    assert count(db, Membership) == 0


def test_staff_list_of_an_unknown_organisation_is_refused(db, runner):
    refused(runner.invoke(args=["staff", "list", "nowhere"]), "no organisation")


def test_staff_list_shows_each_member(db, runner):
    org = OrganisationFactory(slug="eau-vive")
    MembershipFactory(organisation=org, agent=AgentFactory(email="a@example.org"))
    MembershipFactory(
        organisation=org, agent=AgentFactory(email="b@example.org"), role=MembershipRole.STAFF
    )
    db.session.commit()
    result = runner.invoke(args=["staff", "list", "eau-vive"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["admin", "a@example.org"],
        ["staff", "b@example.org"],
    ]
