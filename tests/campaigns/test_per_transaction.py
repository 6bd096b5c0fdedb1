"""Settings a gift's listeners each ask for are read once per transaction, and
never kept past a change: a write of the model (flushed or not), a rollback or
the commit forgets them."""

from __future__ import annotations

from campaigns.badges import services as badges
from campaigns.badges.models import BadgeSetting
from tests.conftest import count_queries
from tests.factories import OrganisationFactory


def test_read_once_then_a_change_in_the_same_transaction_is_seen(db):
    org = OrganisationFactory()
    db.session.flush()
    with count_queries(db, containing="FROM badge_settings", expunge=False) as seen:
        assert badges.turned_off([org.id]) == {org.id: set()}
        assert badges.turned_off([org.id]) == {org.id: set()}
    assert len(seen) == 1

    db.session.add(BadgeSetting(organisation_id=org.id, code="top_10", is_enabled=False))
    assert badges.turned_off([org.id]) == {org.id: {"top_10"}}  # not flushed yet: read anew
    setting = db.session.get(BadgeSetting, (org.id, "top_10"))
    setting.is_enabled = True
    db.session.flush()
    assert badges.turned_off([org.id]) == {org.id: set()}

    kept = badges.turned_off([org.id])
    kept[org.id].add("changed by a caller")  # callers get their own copy
    assert badges.turned_off([org.id]) == {org.id: set()}


def test_a_rollback_and_the_commit_forget_what_was_read(db):
    org = OrganisationFactory()
    db.session.add(BadgeSetting(organisation_id=org.id, code="top_10", is_enabled=False))
    db.session.commit()
    savepoint = db.session.begin_nested()
    assert badges.turned_off([org.id]) == {org.id: {"top_10"}}
    db.session.delete(db.session.get(BadgeSetting, (org.id, "top_10")))
    assert badges.turned_off([org.id]) == {org.id: set()}
    savepoint.rollback()
    assert badges.turned_off([org.id]) == {org.id: {"top_10"}}
    db.session.commit()
    with count_queries(db, containing="FROM badge_settings", expunge=False) as seen:
        badges.turned_off([org.id])
    assert len(seen) == 1
