"""Subscriptions for every establishment of a kind (``codeNatureUAI``), establishment side.

Each establishment of the nature gets a share: the access decision, the licence ledger, the
console and the mediacentre list see it as that establishment's own subscription.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker import console_data, subscription_natures
from broker.access import decide
from broker.assignments import assign
from broker.directory import load_person
from broker.domain import Grant, Refusal
from broker.licences import LicenceError, available
from broker.mediacentre_list import openable
from broker.models import Establishment, Subscription
from services.dataset import COLLEGE_UAI, ECOLE_UAI, LYCEE_UAI, Dataset, make_uai
from tests.licences.builders import MATHS_ARK, NOW, add_person, add_subscription, pk_of

NEW_LYCEE = make_uai(359977)


def _by_nature(session: Session, nature: str, sub_id: str = "ABO-NAT", **values: Any
               ) -> Subscription:
    """A codeNatureUAI subscription as the web service stores it, with its shares."""
    fields: dict[str, Any] = {"uai": None, "nature_uai": nature, "type": "ETABL",
                              "licences_unlimited": True,
                              "audience": ["ELEVE", "ENSEIGNANT"]}
    fields.update(values)
    parent = add_subscription(session, sub_id, **fields)
    subscription_natures.create_shares(session, parent, NOW)
    return parent


def _share_ids(session: Session, parent_id: str) -> dict[str, str]:
    return {s.uai or "": s.id for s in subscription_natures.shares(session, parent_id)}


def _new_lycee_student(session: Session) -> int:
    session.add(Establishment(uai=NEW_LYCEE, name="Lycée rejoint", kind="lycee"))
    session.flush()
    return add_person(session, "elv-nouveau-lycee", NEW_LYCEE, "National_elv")


def test_each_establishment_of_the_nature_gets_a_share_and_no_other(session: Session) -> None:
    _by_nature(session, "300")
    assert set(_share_ids(session, "ABO-NAT")) == {LYCEE_UAI}


def test_a_whole_establishment_subscription_by_nature_opens_the_resource_in_that_kind_only(
    session: Session, academy: Dataset
) -> None:
    _by_nature(session, "300")
    in_lycee = session.scalar(select(Subscription.id).where(Subscription.uai == LYCEE_UAI,
                                                            Subscription.parent_id == "ABO-NAT"))
    lycee_student = load_person(session, add_person(session, "elv-lycee-x", LYCEE_UAI,
                                                    "National_elv"))
    grant = decide(session, lycee_student, MATHS_ARK, today=NOW.date())
    assert isinstance(grant, Grant) and grant.subscription_ids == (in_lycee,)
    ecole_student = load_person(session, add_person(session, "elv-ecole-x", ECOLE_UAI,
                                                    "National_elv"))
    refused = decide(session, ecole_student, MATHS_ARK, today=NOW.date())
    assert isinstance(refused, Refusal) and refused.code == "access.no_subscription"


def test_an_establishment_that_joins_the_nature_later_gets_its_share_and_the_access(
    session: Session,
) -> None:
    _by_nature(session, "300")
    student = load_person(session, _new_lycee_student(session))
    refused = decide(session, student, MATHS_ARK, today=NOW.date())
    assert isinstance(refused, Refusal) and refused.code == "access.no_subscription"
    assert subscription_natures.sync(session, NOW, [NEW_LYCEE]) == (1, 0)
    assert NEW_LYCEE in _share_ids(session, "ABO-NAT")
    assert isinstance(decide(session, student, MATHS_ARK, today=NOW.date()), Grant)
    assert MATHS_ARK in {r.id for r in openable(session, student, NEW_LYCEE, today=NOW.date())}


def test_an_establishment_that_leaves_the_nature_loses_its_share(session: Session) -> None:
    _by_nature(session, "300")
    student = load_person(session, _new_lycee_student(session))
    subscription_natures.sync(session, NOW, [NEW_LYCEE])
    establishment = session.get(Establishment, NEW_LYCEE)
    assert establishment is not None
    establishment.kind = "college"
    assert subscription_natures.sync(session, NOW, [NEW_LYCEE]) == (0, 1)
    assert NEW_LYCEE not in _share_ids(session, "ABO-NAT")
    refused = decide(session, student, MATHS_ARK, today=NOW.date())
    assert isinstance(refused, Refusal) and refused.code == "access.no_subscription"


def test_syncing_twice_changes_nothing(session: Session) -> None:
    _by_nature(session, "340")
    assert subscription_natures.sync(session, NOW) == (0, 0)


def test_licences_of_a_subscription_by_nature_are_counted_per_establishment(
    session: Session, academy: Dataset
) -> None:
    session.add(Establishment(uai=make_uai(359978), name="Autre collège", kind="college"))
    session.flush()
    _by_nature(session, "340", type="INDIV", licences_unlimited=False, licences_global=40,
               audience=["ELEVE"])
    shares = _share_ids(session, "ABO-NAT")
    assert set(shares) == {COLLEGE_UAI, make_uai(359978)}
    assign(session, subscription_id=shares[COLLEGE_UAI], target_kind="division",
           target_value="4A", uai=COLLEGE_UAI,
           actor_pk=pk_of(session, academy, "chef.etablissement"), now=NOW)
    left_in_college = available(session, shares[COLLEGE_UAI])["ELEVE"]
    assert left_in_college is not None and left_in_college < 40
    assert available(session, shares[make_uai(359978)])["ELEVE"] == 40


def test_the_subscription_by_nature_itself_cannot_be_assigned(
    session: Session, academy: Dataset
) -> None:
    _by_nature(session, "340", type="INDIV", licences_unlimited=False, licences_global=40,
               audience=["ELEVE"])
    with pytest.raises(LicenceError) as refused:
        assign(session, subscription_id="ABO-NAT", target_kind="division", target_value="4A",
               uai=COLLEGE_UAI, actor_pk=pk_of(session, academy, "chef.etablissement"), now=NOW)
    assert refused.value.code == "licence.wrong_establishment"


def test_the_console_lists_the_establishments_share(session: Session) -> None:
    _by_nature(session, "340", type="INDIV", licences_unlimited=False, licences_global=40,
               audience=["ELEVE"])
    listed = {view.id for view in console_data.subscriptions(session, COLLEGE_UAI)}
    assert _share_ids(session, "ABO-NAT")[COLLEGE_UAI] in listed and "ABO-NAT" not in listed
