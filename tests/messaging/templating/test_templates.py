"""Message templates: the sandbox refuses what it must at save time (through the
staff form and through validate_template), previews render on a real page, and
contexts are plain data formatted per locale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from campaigns.errors import ValidationError
from campaigns.giving import ledger as services
from messaging.broadcasts import services as broadcasts
from messaging.broadcasts.models import Broadcast, BroadcastStatus
from messaging.outbox.models import OutboxMessage
from messaging.sharing.models import ShareLink
from messaging.sharing.services import share_url
from messaging.sharing.share_kit import DEFAULT_POSTS
from messaging.templating import demo_templates as messaging_demo
from messaging.templating.context import context_for, sample_context
from messaging.templating.models import MessageTemplate
from messaging.templating.rendering import (
    Rendered,
    RenderError,
    render_message,
    render_source,
    validate_template,
    x_length,
)
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)


@pytest.fixture(autouse=True)
def english(client, db):
    """Pages in English, and so are the messages of direct calls (outside a
    request, Babel would answer in the default French)."""
    with client.session_transaction() as session:
        session["locale"] = "en"
    with force_locale("en"):
        yield


@pytest.fixture
def world(db):
    org = OrganisationFactory(slug="eau-vive", name="Eau Vive", locale="fr")
    cause = CauseFactory(organisation=org, title="Water for 20 villages", slug="water")
    event = EventPageFactory(cause=cause, city="Lyon", title="Lyon for water", slug="lyon")
    owner = AgentFactory(name="Camille Martin", locale="")
    page = PageFactory(
        cause=cause, parent=event, owner=owner, title="Camille runs", slug="camille-runs"
    )
    staff = MembershipFactory(organisation=org, role="staff").agent
    services.record_gift(page=page, cause=cause, amount_minor=2500, donor_email="ada@example.org")
    db.session.commit()
    return {"org": org, "cause": cause, "event": event, "page": page, "staff": staff}


def count_templates(db) -> int:
    return db.session.scalar(select(func.count()).select_from(MessageTemplate))


def form(**fields) -> dict:
    data = {
        "name": "Rally",
        "trigger": "suggested",
        "channel": "copy",
        "locale": "fr",
        "cause": "",
        "subject": "",
        "body": "Hello {{ agent.first_name }}",
        "body_html": "",
        "is_active": "y",
        "action": "save",
    }
    data.update(fields)
    return data


# The attempts the issue names, and what the refusal must say.
REFUSED = [
    ("{{ ''.__class__ }}", "line 1", "__class__"),
    ("{{ config }}", "line 1", "'config' is undefined"),
    ("{{ cycler.__init__.__globals__ }}", "line 1", "undefined"),
    ("{% for i in range(10**9) %}x{% endfor %}", "line 1", "range()"),
    ("{{ 'x' * 100000 }}", "line 1", "longer than 10000 characters"),
    ("Hello,\n{{ pagee.title }}", "line 2", "'pagee' is undefined"),
    ("Hello,\n\n{% if page.rank %}missing end", "line 3", "syntax error"),
    ("{{ page.__init__ }}", "line 1", "__init__"),
    ("{{ page.items.__self__ }}", "line 1", "__self__"),
    ("{{ '{0.__class__}'.format(page) }}", "line 1", "format"),
    ("{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}", "", "1000"),
    ("{% set a = 'y' * 6000 %}{{ a ~ a }}", "line 1", "longer than"),
    ("{{ 7 ** 100000 }}", "line 1", "too large"),
    ("{% for i in range(100) %}{{ 'z' * 200 }}{% endfor %}", "", "longer than"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "", ""),
    # Filters whose count argument would build a huge list before any check.
    ("{{ [1]|batch(100000000,'x')|list|length }}", "line 1", "batch"),
    ("{{ ([1]|slice(100000000))|list|length }}", "line 1", "slice"),
]


@pytest.mark.parametrize(("body", "line", "reason"), REFUSED)
def test_validate_template_refuses_with_the_line_and_reason(world, body, line, reason):
    errors = validate_template("copy", "fr", "", body, "", organisation=world["org"])
    assert set(errors) == {"body"}
    assert errors["body"].startswith(line)
    assert reason in errors["body"]


@pytest.mark.parametrize(("body", "line", "reason"), REFUSED[:8])
def test_the_staff_form_refuses_at_save_time_and_saves_nothing(
    client, login_as, db, world, body, line, reason
):
    login_as(world["staff"])
    response = client.post("/staff/eau-vive/messages/new", data=form(body=body))
    assert response.status_code == 422
    assert count_templates(db) == 0
    html = response.get_data(as_text=True)
    assert "Nothing was saved" in html
    assert line in html
    assert reason.replace("'", "&#39;") in html


def test_a_subject_error_is_reported_on_the_subject(db, world):
    errors = validate_template(
        "email", "en", "Hi {{ agent.nme }}", "Body", "", organisation=world["org"]
    )
    assert list(errors) == ["subject"]
    assert "nme" in errors["subject"]
    assert validate_template("email", "en", "", "Body", "")["subject"]


def test_html_is_escaped_and_refused_like_the_text(db, world):
    context = sample_context(world["org"], locale="en")
    context["agent"]["name"] = "<script>alert(1)</script>"
    html = render_source("<p>{{ agent.name }}</p>", context, html=True)
    assert html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    text = render_source("{{ agent.name }}", context)
    assert text == "<script>alert(1)</script>"  # plain text stays plain
    errors = validate_template(
        "email", "en", "Hi", "Body", "<p>\n{{ ''.__class__ }}</p>", organisation=world["org"]
    )
    assert errors["body_html"].startswith("line 2")


def test_an_x_post_over_280_weighted_characters_is_refused(db, world):
    errors = validate_template("x", "en", "", "a" * 300, "", organisation=world["org"])
    assert "280" in errors["body"] and "300" in errors["body"]
    # Rendered, not typed: placeholders count with the sample page's values.
    body = "b" * 270 + " {{ cause.title }}"
    assert len(body) < 290
    assert "body" in validate_template("x", "en", "", body, "", organisation=world["org"])


def test_an_x_post_fits_because_links_count_23(db, world):
    link = "https://eau-vive.org/" + "campaign/" * 10
    body = "a" * 240 + " " + link
    assert len(body) > 280
    assert x_length(body) == 240 + 1 + 23
    assert validate_template("x", "en", "", body, "", organisation=world["org"]) == {}
    # The same text without the link's discount does not fit.
    assert validate_template("x", "en", "", "a" * 241 + "b" * 40, "", organisation=world["org"])


def test_channel_limits_for_facebook_copy_and_email_subjects(db, world):
    org = world["org"]
    assert validate_template("facebook", "fr", "", "f" * 5000, "", organisation=org) == {}
    twice = "{% for i in range(2) %}" + "f" * 2600 + "{% endfor %}"
    assert "body" in validate_template("facebook", "fr", "", twice, "", organisation=org)
    assert "body" in validate_template("copy", "fr", "", "c" * 2001, "", organisation=org)
    assert "subject" in validate_template("email", "fr", "s" * 201, "Body", "", organisation=org)
    assert list(validate_template("sms", "fr", "", "Hi", "")) == ["channel"]


def test_staff_create_edit_list_and_deactivate(client, login_as, db, world):
    login_as(world["staff"])
    created = client.post(
        "/staff/eau-vive/messages/new",
        data=form(
            name="Suggested X",
            trigger="suggested",
            channel="x",
            cause="water",
            body="Give to {{ page.title }}: {{ page.share_url }}",
        ),
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    template = db.session.scalar(select(MessageTemplate))
    assert (template.trigger, template.channel, template.cause_id) == (
        "suggested",
        "x",
        world["cause"].id,
    )
    assert template.updated_by_id == world["staff"].id

    edited = client.post(
        f"/staff/eau-vive/messages/{template.id}",
        data=form(name="Suggested X", trigger="suggested", channel="x", body="{{ pag }}"),
    )
    assert edited.status_code == 422
    db.session.refresh(template)
    assert template.body == "Give to {{ page.title }}: {{ page.share_url }}"  # unchanged

    listing = client.get("/staff/eau-vive/messages/?channel=x")
    assert "Suggested X" in listing.get_data(as_text=True)
    assert "Suggested X" not in client.get("/staff/eau-vive/messages/?channel=email").get_data(
        as_text=True
    )

    off = client.post(f"/staff/eau-vive/messages/{template.id}/active", data={"is_active": "0"})
    assert off.status_code == 302
    db.session.refresh(template)
    assert template.is_active is False


def test_email_templates_keep_subject_and_html(client, login_as, db, world):
    login_as(world["staff"])
    response = client.post(
        "/staff/eau-vive/messages/new",
        data=form(
            channel="email",
            subject="News from {{ cause.title }}",
            body="Hello {{ agent.first_name }}",
            body_html="<p>Hello {{ agent.first_name }}</p>",
        ),
    )
    assert response.status_code == 302
    template = db.session.scalar(select(MessageTemplate))
    rendered = render_message(template, sample_context(world["org"], locale="fr"))
    assert rendered == Rendered(
        subject="News from Water for 20 villages",
        text="Hello Camille",
        html="<p>Hello Camille</p>",
    )


def test_only_staff_reach_the_templates(client, login_as, db, world):
    outsider = AgentFactory()
    db.session.commit()
    login_as(outsider)
    assert client.get("/staff/eau-vive/messages/").status_code == 403
    assert client.post("/staff/eau-vive/messages/new", data=form()).status_code == 403
    assert client.post("/staff/eau-vive/messages/preview", data=form()).status_code == 403
    assert count_templates(db) == 0


def test_the_preview_renders_on_a_chosen_real_page(client, login_as, db, world):
    login_as(world["staff"])
    response = client.post(
        "/staff/eau-vive/messages/preview",
        data=form(
            channel="x",
            locale="en",
            body="{{ page.title }} raised {{ page.raised }} of {{ page.goal }} "
            "{{ page.share_url }}",
            preview_page="camille-runs",
        ),
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["ok"] is True and data["errors"] == {}
    assert data["page"] == "Camille runs"
    assert data["text"].startswith("Camille runs raised €25 of €500 http://localhost/s/")
    assert data["limit"] == 280 and data["length"] < 280

    bad = client.post(
        "/staff/eau-vive/messages/preview", data=form(body="Hi\n{{ page.nope }}")
    ).get_json()
    assert bad["ok"] is False
    assert bad["errors"]["body"].startswith("line 2")
    assert count_templates(db) == 0


def test_the_preview_button_works_without_javascript(client, login_as, db, world):
    login_as(world["staff"])
    response = client.post(
        "/staff/eau-vive/messages/new",
        data=form(body="Go {{ agent.first_name }}! {{ page.raised }}", action="preview"),
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Go Camille! 25 €" in html.replace("\u202f", " ").replace("\xa0", " ")
    assert count_templates(db) == 0


def test_contexts_are_plain_data_formatted_per_locale(db, world):
    page = world["page"]
    french = context_for(page.owner, page, channel="email", locale="fr")
    english = context_for(page.owner, page, channel="email", locale="en")

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    assert plain(french) and plain(english)
    assert french["page"]["raised"].replace("\u202f", " ").replace("\xa0", " ") == "25 €"
    assert english["page"]["raised"] == "€25"
    assert french["page"]["share_url"] == english["page"]["share_url"]  # one link per channel
    assert french["agent"] == {"name": "Camille Martin", "first_name": "Camille"}
    assert french["page"]["rank"] == 1 and french["page"]["gap_to_next"] == ""
    assert french["event"]["city"] == "Lyon"
    assert french["organisation"] == {"name": "Eau Vive"}


def test_the_gap_to_the_next_rank(db, world):
    leader = PageFactory(cause=world["cause"], title="Léa leads")
    services.record_gift(page=leader, cause=world["cause"], amount_minor=7000)
    db.session.flush()
    context = context_for(world["page"].owner, world["page"], channel="copy", locale="en")
    assert context["page"]["rank"] == 2
    assert context["page"]["gap_to_next"] == "€45"
    assert context["page"]["next_title"] == "Léa leads"


def test_rendering_per_locale(db, world):
    page = world["page"]
    for locale, expected in (("fr", "Camille a collecté 25 €"), ("en", "Camille raised €25")):
        body = {
            "fr": "{{ agent.first_name }} a collecté {{ page.raised }}",
            "en": "{{ agent.first_name }} raised {{ page.raised }}",
        }[locale]
        template = MessageTemplate(
            organisation_id=world["org"].id, name="t", channel="copy", locale=locale, body=body
        )
        context = context_for(page.owner, page, channel="copy", locale=locale)
        text = render_message(template, context).text
        assert text.replace("\u202f", " ").replace("\xa0", " ") == expected


def test_a_context_missing_a_variable_fails_loudly_at_render_time(db, world):
    template = MessageTemplate(
        organisation_id=world["org"].id, name="t", channel="copy", locale="en", body="{{ extra }}"
    )
    with pytest.raises(RenderError) as caught:
        render_message(template, {"agent": {}})
    assert "'extra' is undefined" in caught.value.errors["body"]


def test_built_in_posts_pass_validation(db, world):
    for locale, channels in DEFAULT_POSTS.items():
        for channel, (subject, body) in channels.items():
            errors = validate_template(
                channel, locale, subject, body, "", organisation=world["org"]
            )
            assert errors == {}, (locale, channel, errors)


def test_demo_templates_pass_validation_and_read_well(db, world):
    messaging_demo.seed_templates(world["org"], world["cause"])
    templates = list(db.session.scalars(select(MessageTemplate)))
    kinds = {(t.trigger, t.channel, t.locale) for t in templates}
    for locale in ("fr", "en"):
        for channel in ("x", "facebook", "email", "copy"):
            assert ("suggested", channel, locale) in kinds
        for channel in ("x", "facebook", "email"):
            assert ("broadcast", channel, locale) in kinds
            assert ("rank_passed", channel, locale) in kinds
        for trigger in (
            "welcome",
            "first_gift",
            "goal_50",
            "goal_100",
            "gifts",
            "rank_change",
            "daily_digest",
            "nudge",
        ):
            assert (trigger, "email", locale) in kinds
    # Text to copy is only ever a suggested post: nothing would send it.
    assert {t.trigger for t in templates if t.channel == "copy"} == {"suggested"}
    for t in templates:
        assert validate_template(t.channel, t.locale, t.subject, t.body, t.body_html) == {}
    messaging_demo.seed_templates(world["org"], world["cause"])  # a second run adds nothing
    assert count_templates(db) == len(templates)

    rank = next(
        t for t in templates if (t.trigger, t.channel, t.locale) == ("rank_change", "email", "fr")
    )
    context = sample_context(world["org"], locale="fr")
    context["page"] = {**context["page"], "rank": 3}
    context["old_rank"] = 4
    assert render_message(rank, context).subject == "Vous êtes passé·e à la 3e place !"
    context["old_rank"] = None
    context["event"] = {**context["event"], "city": "Lyon"}
    context["passed"] = {"title": "Marseille, une soirée", "city": "Marseille"}
    assert render_message(rank, context).subject == "Lyon vient de dépasser Marseille !"
    passed = {(t.channel, t.locale): t for t in templates if t.trigger == "rank_passed"}
    context["old_rank"] = 1
    context["page"] = {**context["page"], "rank": 2, "kind": "event", "city": "Marseille"}
    context["page"]["gap_to_next"], context["page"]["next_title"] = "10 €", "Lyon pour l'eau"
    context["passed_by"] = {"title": "Lyon pour l'eau", "city": "Lyon"}
    email = render_message(passed[("email", "fr")], context)
    assert email.subject == "Lyon vient de dépasser Marseille !"
    assert "Votre page est maintenant 2e du classement (1re avant)." in email.text
    assert "Plus que 10 € pour repasser devant « Lyon pour l'eau »." in email.text
    context["page"] = {**context["page"], "kind": "personal", "title": "Camille court"}
    post = render_message(passed[("x", "en")], context).text
    assert post.startswith("“Lyon pour l'eau” just passed “Camille court”! Only 10 € to get")
    suggested_x = next(
        t for t in templates if (t.trigger, t.channel, t.locale) == ("suggested", "x", "fr")
    )
    text = render_message(suggested_x, context).text
    assert "10 €" in text and context["page"]["share_url"] in text


def test_an_unknown_locale_in_the_preview_is_a_message_not_a_500(client, login_as, db, world):
    org = world["org"]
    staff = MembershipFactory(organisation=org).agent
    db.session.commit()
    login_as(staff)
    response = client.post(
        f"/staff/{org.slug}/messages/preview",
        data={"channel": "copy", "locale": "zz", "body": "Bonjour"},
    )
    assert response.status_code in (200, 422)
    assert "French or English" in response.text


# --- text to copy: the share kit only --------------------------------------------------


@pytest.mark.parametrize("trigger", ["broadcast", "welcome", "rank_change", "rank_passed"])
def test_text_to_copy_for_a_sent_message_is_refused_at_save_time(
    client, login_as, db, world, trigger
):
    login_as(world["staff"])
    response = client.post(
        "/staff/eau-vive/messages/new", data=form(trigger=trigger, channel="copy")
    )
    assert response.status_code == 422
    assert count_templates(db) == 0
    html = response.get_data(as_text=True)
    assert "Nothing was saved" in html
    assert "Text to copy is only offered to agents in their share kit, never sent" in html


def test_an_existing_template_cannot_be_turned_into_text_to_copy(client, login_as, db, world):
    login_as(world["staff"])
    created = client.post(
        "/staff/eau-vive/messages/new", data=form(trigger="broadcast", channel="x")
    )
    assert created.status_code == 302
    template = db.session.scalar(select(MessageTemplate))
    edited = client.post(
        f"/staff/eau-vive/messages/{template.id}", data=form(trigger="broadcast", channel="copy")
    )
    assert edited.status_code == 422 and "never sent" in edited.get_data(as_text=True)
    db.session.refresh(template)
    assert template.channel == "x"


def test_text_to_copy_stays_a_suggested_post_in_the_share_kit(client, login_as, db, world):
    login_as(world["staff"])
    saved = client.post(
        "/staff/eau-vive/messages/new",
        data=form(name="WhatsApp", body="Coucou, aide-moi : {{ page.share_url }}"),
    )
    assert saved.status_code == 302
    template = db.session.scalar(select(MessageTemplate))
    assert (template.trigger, template.channel) == ("suggested", "copy")
    login_as(world["page"].owner)  # no language of her own: the organisation's French
    kit = client.get("/p/camille-runs/share").get_data(as_text=True)
    link = db.session.scalar(select(ShareLink).where(ShareLink.channel == "copy"))
    assert f"Coucou, aide-moi : {share_url(link)}" in kit


def legacy_copy_broadcast(db, world) -> MessageTemplate:
    """A copy broadcast template saved before they were refused."""
    template = MessageTemplate(
        organisation_id=world["org"].id,
        name="Old relay",
        trigger="broadcast",
        channel="copy",
        locale="fr",
        body="Relayez : {{ page.share_url }}",
    )
    db.session.add(template)
    db.session.flush()
    return template


def test_a_copy_broadcast_saved_earlier_is_refused_and_never_fanned_out(
    client, login_as, db, world
):
    template = legacy_copy_broadcast(db, world)
    staff, cause = world["staff"], world["cause"]
    with pytest.raises(ValidationError) as refused:
        broadcasts.create(
            staff,
            world["org"],
            {"cause_id": cause.id, "template_id": template.id, "audience": "all"},
        )
    assert (
        "Text to copy is only offered in agents' share kits" in refused.value.errors["template_id"]
    )
    # One already scheduled expands into nothing: no outbox row for text to copy.
    broadcast = Broadcast(
        organisation_id=world["org"].id,
        cause_id=cause.id,
        template_id=template.id,
        audience="all",
        status=BroadcastStatus.SCHEDULED,
        send_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    db.session.add(broadcast)
    db.session.flush()
    assert broadcasts.expand_due() == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert broadcast.status == BroadcastStatus.SENT and broadcast.message_count == 0

    db.session.commit()
    login_as(staff)
    listing = client.get("/staff/eau-vive/messages/").get_data(as_text=True)
    assert "Never sent: text to copy is only offered in share kits." in listing
