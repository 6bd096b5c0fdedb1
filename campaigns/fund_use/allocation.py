"""Fund use: who paid for what. A cause's money, each page's share of it, and
what that share funded among the published expenses, pro rata."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import func, select

from campaigns.fund_use.models import Expense
from campaigns.giving.models import COST_KINDS, Donation
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page
from campaigns.totals.models import Total, TotalScope
from campaigns.totals.services import figures
from extensions import db


@dataclass(frozen=True)
class CauseMoney:
    """A cause's money as the fund-use rule reads it (net of refunds)."""

    currency: str
    spent: dict[int, int]  # published expenses per project, projects with some only
    designated: dict[int, int]  # net gifts per project
    undesignated: int  # net gifts without a project (unattributed money too)

    @property
    def total_spent(self) -> int:
        return sum(self.spent.values())

    def funding(self, project_id: int) -> Fraction:
        """Gifts designated to the project plus its pro-rata part of the rest."""
        ratio = Fraction(self.spent.get(project_id, 0), self.total_spent or 1)
        return max(Fraction(0), self.designated.get(project_id, 0) + self.undesignated * ratio)


@dataclass(frozen=True)
class Share:
    """What one page's money did for one project (see ``shares``)."""

    project_id: int
    spent_minor: int
    funding_minor: int
    contribution_minor: int
    fraction: Fraction  # exact; of the project's money (or of its cost, if over-spent)

    def funded(self, amount_minor: int) -> int:
        """The part of an amount this page paid for, rounded half to even."""
        return round(self.fraction * amount_minor)

    @property
    def funded_minor(self) -> int:
        return self.funded(self.spent_minor)


def shares(money: CauseMoney, own: Mapping[int | None, int]) -> dict[int, Share]:
    """A page's share of each project that has published expenses.

    The rule, as the page explains it: the page's contribution to project P is
    its net gifts designated to P plus its undesignated net gifts × (spent on
    P / spent on all the cause's projects); P's funding is the same sum over
    the whole cause; the page's fraction of P is contribution / max(funding,
    spent on P), so an over-spent project (paid partly from other funds) is
    shared by its cost; each published expense e of P is funded ≈ fraction ×
    e's amount by the page. ``own`` maps a project id (None: no project) to the
    page's net gifts. Exact fractions; amounts are rounded half to even only
    for display.
    """
    total = money.total_spent
    if total <= 0:
        return {}
    own_undesignated = own.get(None, 0)
    out: dict[int, Share] = {}
    for project_id, spent in money.spent.items():
        ratio = Fraction(spent, total)
        contribution = max(Fraction(0), own.get(project_id, 0) + own_undesignated * ratio)
        funding = money.funding(project_id)
        fraction = min(Fraction(1), contribution / max(funding, spent))
        out[project_id] = Share(project_id, spent, round(funding), round(contribution), fraction)
    return out


def cause_money(cause_ids: Iterable[int]) -> dict[int, CauseMoney]:
    """``CauseMoney`` of the causes that have published expenses: three grouped
    queries whatever the number of causes, projects or expenses."""
    ids = list(cause_ids)
    if not ids:
        return {}
    spent: dict[int, dict[int, int]] = defaultdict(dict)
    currencies: dict[int, str] = {}
    for cause_id, currency, project_id, amount in db.session.execute(
        select(
            Project.cause_id,
            Organisation.currency,
            Expense.project_id,
            func.sum(Expense.amount_minor),
        )
        .join(Project, Project.id == Expense.project_id)
        .join(Cause, Cause.id == Project.cause_id)
        .join(Organisation, Organisation.id == Cause.organisation_id)
        # An expense recorded before the organisation changed currency is not added to it.
        .where(
            Project.cause_id.in_(ids),
            Expense.is_published.is_(True),
            Expense.currency == Organisation.currency,
        )
        .group_by(Project.cause_id, Organisation.currency, Expense.project_id)
    ):
        if amount:
            spent[cause_id][project_id] = int(amount)
            currencies[cause_id] = currency
    if not spent:
        return {}
    designated: dict[int, dict[int, int]] = defaultdict(dict)
    for cause_id, project_id, raised in db.session.execute(
        select(Project.cause_id, Total.scope_id, func.sum(Total.raised_minor))
        .join(Project, Project.id == Total.scope_id)
        .where(Total.scope == TotalScope.PROJECT, Project.cause_id.in_(list(spent)))
        .group_by(Project.cause_id, Total.scope_id)
    ):
        designated[cause_id][project_id] = int(raised or 0)
    cause_totals = figures(TotalScope.CAUSE, list(spent))
    return {
        cause_id: CauseMoney(
            currency=currencies[cause_id],
            spent=spent[cause_id],
            designated=designated[cause_id],
            undesignated=cause_totals[cause_id].raised_minor - sum(designated[cause_id].values()),
        )
        for cause_id in spent
    }


