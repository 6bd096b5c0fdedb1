"""The demo: a French organisation's Twestival-style day, seeded once.

Everything is made through the same services the app uses, so totals come
from real ledger rows. A fixed random seed keeps the demo the same each time.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_security.utils import hash_password
from sqlalchemy import func, inspect, select

from agents.models import Agent
from campaigns import inputs
from campaigns.fund_use import services as expenses
from campaigns.giving import fees, ledger, receipts
from campaigns.giving.models import Donation
from campaigns.model_types import utcnow
from campaigns.organisations import services as org_services
from campaigns.organisations.models import CauseStatus, Organisation
from campaigns.pages import services as page_services
from campaigns.pages.models import PageKind, PageStatus
from campaigns.signals import demo_seeded
from extensions import db

DEMO_ORG_SLUG = "eau-vive"
DEMO_CAUSE_SLUG = "twestival-eau-vive"
DEMO_PASSWORD = "demo-relais-2026"  # noqa: S105 - printed for demo users on purpose
STAFF_EMAIL = "equipe@eau-vive.example"
AGENT_EMAIL = "camille@exemple.fr"

CITIES = [
    ("Lyon", "Le Sucre", "Lyon se mobilise pour l'eau"),
    ("Marseille", "La Friche la Belle de Mai", "Marseille, une soirée pour les puits"),
    ("Paris", "La Bellevilloise", "Twestival Paris"),
    ("Toulouse", "Le Bikini", "Toulouse a soif de solidarité"),
    ("Bordeaux", "Darwin Écosystème", "Bordeaux lève son verre (d'eau)"),
    ("Lille", "La Gare Saint-Sauveur", "Lille pour l'eau vive"),
    ("Nantes", "Le Lieu Unique", "Nantes, goutte à goutte"),
    ("Strasbourg", "La Laiterie", "Strasbourg, une source d'espoir"),
    ("Montpellier", "Le Rockstore", "Montpellier, l'eau c'est la vie"),
    ("Rennes", "L'Ubu", "Rennes fait des vagues"),
    ("Grenoble", "La Bobine", "Grenoble, des Alpes au Sahel"),
    ("Nice", "Le Volume", "Nice, sur la promenade de l'eau"),
    ("Dijon", "La Vapeur", "Dijon à la source"),
    ("Brest", "La Carène", "Brest, du bout du monde au puits"),
]
FIRST = [
    "Camille",
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Manon",
    "Jules",
    "Inès",
    "Louis",
    "Sarah",
    "Nathan",
    "Emma",
    "Théo",
    "Zoé",
    "Arthur",
    "Lina",
    "Gabriel",
    "Jade",
    "Raphaël",
    "Alice",
    "Malo",
    "Rose",
    "Noé",
    "Anna",
    "Sacha",
    "Lou",
    "Yanis",
    "Mila",
    "Adam",
    "Nina",
    "Éloi",
    "Maëlle",
    "Karim",
    "Fatou",
    "Mehdi",
    "Aïcha",
    "Thomas",
    "Julie",
    "Pierre",
    "Claire",
    "Bastien",
    "Sofia",
    "Ibrahim",
    "Margaux",
    "Victor",
    "Elsa",
    "Samuel",
    "Oriane",
]
LAST = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "Diallo",
    "Traoré",
]
MESSAGES = [
    "Bravo pour l'initiative !",
    "Pour les puits, avec plaisir.",
    "Allez Lyon !",
    "On compte sur vous !",
    "Merci de porter ce projet.",
    "Un petit geste, une grande soif en moins.",
    "",
    "",
    "",
    "Santé (à l'eau) !",
]

CAUSE_STORY = """\
Le 21 juin, des dizaines de villes organisent une **soirée Twestival** pour
financer l'accès à l'eau potable dans 20 villages du Burkina Faso et du Niger.

Chaque soirée est organisée par des bénévoles : un bar prête sa salle, des
artistes jouent, et chacun relaie l'appel à dons autour de lui. Vous aussi,
ouvrez votre page, rejoignez la soirée de votre ville, et partagez !

