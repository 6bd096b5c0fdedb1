"""Match challenges on the web: the staff list and form, each match's statement
(page and CSV), and the notice the public pages show (a Jinja helper)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, redirect, render_template, url_for
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from markupsafe import Markup, escape

from campaigns.errors import NotFound
from campaigns.matching import services, settlement
from campaigns.matching.forms import MatchForm
from campaigns.money import format_money
from campaigns.organisations.models import Cause
from campaigns.signals import further_row_recorded, gift_recorded
from campaigns.staff_gate import save_staff_form, staff_organisation, staff_organisation_to_write
from extensions import db

bp = Blueprint("matching", __name__, url_prefix="/staff/<org_slug>/matches")


def _form(org, **kwargs) -> MatchForm:
    form = MatchForm(**kwargs)
    causes = db.session.query(Cause).filter(Cause.organisation_id == org.id).order_by(Cause.title)
    form.cause.choices = [(c.slug, c.title) for c in causes]
    form.show_currency(org.currency)
    return form


def _index(org, role, form, status: int = 200):
    matches = services.matches_of(org)
    return render_template(
        "staff/matches.html",
        org=org,
        role=role,
        form=form,
        matches=matches,
        titles={m.id: services.target_title(m) for m in matches},
    ), status


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    return _index(org, role, _form(org, formdata=None))


@bp.post("/")
@auth_required()
def create(org_slug: str):
    org, role = staff_organisation_to_write(org_slug)
    form = _form(org)
    match = save_staff_form(
        form,
        lambda: form.service_data(org.currency),
        lambda data: services.create_match(current_user._get_current_object(), org, data),
    )
    if match is None:
        return _index(org, role, form, 422)
    return redirect(url_for(".detail", org_slug=org.slug, match_id=match.id), code=303)


def _match(org, match_id: int):
    try:
        return services.staff_match(org, match_id)
    except NotFound:
        from flask import abort

        abort(404)


@bp.get("/<int:match_id>")
@auth_required()
def detail(org_slug: str, match_id: int):
    org, role = staff_organisation(org_slug)
    match = _match(org, match_id)
    return render_template(
        "staff/match.html",
        org=org,
        role=role,
        match=match,
        title=services.target_title(match),
        lines=services.statement(match),
        in_ledger=settlement.ledger_sum(match),
    )


@bp.get("/<int:match_id>/statement.csv")
@auth_required()
def statement_csv(org_slug: str, match_id: int):
    from campaigns.dashboard.exports import to_csv

    org, _role = staff_organisation(org_slug)
    match = _match(org, match_id)
    rows = [
        (
            line.given_at,
            line.page,
            line.donor or _("Anonymous"),
            line.gift_minor,
            line.matched_minor,
        )
        for line in services.statement(match)
    ]
    rows.append(("", "", _("Total owed"), "", match.matched_minor))
    response = Response(
        to_csv(("given_at", "page", "donor", "gift_minor", "matched_minor"), rows),
        mimetype="text/csv",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="match-{match.id}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the public notice ----------------------------------------------------------------


def ratio_words(num: int, den: int) -> str:
    if den == 1 and num == 1:
        return _("Doubled")
    if den == 1 and num == 2:
        return _("Tripled")
    return _("Matched %(num)s:%(den)s", num=num, den=den)


def notice_text(notice: services.Notice, *, live: bool = False) -> Markup:
    """'Doubled until 22:00 — 3,120 € of 5,000 € left' (the time in the
    organiser's zone; the day too when it is not today)."""
    from campaigns.model_types import utcnow

    today = format_date(utcnow(), "short") == format_date(notice.ends_at, "short")
    until = format_time(notice.ends_at, "short")
    if not today:
        until = f"{format_date(notice.ends_at, 'medium')}, {until}"
    left = format_money(notice.left_minor, notice.currency, _locale())
    if live:
        left = Markup('<strong data-live="match-left" data-live-match="{0}">{1}</strong>').format(
            notice.match_id, left
        )
    text = _(
        "%(ratio)s until %(time)s — %(left)s of %(cap)s left",
        ratio=ratio_words(notice.ratio_num, notice.ratio_den),
        time=until,
        left="\x00",
        cap=format_money(notice.cap_minor, notice.currency, _locale()),
    )
    before, _sep, after = text.partition("\x00")
    return escape(before) + left + escape(after)


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "en")


def init_app(app: Flask) -> None:
    # blinker keeps one receiver per function and process: connecting again is a no-op.
    gift_recorded.connect(settlement.on_gift)
    further_row_recorded.connect(settlement.on_further_row)
    app.register_blueprint(bp)

    # Globals, not a context processor: the macros of _match.html see them.
    app.jinja_env.globals.update(
        page_matches=services.notices_for_page,
        cause_matches=services.notices_for_cause,
        match_notice=notice_text,
    )
