"""Signals campaigns sends; messaging (receipts, notifications) listens.

Receivers run inside the sender's transaction: they may only add rows (an
outbox or mail row), never send anything themselves.
"""

from blinker import Namespace

signals = Namespace()

# sender: the Donation (a gift or a confirmed offline gift), flushed, with its id.
gift_recorded = signals.signal("gift-recorded")

# sender: the Donation that just got its receipt number (from the receipts job).
receipt_issued = signals.signal("receipt-issued")

# sender: the CohostInvite just added (flushed); subject= and text= the
# invitation mail to queue for invite.email, organisation_id= the page's.
cohost_invited = signals.signal("cohost-invited")

# sender: the Page just made public (possibly not flushed yet: a new page has no id).
page_published = signals.signal("page-published")

# sender: None; code= the share code a Checkout Session carried, page_id= the page
# given to. A receiver answers with the id of the share link the gift came
# through (messaging's attribution), or None; the first id wins.
gift_attribution = signals.signal("gift-attribution")

# sender: the demo's Organisation, cause= its Cause; sent by the demo seed before
# any page or gift exists, so that messaging adds its demo templates first.
demo_seeded = signals.signal("demo-seeded")
