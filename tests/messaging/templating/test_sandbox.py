"""The sandbox's bounds: integers for every operator, text that would grow
geometrically (repetition, nested literals, join, wordwrap…), and the time one
render may take. Refused at save time with a sentence; a bad template stored
earlier fails alone and the share kit still answers."""

from __future__ import annotations

import tracemalloc

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from messaging.templating import sandbox
from messaging.templating.models import MessageTemplate
from messaging.templating.rendering import RenderError, render_source, validate_template
from tests.factories import (
    AgentFactory,
    CauseFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

# The issue's template: 20 squarings of 2**2000 (20 s and 1.77 GB per render before).
SQUARINGS = "{% set a = 2**2000 %}" + "{% set a = a*a %}" * 20 + "{{ a }}"


@pytest.fixture(autouse=True)
def english(db):
    with force_locale("en"):
        yield


@pytest.fixture
def world(db):
    org = OrganisationFactory(slug="eau-vive", name="Eau Vive", locale="fr")
    cause = CauseFactory(organisation=org, title="Water", slug="water")
    owner = AgentFactory(name="Camille Martin", locale="")
    page = PageFactory(cause=cause, owner=owner, title="Camille runs", slug="camille-runs")
    staff = MembershipFactory(organisation=org, role="staff").agent
    db.session.commit()
    return {"org": org, "page": page, "staff": staff}


def refusal(body: str) -> str:
    with pytest.raises(RenderError) as refused:
        render_source(body, {})
    return refused.value.errors["source"]


INTEGERS = [
    SQUARINGS,
    "{% set a = 2**1000 %}{{ a * a }}",
    "{% set a = 2**1000 %}{{ a * 2**100 }}",
    "{% set a = 2**1023 %}{{ a + a }}",
    "{% set a = 2**1023 %}{{ a - (0 - a) }}",
    "{% set a = ('9' * 300)|int %}{{ a * a * a * a }}",
    "{% set a = 2**1000 %}{{ [a, a, a, a]|sum * a }}",
    "{{ 12345678901234567890 ** 100 }}",
    "{{ " + "9" * 400 + " + 1 }}",
]


@pytest.mark.parametrize("body", INTEGERS)
def test_integers_are_bounded_for_every_operator(body):
    reason = refusal(body)
    assert reason.startswith("line 1: ")
    assert "this number is too large for a message" in reason


def test_the_issues_template_is_refused_at_save_time(client, login_as, db, world):
    assert len(SQUARINGS) < 400
    errors = validate_template("copy", "fr", "", SQUARINGS, "", organisation=world["org"])
    assert "too large" in errors["body"]
    login_as(world["staff"])
    response = client.post(
        "/staff/eau-vive/messages/new",
        data={
            "name": "Squares",
            "trigger": "suggested",
            "channel": "copy",
            "locale": "fr",
            "body": SQUARINGS,
            "is_active": "y",
            "action": "save",
        },
    )
    assert response.status_code == 422
    assert "too large for a message" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == 0


def test_ordinary_arithmetic_still_works():
    body = "{{ 2**64 }} {{ 10 * 3 - 4 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 9 / 2 }} {{ [1, 2]|sum }}"
    assert render_source(body, {}) == "18446744073709551616 26 3 1 4.5 3"


# Each builds (before the bounds) a value far larger than any message from a few
# characters of source; the refusal must come before it is built.
AMPLIFIERS = [
    "{% set b = 'x' * 10000 %}{{ ([b] * 10000)|join|length }}",
    "{% set b = 'x' * 1000 %}{% set a = [b,b,b,b,b,b,b,b,b,b] %}"
    "{% set a = [a,a,a,a,a,a,a,a,a,a] %}{% set a = [a,a,a,a,a,a,a,a,a,a] %}"
    "{% set a = [a,a,a,a,a,a,a,a,a,a] %}{{ a|string|length }}",
    "{{ ('a ' * 4000)|wordwrap(1, wrapstring='x' * 10000)|length }}",
    "{% set b = 'x' * 10000 %}{{ (['a', 'b'] * 50)|join(b)|length }}",
    "{% set b = 'x' * 2000 %}{{ ([b] * 5)|map('replace', 'x', b)|list|length }}",
    "{% set b = ['y' * 5000, 'z' * 5000] %}{{ (b + b)|length }}",
    "{{ ('x' * 9000 ~ 'y' * 9000)|length }}",
]


@pytest.mark.parametrize("body", AMPLIFIERS)
def test_text_that_grows_geometrically_is_refused_before_it_is_built(body):
    tracemalloc.start()
    try:
        reason = refusal(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "longer than 10000 characters" in reason
    assert peak < 5_000_000


@pytest.mark.parametrize(
    "body",
    [
        "{{ 'x'|center(100000000) }}",
        "{{ '%s%s'|format('a', 'b') }}",
        "{{ 'x'|indent(100000000, true) }}",
        "{{ 'x'|pprint }}",
    ],
)
def test_filters_that_could_pad_or_format_are_not_offered(body):
    assert "No filter named" in refusal(body)


def test_a_render_has_a_time_budget_and_says_why(monkeypatch, world):
    body = "{% for i in range(10) %}{{ i }}{% endfor %}"
    assert render_source(body, {}) == "0123456789"
    monkeypatch.setattr(sandbox, "MAX_SECONDS", -1.0)
    errors = validate_template("copy", "fr", "", body, "", organisation=world["org"])
    assert "the template takes more than -1 s to render: simplify it." in errors["body"]


def test_a_bad_template_stored_earlier_fails_alone_and_the_kit_answers(client, login_as, db, world):
    for name, body in (("Squares", SQUARINGS), ("Relay", "Aidez-moi : {{ page.share_url }}")):
        db.session.add(
            MessageTemplate(
                organisation_id=world["org"].id,
                name=name,
                trigger="suggested",
                channel="copy",
                locale="fr",
                body=body,
                is_active=True,
            )
        )
    db.session.commit()
    login_as(world["page"].owner)
    response = client.get("/p/camille-runs/share")
    assert response.status_code == 200
    assert "Aidez-moi : http" in response.get_data(as_text=True)
