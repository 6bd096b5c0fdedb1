"""The demo's message templates, in French and English: suggested posts for the
share kit (the "10 €" gift, text to copy included), a broadcast per channel
that is sent (X, Facebook, email), every automatic message by email, and the
"you were passed" message by X, Facebook and email. Each one passes
``validate_template``; text to copy is only ever a suggested post."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.organisations.models import Cause, Organisation
from extensions import db
from messaging.templating.context import sample_context
from messaging.templating.models import MessageTemplate
from messaging.templating.rendering import validate_template
from messaging.templating.services import COPY_TRIGGERS

# Shared pieces, so the French and English sets read the same way.
_RANK_FR = "{{ page.rank }}{{ 're' if page.rank == 1 else 'e' }}"
_RANK_EN = "#{{ page.rank }}"
_UP = "old_rank and page.rank and page.rank < old_rank"
_OLD_RANK_FR = "{{ old_rank }}{{ 're' if old_rank == 1 else 'e' }}"
# Who went past the page: an event by its city ("Lyon just passed Marseille"),
# a personal page by its title.
_PASSED_BY_FR = (
    "{% if page.kind == 'personal' %}« {{ passed_by.title }} » vient de passer devant "
    "« {{ page.title }} »{% else %}{{ passed_by.city or passed_by.title }} vient de dépasser "
    "{{ page.city or page.title }}{% endif %}"
)
_PASSED_BY_EN = (
    "{% if page.kind == 'personal' %}“{{ passed_by.title }}” just passed “{{ page.title }}”"
    "{% else %}{{ passed_by.city or passed_by.title }} just passed "
    "{{ page.city or page.title }}{% endif %}"
)

# The line a milestone message gives its badge (``badge``: empty when turned off).
_BADGE_FR = (
    "{% if badge %}Votre page affiche désormais le badge « {{ badge.title }} ».\n\n{% endif %}"
)
_BADGE_EN = "{% if badge %}Your page now shows the “{{ badge.title }}” badge.\n\n{% endif %}"

# (trigger, channel, name, subject, body) per locale.
TEMPLATES: dict[str, list[tuple[str, str, str, str, str]]] = {
    "fr": [
        (
            "suggested",
            "x",
            "Post X : 10 € pour l'eau",
            "",
            "Je relève le défi pour « {{ cause.title }} » ! 10 € = de l'eau potable pour "
            "une famille. Déjà {{ page.raised }} sur {{ page.goal }} 💧 {{ page.share_url }} "
            "#Twestival",
        ),
        (
            "suggested",
            "facebook",
            "Post Facebook : 10 € pour l'eau",
            "",
            "Bonjour à toutes et à tous !\n\nCette année je participe à « {{ cause.title }} » "
            "avec {{ organisation.name }}. Chaque don finance des puits et des filtres pour "
            "des villages qui n'ont pas d'eau potable.\n\nMon objectif : {{ page.goal }}. "
            "J'en suis à {{ page.raised }}{% if page.donor_count %} grâce à "
            "{{ page.donor_count }} donateurs et donatrices{% endif %}.\n\n"
            "Avec seulement 10 €, vous m'aidez vraiment. Merci de partager !\n\n"
            "{{ page.share_url }}",
        ),
        (
            "suggested",
            "email",
            "Email aux proches : 10 € pour l'eau",
            "10 € pour de l'eau potable ? Je compte sur vous !",
            "Bonjour,\n\nJe participe à « {{ cause.title }} » avec {{ organisation.name }} et "
            "je me suis fixé un objectif de {{ page.goal }} ({{ page.raised }} collectés pour "
            "l'instant).\n\nUn don de 10 € suffit à fournir de l'eau potable à une famille "
            "pendant un an. Vous pouvez donner en deux minutes sur ma page :\n"
            "{{ page.share_url }}\n\nMerci du fond du cœur,\n{{ agent.first_name }}",
        ),
        (
            "suggested",
            "copy",
            "Message court (WhatsApp, SMS)",
            "",
            "Coucou ! Je soutiens « {{ cause.title }} » : avec 10 € tu m'aides à atteindre "
            "{{ page.goal }} 💧 {{ page.share_url }}",
        ),
        (
            "broadcast",
            "x",
            "Annonce X",
            "",
            "{{ cause.raised }} déjà collectés pour « {{ cause.title }} » !{% if "
            "cause.days_left %} Plus que {{ cause.days_left }} jours.{% endif %} On continue : "
            "{{ page.share_url }}",
        ),
        (
            "broadcast",
            "facebook",
            "Annonce Facebook",
            "",
            "Grande nouvelle : {{ cause.raised }} collectés pour « {{ cause.title }} » sur un "
            "objectif de {{ cause.goal }} !\n\nMerci à toutes celles et ceux qui relaient. "
            "Ma page en est à {{ page.raised }} : {{ page.share_url }}",
        ),
        (
            "broadcast",
            "email",
            "Annonce par email",
            "{{ cause.title }} : où en est-on ?",
            "Bonjour {{ agent.first_name }},\n\nLa campagne a déjà réuni {{ cause.raised }} sur "
            "{{ cause.goal }}.{% if cause.days_left %} Il reste {{ cause.days_left }} jours."
            "{% endif %}\n\nVotre page « {{ page.title }} » en est à {{ page.raised }} "
            "({{ page.percent }} % de votre objectif).{% if page.rank %} Elle est "
            + _RANK_FR
            + " du classement.{% endif %}\n\nUn message à vos proches aujourd'hui peut tout "
            "changer : {{ page.share_url }}\n\nL'équipe {{ organisation.name }}",
        ),
        (
            "welcome",
            "email",
            "Bienvenue",
            "Bienvenue, {{ agent.first_name }} : votre page est en ligne !",
            "Bonjour {{ agent.first_name }},\n\nVotre page « {{ page.title }} » est publiée. "
            "Merci de rejoindre « {{ cause.title }} » !\n\nPremier conseil : envoyez votre lien "
            "à trois proches aujourd'hui. Les premiers dons entraînent les suivants.\n"
            "{{ page.share_url }}\n\nVotre kit de partage (posts prêts à l'emploi, QR code) "
            "vous attend sur votre page.\n\nL'équipe {{ organisation.name }}",
        ),
        (
            "first_gift",
            "email",
            "Premier don",
            "Votre premier don est arrivé !",
            "Bonjour {{ agent.first_name }},\n\nBonne nouvelle : « {{ page.title }} » a reçu "
            "son premier don. Vous en êtes à {{ page.raised }} sur {{ page.goal }}.\n\n"
            "C'est le bon moment pour relancer vos proches : {{ page.share_url }}\n\n"
            + _BADGE_FR
            + "L'équipe {{ organisation.name }}",
        ),
        (
            "goal_50",
            "email",
            "Mi-parcours",
            "À mi-chemin : {{ page.raised }} sur {{ page.goal }} !",
            "Bonjour {{ agent.first_name }},\n\nVous avez atteint {{ page.percent }} % de votre "
            "objectif : {{ page.raised }} sur {{ page.goal }}. Bravo !\n\nEncore un effort : "
            "{{ page.share_url }}\n\n" + _BADGE_FR + "L'équipe {{ organisation.name }}",
        ),
        (
            "goal_100",
            "email",
            "Objectif atteint",
            "Objectif atteint : {{ page.raised }} !",
            "Bonjour {{ agent.first_name }},\n\nVous avez atteint votre objectif de "
            "{{ page.goal }} : {{ page.raised }} collectés grâce à {{ page.donor_count }} "
            "personnes. Merci !\n\nEt si vous alliez plus loin ? Chaque don compte encore : "
            "{{ page.share_url }}\n\n" + _BADGE_FR + "L'équipe {{ organisation.name }}",
        ),
        (
            "gifts",
            "email",
            "Nouveaux dons",
            "{% if gifts %}{{ gifts.count }} nouveau(x) don(s) sur votre page{% else %}"
            "Nouveaux dons sur votre page{% endif %}",
            "Bonjour {{ agent.first_name }},\n\n{% if gifts %}{{ gifts.count }} don(s) pour "
            "{{ gifts.amount }} viennent d'arriver{% if gifts.donors %}, de la part de "
            "{{ gifts.donors | join(', ') }}{% endif %}.{% else %}De nouveaux dons viennent "
            "d'arriver.{% endif %} Votre page en est à {{ page.raised }} sur {{ page.goal }}."
            "\n\nPensez à remercier vos donateurs et à relayer : {{ page.share_url }}\n\n"
            "L'équipe {{ organisation.name }}",
        ),
        (
            "rank_change",
            "email",
            "Changement de classement",
            "{% if " + _UP + " %}Vous êtes passé·e à la " + _RANK_FR + " place !"
            "{% elif passed and event %}{{ event.city or event.title }} vient de dépasser "
            "{{ passed.city or passed.title }} !{% else %}Le classement a bougé{% endif %}",
            "Bonjour {{ agent.first_name }},\n\n{% if " + _UP + " %}Bravo : « {{ page.title }} "
            "» passe de la {{ old_rank }}e à la " + _RANK_FR + " place !{% elif page.rank %}"
            "« {{ page.title }} » est maintenant " + _RANK_FR + " du classement.{% endif %}\n"
            "{% if passed and event %}{{ event.city or event.title }} vient de dépasser "
            "{{ passed.city or passed.title }} !{% endif %}\n"
            "{% if page.gap_to_next %}Plus que {{ page.gap_to_next }} pour dépasser "
            "« {{ page.next_title }} ».{% endif %}\n\nGardez l'élan : {{ page.share_url }}\n\n"
            "L'équipe {{ organisation.name }}",
        ),
        (
            "rank_passed",
            "email",
            "Dépassé·e au classement",
            "{% if passed_by %}" + _PASSED_BY_FR + " !{% else %}Le classement a bougé{% endif %}",
            "Bonjour {{ agent.first_name }},\n\n{% if passed_by %}" + _PASSED_BY_FR + " !"
            "{% endif %}{% if page.rank %} Votre page est maintenant "
            + _RANK_FR
            + " du classement{% if old_rank %} ("
            + _OLD_RANK_FR
            + " avant){% endif %}.{% endif %}\n{% if page.gap_to_next %}Plus que "
            "{{ page.gap_to_next }} pour repasser devant « {{ page.next_title }} ».{% endif %}"
            "\n\nUn message à vos proches aujourd'hui peut suffire : {{ page.share_url }}\n\n"
            "L'équipe {{ organisation.name }}",
        ),
        (
            "rank_passed",
            "x",
            "Dépassé·e au classement (X)",
            "",
            "{% if passed_by %}" + _PASSED_BY_FR + " ! {% endif %}{% if page.gap_to_next %}"
            "Il ne manque que {{ page.gap_to_next }} pour repasser devant. {% endif %}"
            "Aidez-nous : {{ page.share_url }} #Twestival",
        ),
        (
            "rank_passed",
            "facebook",
            "Dépassé·e au classement (Facebook)",
            "",
            "{% if passed_by %}" + _PASSED_BY_FR + " !\n\n{% endif %}{% if page.rank %}"
            "« {{ page.title }} » est maintenant " + _RANK_FR + " du classement de "
            "« {{ cause.title }} »{% if page.gap_to_next %}, à {{ page.gap_to_next }} de "
            "« {{ page.next_title }} »{% endif %}.\n\n{% endif %}Chaque don de 10 € compte "
            "pour reprendre notre place. Merci de votre soutien !\n\n{{ page.share_url }}",
        ),
        (
            "daily_digest",
            "email",
            "Résumé du jour",
            "{% if cause.days_left %}J-{{ cause.days_left }} : {% endif %}le point du jour",
            "Bonjour {{ agent.first_name }},\n\nLa campagne en est à {{ cause.raised }} sur "
            "{{ cause.goal }}.{% if cause.days_left %} Il reste {{ cause.days_left }} jour(s)."
            "{% endif %}\nVotre page : {{ page.raised }} ({{ page.percent }} %)"
            "{% if page.rank %}, " + _RANK_FR + " du classement{% endif %}.\n"
            "{% if page.gap_to_next %}Il manque {{ page.gap_to_next }} pour dépasser "
            "« {{ page.next_title }} ».{% endif %}\n\nVotre lien : {{ page.share_url }}\n\n"
            "L'équipe {{ organisation.name }}",
        ),
        (
            "nudge",
            "email",
            "Relance",
            "Un petit coup de pouce pour « {{ page.title }} » ?",
            "Bonjour {{ agent.first_name }},\n\nVotre page n'a pas bougé depuis quelques "
            "jours. Un message à vos proches suffit souvent à relancer les dons : votre kit "
            "de partage contient des posts prêts à l'emploi.\n\n{{ page.raised }} sur "
            "{{ page.goal }} pour l'instant. Votre lien : {{ page.share_url }}\n\n"
            "L'équipe {{ organisation.name }}",
        ),
        (
            "badge",
            "email",
            "Badge",
            "Nouveau badge pour « {{ page.title }} » : {{ badge.title }}",
            "Bonjour {{ agent.first_name }},\n\n« {{ page.title }} » vient d'obtenir le badge "
            "« {{ badge.title }} » : {{ badge.description }} Il s'affiche sur votre page.\n\n"
            "{{ page.raised }} sur {{ page.goal }} pour l'instant. Partagez-la : "
            "{{ page.share_url }}\n\nL'équipe {{ organisation.name }}",
        ),
    ],
    "en": [
        (
            "suggested",
            "x",
            "X post: €10 for water",
            "",
            "I'm taking up the challenge for “{{ cause.title }}”! €10 = clean water for a "
            "family. {{ page.raised }} of {{ page.goal }} so far 💧 {{ page.share_url }} "
            "#Twestival",
        ),
        (
            "suggested",
            "facebook",
            "Facebook post: €10 for water",
            "",
            "Hello everyone!\n\nThis year I'm taking part in “{{ cause.title }}” with "
            "{{ organisation.name }}. Every gift pays for wells and filters for villages "
            "without clean water.\n\nMy goal: {{ page.goal }}. I'm at {{ page.raised }}"
            "{% if page.donor_count %} thanks to {{ page.donor_count }} donors{% endif %}."
            "\n\nJust €10 really helps. Please share!\n\n{{ page.share_url }}",
        ),
        (
            "suggested",
            "email",
            "Email to friends: €10 for water",
            "€10 for clean water? I'm counting on you!",
            "Hello,\n\nI'm taking part in “{{ cause.title }}” with {{ organisation.name }} and "
            "my goal is {{ page.goal }} ({{ page.raised }} raised so far).\n\nA €10 gift gives "
            "a family clean water for a year. It takes two minutes on my page:\n"
            "{{ page.share_url }}\n\nThank you so much,\n{{ agent.first_name }}",
        ),
        (
            "suggested",
            "copy",
            "Short message (WhatsApp, text)",
            "",
            "Hi! I'm supporting “{{ cause.title }}”: €10 helps me reach {{ page.goal }} 💧 "
            "{{ page.share_url }}",
        ),
        (
            "broadcast",
            "x",
            "X announcement",
            "",
            "{{ cause.raised }} raised for “{{ cause.title }}”!{% if cause.days_left %} "
            "{{ cause.days_left }} days to go.{% endif %} Keep going: {{ page.share_url }}",
        ),
        (
            "broadcast",
            "facebook",
            "Facebook announcement",
            "",
            "Big news: {{ cause.raised }} raised for “{{ cause.title }}” towards "
            "{{ cause.goal }}!\n\nThank you to everyone sharing. My page is at "
            "{{ page.raised }}: {{ page.share_url }}",
        ),
        (
            "broadcast",
            "email",
            "Email announcement",
            "{{ cause.title }}: where we stand",
            "Hello {{ agent.first_name }},\n\nThe campaign has raised {{ cause.raised }} of "
            "{{ cause.goal }}.{% if cause.days_left %} {{ cause.days_left }} days to go."
            "{% endif %}\n\nYour page “{{ page.title }}” is at {{ page.raised }} "
            "({{ page.percent }}% of your goal).{% if page.rank %} It is "
            + _RANK_EN
            + " on the leaderboard.{% endif %}\n\nOne message to your friends today can "
            "change everything: {{ page.share_url }}\n\nThe {{ organisation.name }} team",
        ),
        (
            "welcome",
            "email",
            "Welcome",
            "Welcome, {{ agent.first_name }}: your page is live!",
            "Hello {{ agent.first_name }},\n\nYour page “{{ page.title }}” is published. "
            "Thank you for joining “{{ cause.title }}”!\n\nFirst tip: send your link to three "
            "friends today. First gifts bring more.\n{{ page.share_url }}\n\nYour share kit "
            "(ready-made posts, QR code) is waiting on your page.\n\n"
            "The {{ organisation.name }} team",
        ),
        (
            "first_gift",
            "email",
            "First gift",
            "Your first gift is in!",
            "Hello {{ agent.first_name }},\n\nGood news: “{{ page.title }}” received its first "
            "gift. You're at {{ page.raised }} of {{ page.goal }}.\n\nNow is the time to remind "
            "your friends: {{ page.share_url }}\n\n"
            + _BADGE_EN
            + "The {{ organisation.name }} team",
        ),
        (
            "goal_50",
            "email",
            "Halfway",
            "Halfway there: {{ page.raised }} of {{ page.goal }}!",
            "Hello {{ agent.first_name }},\n\nYou've reached {{ page.percent }}% of your goal: "
            "{{ page.raised }} of {{ page.goal }}. Well done!\n\nOne more push: "
            "{{ page.share_url }}\n\n" + _BADGE_EN + "The {{ organisation.name }} team",
        ),
        (
            "goal_100",
            "email",
            "Goal reached",
            "Goal reached: {{ page.raised }}!",
            "Hello {{ agent.first_name }},\n\nYou reached your {{ page.goal }} goal: "
            "{{ page.raised }} raised from {{ page.donor_count }} people. Thank you!\n\n"
            "Why not go further? Every gift still counts: {{ page.share_url }}\n\n"
            + _BADGE_EN
            + "The {{ organisation.name }} team",
        ),
        (
            "gifts",
            "email",
            "New gifts",
            "{% if gifts %}{{ gifts.count }} new gift(s) on your page{% else %}New gifts on "
            "your page{% endif %}",
            "Hello {{ agent.first_name }},\n\n{% if gifts %}{{ gifts.count }} gift(s) worth "
            "{{ gifts.amount }} just arrived{% if gifts.donors %}, from "
            "{{ gifts.donors | join(', ') }}{% endif %}.{% else %}New gifts just arrived."
            "{% endif %} Your page is at {{ page.raised }} of {{ page.goal }}.\n\n"
            "Thank your donors and keep sharing: {{ page.share_url }}\n\n"
            "The {{ organisation.name }} team",
        ),
        (
            "rank_change",
            "email",
            "Rank change",
            "{% if " + _UP + " %}You moved up to " + _RANK_EN + "!"
            "{% elif passed and event %}{{ event.city or event.title }} just passed "
            "{{ passed.city or passed.title }}!{% else %}The leaderboard moved{% endif %}",
            "Hello {{ agent.first_name }},\n\n{% if " + _UP + " %}Well done: “{{ page.title }}” "
            "moved from #{{ old_rank }} to " + _RANK_EN + "!{% elif page.rank %}"
            "“{{ page.title }}” is now " + _RANK_EN + " on the leaderboard.{% endif %}\n"
            "{% if passed and event %}{{ event.city or event.title }} just passed "
            "{{ passed.city or passed.title }}!{% endif %}\n"
            "{% if page.gap_to_next %}{{ page.gap_to_next }} more to pass "
            "“{{ page.next_title }}”.{% endif %}\n\nKeep the momentum: {{ page.share_url }}\n\n"
            "The {{ organisation.name }} team",
        ),
        (
            "rank_passed",
            "email",
            "Passed on the leaderboard",
            "{% if passed_by %}" + _PASSED_BY_EN + "!{% else %}The leaderboard moved{% endif %}",
            "Hello {{ agent.first_name }},\n\n{% if passed_by %}" + _PASSED_BY_EN + "!"
            "{% endif %}{% if page.rank %} Your page is now "
            + _RANK_EN
            + " on the leaderboard{% if old_rank %} (#{{ old_rank }} before){% endif %}."
            "{% endif %}\n{% if page.gap_to_next %}{{ page.gap_to_next }} more to get back "
            "ahead of “{{ page.next_title }}”.{% endif %}\n\nOne message to your friends "
            "today can be enough: {{ page.share_url }}\n\nThe {{ organisation.name }} team",
        ),
        (
            "rank_passed",
            "x",
            "Passed on the leaderboard (X)",
            "",
            "{% if passed_by %}" + _PASSED_BY_EN + "! {% endif %}{% if page.gap_to_next %}"
            "Only {{ page.gap_to_next }} to get back ahead. {% endif %}Help us: "
            "{{ page.share_url }} #Twestival",
        ),
        (
            "rank_passed",
            "facebook",
            "Passed on the leaderboard (Facebook)",
            "",
            "{% if passed_by %}" + _PASSED_BY_EN + "!\n\n{% endif %}{% if page.rank %}"
            "“{{ page.title }}” is now " + _RANK_EN + " on the “{{ cause.title }}” leaderboard"
            "{% if page.gap_to_next %}, {{ page.gap_to_next }} behind “{{ page.next_title }}”"
            "{% endif %}.\n\n{% endif %}Every €10 gift helps us win our place back. Thank you "
            "for your support!\n\n{{ page.share_url }}",
        ),
        (
            "daily_digest",
            "email",
            "Daily digest",
            "{% if cause.days_left %}{{ cause.days_left }} day(s) left: {% endif %}today's update",
            "Hello {{ agent.first_name }},\n\nThe campaign is at {{ cause.raised }} of "
            "{{ cause.goal }}.{% if cause.days_left %} {{ cause.days_left }} day(s) left."
            "{% endif %}\nYour page: {{ page.raised }} ({{ page.percent }}%)"
            "{% if page.rank %}, " + _RANK_EN + " on the leaderboard{% endif %}.\n"
            "{% if page.gap_to_next %}{{ page.gap_to_next }} more to pass "
            "“{{ page.next_title }}”.{% endif %}\n\nYour link: {{ page.share_url }}\n\n"
            "The {{ organisation.name }} team",
        ),
        (
            "nudge",
            "email",
            "Nudge",
            "A little push for “{{ page.title }}”?",
            "Hello {{ agent.first_name }},\n\nYour page hasn't moved for a few days. One "
            "message to your friends is often enough to get gifts going again: your share kit "
            "has ready-made posts.\n\n{{ page.raised }} of {{ page.goal }} so far. Your link: "
            "{{ page.share_url }}\n\nThe {{ organisation.name }} team",
        ),
        (
            "badge",
            "email",
            "Badge",
            "New badge for “{{ page.title }}”: {{ badge.title }}",
            "Hello {{ agent.first_name }},\n\n“{{ page.title }}” just earned the "
            "“{{ badge.title }}” badge: {{ badge.description }} It now shows on your page.\n\n"
            "{{ page.raised }} of {{ page.goal }} so far. Share it: {{ page.share_url }}\n\n"
            "The {{ organisation.name }} team",
        ),
    ],
}


def seed_templates(organisation: Organisation, cause: Cause) -> None:
    """Add the demo templates to an organisation that has none (flushed, not
    committed). Suggested posts and broadcasts are for ``cause``; automatic
    messages for every cause. Raises ValueError if one fails validation."""
    exists = db.session.scalar(
        select(MessageTemplate.id).where(MessageTemplate.organisation_id == organisation.id)
    )
    if exists is not None:
        return
    for locale, rows in TEMPLATES.items():
        sample = sample_context(organisation, locale=locale)
        for trigger, channel, name, subject, body in rows:
            if channel == "copy" and trigger not in COPY_TRIGGERS:
                raise ValueError(
                    f"demo template {name!r} is text to copy for {trigger}: never sent"
                )
            errors = validate_template(channel, locale, subject, body, "", context=sample)
            if errors:
                raise ValueError(f"demo template {name!r} ({locale}) is invalid: {errors}")
            db.session.add(
                MessageTemplate(
                    organisation_id=organisation.id,
                    cause_id=cause.id if trigger in ("suggested", "broadcast") else None,
                    name=name,
                    trigger=trigger,
                    channel=channel,
                    locale=locale,
                    subject=subject,
                    body=body,
                    body_html="",
                    is_active=True,
                )
            )
    db.session.flush()
