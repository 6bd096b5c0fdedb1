"""Signals campaigns sends; messaging (receipts, notifications) listens.

Receivers run inside the sender's transaction: they may only add rows (an
outbox or mail row), never send anything themselves. Some signals are
questions (attribution, the dashboard's messaging figures): a receiver answers
with a value, read with ``first_answer``, so that campaigns never imports
messaging and works, with empty answers, without it.
"""

from __future__ import annotations

from typing import Any

from blinker import NamedSignal, Namespace

signals = Namespace()

# sender: the Donation (a gift or a confirmed offline gift), flushed, with its id.
gift_recorded = signals.signal("gift-recorded")

# sender: a ledger row that follows a gift (a refund, dispute, reversal, fee or
# transfer: ``ledger.record_further_row``), flushed and counted in the totals.
# campaigns' matching area listens: a refund gives back its part of a match.
further_row_recorded = signals.signal("further-row-recorded")

# sender: the gift (a Donation, flushed) whose card a Stripe payload named;
# fingerprint= Stripe's fingerprint of that card (``payment_method_details.card``).
# Sent whenever a payload carries it (a paid session with its charge, the fee
# lookup's charge, a refunded charge); campaigns' fairplay area listens.
card_seen = signals.signal("card-seen")

# sender: None; cause_id= a cause, page_ids= its pages and events whose ranking
# figures changed although no ledger row or page was written (staff excluded a
# gift from rankings, or counted it again). campaigns' standings listen: the
# rank index, the Redis boards and the live streams follow, as after a refund.
rankings_changed = signals.signal("rankings-changed")

# sender: the Match whose window has ended (campaigns.matching), flushed;
# email=, subject=, text= the sponsor's statement. A receiver queues the mail.
match_statement_ready = signals.signal("match-statement-ready")

# sender: the refund row (a Donation of kind refund, flushed, negative amount),
# gift= the gift it takes money back from. One send per refund row.
gift_refunded = signals.signal("gift-refunded")

# sender: the dispute row (a Donation of kind dispute, flushed, negative amount),
# gift= the disputed gift, dispute_id= Stripe's id. One send per dispute.
gift_disputed = signals.signal("gift-disputed")

# sender: the Donation that just got its receipt number (from the receipts job).
receipt_issued = signals.signal("receipt-issued")

# sender: the CohostInvite just added (flushed); subject= and text= the
# invitation mail to queue for invite.email, organisation_id= the page's.
cohost_invited = signals.signal("cohost-invited")

# sender: the team Page; email= the address invited (lower-cased), subject= and
# text= the invitation mail, organisation_id= the page's. A receiver queues it.
team_invited = signals.signal("team-invited")

# sender: a donor's address (lower-cased) that gave; subject= and text= the mail
# with their signed link to their gifts. A receiver queues it for that address.
donor_link_requested = signals.signal("donor-link-requested")

# sender: a monthly donor's address (lower-cased); subject= and text= the mail
# confirming their monthly gift with its signed stop link, organisation_id=,
# dedupe_key= (once per monthly gift). A receiver queues it.
monthly_gift_started = signals.signal("monthly-gift-started")

# sender: a donor's address (lower-cased) whose gifts were just erased on request,
# organisation_id= the one organisation concerned, or None for all, gift_ids=
# the ledger rows erased. Receivers erase what they hold for that address or
# those rows (messaging: the mail sent to it; fair play: the cards they were paid with).
donor_erased = signals.signal("donor-erased")

# sender: the Page just made public (possibly not flushed yet: a new page has no id).
page_published = signals.signal("page-published")

# sender: the Page its owner just closed (flushed); sent once, when it closes.
page_closed = signals.signal("page-closed")

# sender: the Expense just published (flushed, published_at set).
expense_published = signals.signal("expense-published")

# sender: the personal Page that just joined (flushed), event= the event or team Page.
page_joined = signals.signal("page-joined")

# sender: the FieldUpdate just posted (flushed), recipients= {address: locale} of
# the donors who gave to its project or page and asked for news. A receiver
# queues one mail per address (messaging, with the unsubscribe rules).
field_update_posted = signals.signal("field-update-posted")

# sender: the Page that earned badges, codes= their codes (campaigns.badges), new ones only;
# backfill= True when `relais badges award` gives older data its badges (not news to announce).
badge_awarded = signals.signal("badge-awarded")

# sender: None; code= the share code a Checkout Session carried, page_id= the page
# given to. A receiver answers with the id of the share link the gift came
# through (messaging's attribution), or None; the first id wins.
gift_attribution = signals.signal("gift-attribution")

# sender: the organisation's id. A receiver answers with {delivery state: count}
# of the organisation's messages (messaging's outbox), for the dashboard.
message_counts = signals.signal("message-counts")

# sender: the Cause. A receiver answers with {channel: {"clicks", "gifts",
# "amount_minor"}} of the share links of its pages (messaging's attribution).
share_funnel = signals.signal("share-funnel")

# sender: None. A receiver answers with a table (or subquery) with id and channel
# columns: the share links a ledger row's share_link_id names, for the donations export.
share_link_channels = signals.signal("share-link-channels")

# sender: the demo's Organisation, cause= its Cause; sent by the demo seed before
# any page or gift exists, so that messaging adds its demo templates first.
demo_seeded = signals.signal("demo-seeded")


def first_answer(signal: NamedSignal, sender: Any, **kwargs: Any) -> Any:
    """The first receiver's answer that is not None, or None when nobody answers."""
    for _receiver, answer in signal.send(sender, **kwargs):
        if answer is not None:
            return answer
    return None
