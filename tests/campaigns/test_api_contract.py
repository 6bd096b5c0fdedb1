"""The OpenAPI document of /api/v1 against the app, by an outside tool.

schemathesis generates requests for every operation of the document (valid
ones and invalid ones, reads and writes with a write token) and sends them to
the app through WSGI: no answer may be a 5xx, and every answer must conform to
the document (status, media type, headers, body). Slugs and bodies are steered
towards the fixture's cause, pages and organisation, and the token schemathesis
sends is the agent's, so the 200s and 201s are exercised and not only the 404s.
Bounded by max-examples (and derandomised: a run repeats the last one).
"""

from __future__ import annotations

from datetime import timedelta

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.definitions import OPENAPI_31
from sqlalchemy import func, select

from agents.services import create_token
from app import create_app
from campaigns.api_docs import document
from campaigns.badges import services as badges
from campaigns.badges.models import PageBadge
from campaigns.giving.ledger import record_gift
from campaigns.model_types import utcnow
from campaigns.pages.models import PageStatus
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    OrganisationFactory,
    PageFactory,
)

ORG, CAUSE, PAGE, EVENT, DRAFT = "eau-vive", "twestival", "lyon-runs", "lyon-night", "my-draft"


def built_document() -> dict:
    """The document as an app serves it (no database is touched)."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SECRET_KEY": "test-secret",
            "SECURITY_PASSWORD_SALT": "test-salt",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.test_request_context():
        return document()


CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {
            "max-examples": 20,
            "deterministic": True,
            "database": "none",
            # NUL is refused anywhere with a 400 (PostgreSQL cannot store it): the
            # document says so in words, which a generator cannot read.
            "allow-x00": False,
        },
        "checks": {
            # Valid by the document but refused by a rule only the data can tell
            # (no such cause, a date in the past, a closed page): 422, never 400.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            },
        },
        "max-stream-events": 1,
        "request-timeout": 5,
        "operations": [
            {
                # q, cause or city: at least one, which parameters cannot say.
                "include-operation-id": "find_pages",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "401"],
                    }
                },
            }
        ],
    }
)
schema = schemathesis.openapi.from_dict(built_document(), config=CONFIG)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    path = context.operation.path
    if "{slug}" not in path:
        return st.just(path_parameters)
    if path.startswith("/api/v1/causes/"):
        known = [CAUSE]
    elif path.startswith("/api/v1/organisations/"):
        known = [ORG]
    elif path.endswith("/join"):
        known = [EVENT]
    else:
        known = [PAGE, EVENT, DRAFT]
    return st.sampled_from([path_parameters, *({**path_parameters, "slug": s} for s in known)])


def steered(body: dict, field: str, values: list[str]) -> st.SearchStrategy:
    """The body, or the body with a known slug in ``field``: only where the
    generated value was a valid slug too, so that a body made invalid on
    purpose stays invalid (and a valid one valid)."""
    value = body.get(field)
    if not isinstance(value, str) or not 1 <= len(value) <= 80:
        return st.just(body)
    return st.sampled_from([body, *({**body, field: v} for v in values)])


@schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    if context.operation.path.endswith("/join"):
        return steered(body, "page", [PAGE, DRAFT])
    return steered(body, "cause", [CAUSE])


@pytest.fixture
def token(db):
    """Eau Vive's cause with an event, a page in it, a draft and gifts, all the
    agent's, whose write token the requests carry."""
    agent = AgentFactory()
    cause = CauseFactory(organisation=OrganisationFactory(slug=ORG), slug=CAUSE)
    event = EventPageFactory(
        cause=cause, owner=agent, slug=EVENT, starts_at=utcnow() + timedelta(days=30)
    )
    page = PageFactory(cause=cause, owner=agent, slug=PAGE, parent=event)
    PageFactory(cause=cause, owner=agent, slug=DRAFT, status=PageStatus.DRAFT)
    record_gift(page=page, cause=cause, amount_minor=2500, donor_email="a@example.org")
    badges.award(page)  # if the gift's signal did not already: the shapes' badges are not empty
    assert db.session.scalar(select(func.count()).where(PageBadge.page_id == page.id))
    _, clear = create_token(agent, "contract")
    db.session.commit()
    return clear


@pytest.fixture
def quick_streams(app, monkeypatch):
    """Streams that end within a second, so a stream that sends nothing new
    (Last-Event-ID is current) does not hold the run."""
    monkeypatch.setitem(app.config, "LIVE_STREAM_SECONDS", 0.5)
    monkeypatch.setitem(app.config, "LIVE_HEARTBEAT_SECONDS", 0.2)


@pytest.mark.slow  # some 20 s per backend on two idle cores, more when they are shared
@schema.parametrize()
# One database state for all of an operation's examples, as a client's session
# against a site would have: what one example wrote, the next one sees.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(case, app, client, token, quick_streams):
    # This backend's app, for the case and for the checks' own probes (the same
    # request without the token, say): the document was loaded without one.
    case.operation.app = case.operation.schema.app = app
    # Where schemathesis sends a token, it is the agent's; where it leaves it out
    # (a public read, or a write tried without one), so does the request.
    if case.headers and "Authorization" in case.headers:
        case.headers["Authorization"] = f"Bearer {token}"
    case.call_and_validate(session=client)


# --- the document itself ---------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    served = response.get_json()
    assert served["openapi"].startswith("3.1.")
    errors = [
        error.message
        for error in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(served)
    ]
    assert errors == []
    for name, component in served["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(component), name


def test_every_api_route_is_in_the_document(app, client, db):
    served = client.get("/api/v1/openapi.json").get_json()
    documented = {(method.upper(), path) for path, ops in served["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.replace("<", "{").replace(">", "}")
            routes |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented


def test_the_reference_page_shows_every_operation(client, db):
    served = client.get("/api/v1/openapi.json").get_json()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for path, ops in served["paths"].items():
        for method, op in ops.items():
            assert f'id="op-{op["operationId"]}"' in html
            assert f"{method.upper()} {path}" in html
    assert 'id="schema-PageDetail"' in html
    assert 'id="problem-insufficient-scope"' in html
    assert "<script" not in html.split("</header>", 1)[1]  # a page, not a script app
