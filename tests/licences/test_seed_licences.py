"""The seed's assignments give their licences once, however often the seed runs."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from broker.db import session_factory
from broker.models import LicenceAllocation
from broker.seed import seed
from services.dataset import Dataset


def _ledger(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LicenceAllocation)) or 0


def test_seeding_twice_allocates_no_licence_twice(migrated: Engine, academy: Dataset) -> None:
    sessions = session_factory(migrated)
    with sessions() as session:
        seed(session, academy)
        session.commit()
        first = _ledger(session)
    with sessions() as session:
        seed(session, academy)
        session.commit()
        assert _ledger(session) == first > 0