def own_money(pages: Iterable[Page]) -> dict[int, dict[int | None, int]]:
    """Each page's net gifts per project (None: no project): a personal page's
    own gifts, an event's with its member pages' (the ledger's ``event_id``)."""
    out: dict[int, dict[int | None, int]] = defaultdict(dict)
    pages = list(pages)
    for column, ids in (
        (Donation.page_id, [p.id for p in pages if not p.is_event]),
        (Donation.event_id, [p.id for p in pages if p.is_event]),
    ):
        if not ids:
            continue
        for page_id, project_id, amount in db.session.execute(
            select(column, Donation.project_id, func.sum(Donation.amount_minor))
            .where(column.in_(ids), Donation.kind.not_in(COST_KINDS))
            .group_by(column, Donation.project_id)
        ):
            out[page_id][project_id] = int(amount or 0)
    return out


@dataclass
class ProjectFunding:
    """One project in a page's "what your money funded" section."""

    project: Project
    share: Share
    expenses: list[tuple[Expense, int]] = field(default_factory=list)  # (expense, funded)
    expense_count: int = 0


def latest_expenses(project_ids: Iterable[int], per_project: int) -> dict[int, tuple[list, int]]:
    """The newest published expenses of each project and how many it has, in one query."""
    ids = list(project_ids)
    if not ids:
        return {}
    order = (Expense.spent_at.desc(), Expense.id.desc())
    ranked = (
        select(
            Expense.id.label("id"),
            func.row_number().over(partition_by=Expense.project_id, order_by=order).label("rn"),
            func.count().over(partition_by=Expense.project_id).label("n"),
        )
        .where(Expense.project_id.in_(ids), Expense.is_published.is_(True))
        .subquery()
    )
    out: dict[int, tuple[list, int]] = {}
    for expense, count in db.session.execute(
        select(Expense, ranked.c.n)
        .join(ranked, ranked.c.id == Expense.id)
        .where(ranked.c.rn <= per_project)
        .order_by(Expense.project_id, ranked.c.rn)
    ):
        listed, _count = out.get(expense.project_id, ([], 0))
        out[expense.project_id] = ([*listed, expense], int(count))
    return out


def page_fund_use(page: Page, per_project: int = 5) -> list[ProjectFunding]:
    """What a page's share of its cause's money funded, per project, largest
    first; a fixed number of queries whatever the number of expenses."""
    money = cause_money([page.cause_id]).get(page.cause_id)
    if money is None:
        return []
    found = {
        pid: share
        for pid, share in shares(money, own_money([page]).get(page.id, {})).items()
        if share.fraction > 0
    }
    if not found:
        return []
    projects = {p.id: p for p in db.session.scalars(select(Project).where(Project.id.in_(found)))}
    latest = latest_expenses(found, per_project)
    items = []
    for pid, share in found.items():
        listed, count = latest.get(pid, ([], 0))
        items.append(
            ProjectFunding(
                project=projects[pid],
                share=share,
                expenses=[(e, share.funded(e.amount_minor)) for e in listed],
                expense_count=count,
            )
        )
    return sorted(items, key=lambda i: (-i.share.contribution_minor, i.project.position))


@dataclass(frozen=True)
class ProjectMoney:
    """Raised vs spent for a project's public page."""

    raised_minor: int  # gifts designated to the project, net
    donor_count: int
    funding_minor: int  # plus its pro-rata share of the cause's undesignated gifts
    spent_minor: int  # published expenses


def project_money(project: Project) -> ProjectMoney:
    """Raised, funding and spent for one project (the rule of ``shares``)."""
    designated = figures(TotalScope.PROJECT, [project.id])[project.id]
    money = cause_money([project.cause_id]).get(project.cause_id)
    if money is None:
        return ProjectMoney(
            designated.raised_minor, designated.donor_count, designated.raised_minor, 0
        )
    return ProjectMoney(
        raised_minor=designated.raised_minor,
        donor_count=designated.donor_count,
        funding_minor=round(money.funding(project.id)),
        spent_minor=money.spent.get(project.id, 0),
    )
