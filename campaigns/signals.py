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

# sender: the Page just made public (possibly not flushed yet: a new page has no id).
page_published = signals.signal("page-published")