- 10 € : un filtre à eau pour une famille
- 25 € : une journée de travaux sur un puits
- 50 € : la formation d'un membre du comité de l'eau
"""

PROJECTS = [
    ("puits-burkina", "Puits au Burkina Faso", "Forage et équipement de 12 puits.", 4_000_000),
    (
        "filtres-ecoles",
        "Filtres à eau pour les écoles",
        "Des filtres pour 30 écoles rurales.",
        1_500_000,
    ),
    ("comites-eau", "Formation des comités de l'eau", "Pour que chaque puits dure.", 800_000),
]

# (project, title, description, amount in cents, days ago, published)
EXPENSES = [
    (
        "puits-burkina",
        "Puits n° 34, Kaya",
        "Forage à 60 m, pompe manuelle et margelle.",
        320_000,
        20,
        True,
    ),
    (
        "puits-burkina",
        "Puits n° 35, Kaya",
        "Forage et pompe ; finitions en cours.",
        290_000,
        6,
        True,
    ),
    (
        "filtres-ecoles",
        "40 filtres céramique",
        "Pour 8 écoles de la région du Centre-Nord.",
        96_000,
        12,
        True,
    ),
    (
        "comites-eau",
        "Formation de 3 comités",
        "Deux jours de formation à l'entretien.",
        45_000,
        3,
        False,
    ),
]


def refusal(*, is_production: bool) -> str | None:
    """Why the demo must not be seeded here, in one line; None when it may.

    The demo adds an admin whose password is printed for anyone, and hundreds
    of made-up gifts to the ledger: only on a development database that is
    empty or holds nothing but an earlier demo (and whoever signed up in it).
    """
    if is_production:
        return (
            "relais demo does not run in production mode (RELAIS_ENV=production): it adds an "
            "admin with a public password and made-up gifts. Use a development database."
        )
    if not inspect(db.engine).has_table(Organisation.__tablename__):
        return None  # a new database: the migrations come next
    others = db.session.scalar(
        select(func.count(Organisation.id)).where(Organisation.slug != DEMO_ORG_SLUG)
    )
    if others:
        found = f"{others} organisation(s) besides the demo's"
    elif db.session.scalar(select(Organisation.id).where(Organisation.slug == DEMO_ORG_SLUG)):
        return None  # an earlier demo: seeding again adds nothing
    elif db.session.scalar(select(Agent.id).limit(1)) or db.session.scalar(
        select(Donation.id).limit(1)
    ):
        found = "accounts or gifts"
    else:
        return None
    return (
        f"relais demo refuses: this database holds data the demo did not create ({found}). "
        "Point DATABASE_URL at an empty database."
    )


def seed() -> bool:
    """Create the demo data unless it is there; returns whether it was created."""
    if db.session.scalar(select(Organisation.id).where(Organisation.slug == DEMO_ORG_SLUG)):
        return False
    rng = random.Random(2009)  # the first Twestival
    password = hash_password(DEMO_PASSWORD)  # one argon2 hash serves every demo account

    def agent(email: str, name: str) -> Agent:
        a = Agent(
            email=email,
            name=name,
            password=password,
            active=True,
            fs_uniquifier=uuid.uuid4().hex,
            confirmed_at=utcnow(),
            locale="",
        )
        db.session.add(a)
        return a

    org = org_services.save_organisation(
        None,
        None,
        {
            "slug": DEMO_ORG_SLUG,
            "name": "Eau Vive",
            "legal_name": "Association Eau Vive",
            "address": "12 rue de la Source\n69001 Lyon\nFrance",
            "website": "https://eau-vive.example",
            "currency": "EUR",
            "locale": "fr",
            "suggested_amounts": [1000, 2500, 5000],
        },
    )
    staff = agent(STAFF_EMAIL, "Équipe Eau Vive")
    db.session.flush()
    org_services.add_staff(org, staff, "admin")

    paris = ZoneInfo("Europe/Paris")
    now = utcnow()
    day = (now + timedelta(days=21)).astimezone(paris).date()
    cause = org_services.save_cause(
        None,
        org,
        None,
        {
            "slug": DEMO_CAUSE_SLUG,
            "title": "Twestival Eau Vive : de l'eau pour 20 villages",
            "summary": "Une soirée, des dizaines de villes, 20 villages équipés en eau potable.",
            "story": CAUSE_STORY,
            "goal_minor": 6_000_000,
            "starts_at": (now - timedelta(days=30)).isoformat(),
            "ends_at": datetime.combine(day + timedelta(days=14), time(23, 59), paris).isoformat(),
            "status": CauseStatus.PUBLISHED,
        },
    )
    projects = [
        org_services.save_project(
            None, cause, None, {"slug": s, "name": n, "description": d, "goal_minor": g}
        )
        for s, n, d, g in PROJECTS
    ]
    demo_seeded.send(org, cause=cause)  # messaging adds its demo templates

    names = [(first, last) for first in FIRST for last in LAST]
    rng.shuffle(names)
    people = iter(names)

    def new_agent() -> Agent:
        first, last = next(people)
        email = inputs.slugify(f"{first} {last}").replace("-", ".") + "@exemple.fr"
        return agent(email, f"{first} {last}")

    camille = agent(AGENT_EMAIL, "Camille Martin")
    db.session.flush()
    pages = []
    for i, (city, venue, title) in enumerate(CITIES):
        host = camille if i == 0 else new_agent()
        db.session.flush()
        starts = datetime.combine(day, time(19, 0), paris)
        event = page_services.create_page(
            host,
            cause,
            PageKind.EVENT,
            {
                "title": title,
                "city": city,
                "venue": venue,
                "starts_at": starts.isoformat(),
                "goal_minor": rng.choice([150_000, 200_000, 300_000, 500_000]),
                "story": f"Rendez-vous au **{venue}** le soir du Twestival : concerts, quiz et "
                f"tombola, toutes les recettes vont aux puits. On compte sur {city} !",
                "status": PageStatus.PUBLISHED,
            },
        )
        pages.append(event)
        for _ in range(rng.randint(2, 6)):
            member = new_agent()
            db.session.flush()
            page = page_services.create_page(
                member,
                cause,
                PageKind.PERSONAL,
                {
                    "title": f"{member.name.split()[0]} relève le défi à {city}",
                    "goal_minor": rng.choice([20_000, 30_000, 50_000, 100_000]),
                    "story": "Je soutiens le Twestival Eau Vive : chaque don compte !",
                    "status": PageStatus.PUBLISHED,
                },
            )
            page_services.join_event(member, page, event)
            pages.append(page)
    for _ in range(6):
        solo = new_agent()
        db.session.flush()
        pages.append(
            page_services.create_page(
                solo,
                cause,
                PageKind.PERSONAL,
                {
                    "title": f"Le défi de {solo.name}",
                    "goal_minor": rng.choice([25_000, 40_000]),
                    "story": "Je cours 10 km pour l'eau potable. Soutenez-moi !",
                    "status": PageStatus.PUBLISHED,
                },
            )
        )
    # A draft nobody sees yet, to show the owner's view.
    page_services.create_page(
        camille,
        cause,
        PageKind.PERSONAL,
        {
            "title": "Mon défi vélo (brouillon)",
            "goal_minor": 30_000,
        },
    )

    weights = [3 if p.kind == PageKind.EVENT else 1 for p in pages]
    for n in range(420):
        page = rng.choices(pages, weights=weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        gift = ledger.record_gift(
            page=page,
            cause=cause,
            project=rng.choice([None, None, *projects]),
            amount_minor=rng.choice([1000, 1000, 1000, 2500, 2500, 5000, 1500, 2000, 10000]),
            donor_name=f"{first} {last}",
            donor_email=f"donateur{rng.randint(1, 260)}@exemple.org",
            message=rng.choice(MESSAGES),
            is_anonymous=rng.random() < 0.15,
            created_at=now - timedelta(days=28) + timedelta(minutes=n * 95 + rng.randint(0, 60)),
        )
        # What Stripe would have charged to collect it: the dashboard shows gross and net.
        txn = fees.demo_balance_transaction(
            f"txn_demo_{gift.id}",
            gift.amount_minor,
            gift.currency,
            created=int(gift.created_at.timestamp()),
        )
        fees.book(gift, txn, None)
    # Fund use: what the money already paid for (published), and one draft.
    by_slug = {p.slug: p for p in projects}
    for slug, title, description, amount, days_ago, publish in EXPENSES:
        expense = expenses.save_expense(
            staff,
            org,
            None,
            {
                "project": by_slug[slug],
                "amount_minor": amount,
                "spent_on": (now - timedelta(days=days_ago)).date(),
                "title": title,
                "description": description,
            },
        )
        if publish:
            expenses.publish_expense(staff, org, expense)
    receipts.issue_pending(limit=10_000)
    return True


def credentials() -> list[tuple[str, str, str]]:
    return [("staff", STAFF_EMAIL, DEMO_PASSWORD), ("free agent", AGENT_EMAIL, DEMO_PASSWORD)]
