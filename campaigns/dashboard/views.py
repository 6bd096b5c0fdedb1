"""The organisation's dashboard and staff CSV exports.

Staff of the organisation only (``campaigns.staff_gate.staff_organisation``): agents who
are not members get 403, anonymous visitors the login page. The dashboard
only reads; an export of personal data writes one audit entry, committed
before the first byte of the file is sent.
"""

from __future__ import annotations

import re
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from campaigns import audit, unit_of_work
from campaigns.dashboard import attention, charts, exports
from campaigns.dashboard import filters as export_filters
from campaigns.dashboard import services as dashboard
from campaigns.errors import ServiceError
from campaigns.model_types import utcnow
from campaigns.organisations.forms import ConfirmForm
from campaigns.staff_gate import staff_organisation
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope

bp = Blueprint("dashboard", __name__, url_prefix="/staff/<org_slug>/dashboard")


def _labels() -> dict:
    return {
        "channel_labels": {
            "x": "X",
            "facebook": "Facebook",
            "email": _("Email"),
            "copy": _("Copied link"),
            "qr": _("QR code (posters)"),
        },
        "kind_labels": {
            "gift": _("Gift"),
            "offline": _("Cash or cheque"),
            "refund": _("Refund"),
            "dispute": _("Dispute"),
            "dispute_reversal": _("Dispute won"),
            "refund_reversal": _("Refund failed"),
            "fee": _("Stripe fee"),
        },
        "action_labels": {
            "page.hide": _("Page hidden"),
            "page.unhide": _("Page shown again"),
            "cause.status": _("Cause status changed"),
            "offline.confirm": _("Cash or cheque confirmed"),
            "offline.reject": _("Cash or cheque rejected"),
            "refund.request": _("Refund requested"),
            "expense.create": _("Expense recorded"),
            "expense.edit": _("Expense changed"),
            "expense.publish": _("Expense published"),
            "expense.unpublish": _("Expense unpublished"),
            "expense.delete": _("Draft expense deleted"),
            "outbox.retry": _("Message sent again"),
            "outbox.cancel": _("Message cancelled"),
            "export.donations": _("Donations exported"),
            "export.agents": _("Agents exported"),
            "export.offline": _("Offline gifts exported"),
        },
    }


def _day_arg(name: str) -> date | None:
    try:
        return export_filters.parse_day(request.args.get(name))
    except ValueError:
        raise ServiceError(_("Write the day as YYYY-MM-DD, for example 2026-06-21.")) from None


def _id_arg(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,12}", text):  # not isdigit(): "²" is a digit to it
        raise ServiceError(_("This link to older entries is broken. Go back to the dashboard."))
    return int(text)


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    zone = dashboard.wall_clock()
    now = utcnow()
    today = now.astimezone(zone).date()
    chosen_day = _day_arg("day")
    audit_before = _id_arg("audit_before")
    all_causes = dashboard.causes(org.id)
    cause = dashboard.choose_cause(all_causes, request.args.get("cause", "").strip())
    context: dict = {
        "org": org,
        "role": role,
        "causes": all_causes,
        "cause": cause,
        "cause_rows": dashboard.cause_rows(all_causes),
        "org_figures": totals.figures_one(TotalScope.ORGANISATION, org.id),
        "unattributed": attention.unattributed(org.id),
        "anomalies": attention.anomalies(org.id),
        "offline": attention.pending_offline(org.id),
        "outbox": dashboard.outbox_health(org.id),
        "published": attention.recently_published(org.id, now),
        "hidden": attention.hidden_pages(org.id),
        "audit": attention.audit_page(org.id, audit_before),
        "audit_before": audit_before,
        "exports": exports.EXPORTS.values(),
        "confirm": ConfirmForm(),
    }
    if cause is not None:
        days = charts.event_days(cause.id, zone)
        day = chosen_day or charts.default_event_day(days, today)
        first, last = charts.daily_window(cause, today, zone)
        context.update(
            headline=next(r for r in context["cause_rows"] if r.id == cause.id),
            projects=dashboard.projects(cause.id),
            events=dashboard.events(cause.id),
            top_pages=dashboard.top_pages(cause.id),
            page_counts=dashboard.page_counts(cause.id),
            cities=dashboard.top_cities(cause.id),
            funnel=dashboard.share_funnel(cause),
            latest=attention.latest_gifts(cause.id),
            event_days=days,
            day=day,
            daily_chart=charts.daily_chart(
                charts.gifts_per_day(cause.id, first, last, zone), org.currency
            ),
            # A day still to come has no hour to draw: say so rather than draw 24 empty bars.
            is_future_day=bool(day and day > today),
            hourly_chart=(
                charts.hourly_chart(charts.gifts_per_hour(cause.id, day, zone), day, org.currency)
                if day and day <= today
                else None
            ),
        )
    return render_template("staff/dashboard.html", **context, **_labels())


@bp.get("/exports/<name>.csv")
@auth_required()
@unit_of_work.writes  # the audit row: a writer from the first read
def export(org_slug: str, name: str):
    org, _role = staff_organisation(org_slug)
    found = exports.EXPORTS.get(name)
    if found is None:
        abort(404)
    filters = export_filters.parse_filters(org.id, request.args)
    if found.audit_action:
        audit.record(
            org.id,
            current_user._get_current_object(),
            found.audit_action,
            str(found.audit_summary),
            details={"file": name, **filters.describe()},
        )
        # Committed before streaming (at the boundary, when this returns): the
        # trace exists even if the download stops.
    today = utcnow().astimezone(dashboard.wall_clock()).date().isoformat()
    parts = [org.slug, filters.cause_slug, name, today]
    filename = "-".join(p for p in parts if p) + ".csv"
    response = Response(
        stream_with_context(exports.to_csv(found.header, found.rows(org.id, filters))),
        mimetype="text/csv",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
