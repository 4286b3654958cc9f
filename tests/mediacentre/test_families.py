"""Resource families (a mother and its members) and the affichable / diffusable flags."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy.orm import Session

import broker
from broker import diffusables
from broker.access import decide
from broker.domain import Grant, Refusal
from broker.mediacentre_list import openable
from broker.models import Resource
from broker.resource_families import FamilyError, set_family, set_flags
from services.dataset import COLLEGE_UAI, Dataset
from tests.domain.conftest import TODAY, person_view

NS = "http://gar.education.fr/schemas/init/0/1/"
SCHEMA = Path(broker.__file__).parent / "ressources_diffusables.xsd"
DICTIONARY = "ark:/99999/r10002"  # ETABL subscriptions in the collège and the lycée
EXERCISES = "ark:/99999/r10005"  # teachers only, collège
MEMBER = "ark:/99999/r19001"


def _add_member(session: Session, mother: str = DICTIONARY, **flags: bool) -> Resource:
    """A new resource, member of ``mother``'s family, with no subscription of its own."""
    template = session.get(Resource, mother)
    assert template is not None
    member = Resource(id=MEMBER, provider_id=template.provider_id, title="Conjugueur (famille)",
                      editor_id=template.editor_id, editor_name=template.editor_name,
                      access_url=f"{template.access_url}-conjugueur", protocol="saml",
                      delivery="assigned", **flags)
    session.add(member)
    session.flush()
    set_family(session, MEMBER, mother)
    return member


def test_a_subscription_to_the_mother_opens_a_member(session: Session, academy: Dataset) -> None:
    _add_member(session)
    grant = decide(session, person_view(session, "eleve.assigne", academy), MEMBER, today=TODAY)
    assert isinstance(grant, Grant) and grant.basis == "ETABL"


def test_a_member_is_refused_where_the_mother_is_not_subscribed(
    session: Session, academy: Dataset
) -> None:
    _add_member(session, EXERCISES)
    refused = decide(session, person_view(session, "eleve.assigne", academy), MEMBER,
                     today=TODAY)
    assert isinstance(refused, Refusal) and refused.code == "access.profile_not_in_audience"


def test_the_mediacentre_list_carries_the_members_of_a_granted_mother(
    session: Session, academy: Dataset
) -> None:
    _add_member(session)
    person = person_view(session, "eleve.assigne", academy)
    listed = {r.id for r in openable(session, person, COLLEGE_UAI, today=TODAY)}
    assert {DICTIONARY, MEMBER} <= listed


def test_a_non_affichable_resource_opens_but_is_not_listed(
    session: Session, academy: Dataset
) -> None:
    _add_member(session, displayable=False)
    person = person_view(session, "eleve.assigne", academy)
    assert MEMBER not in {r.id for r in openable(session, person, COLLEGE_UAI, today=TODAY)}
    assert isinstance(decide(session, person, MEMBER, today=TODAY), Grant)


def test_the_diffusables_list_carries_the_family_and_the_flags_and_stays_valid(
    session: Session,
) -> None:
    _add_member(session, distributable=False)
    xml = diffusables.to_xml(diffusables.listing(session), generated_at=datetime.now(UTC))
    root = etree.fromstring(xml)
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert schema.validate(root), schema.error_log

    def entry(resource_id: str) -> dict[str, str]:
        item = root.xpath("g:ressourceDiffusable[g:idRessource = $id]", namespaces={"g": NS},
                          id=resource_id)[0]
        return {etree.QName(e).localname: str(e.text) for e in item if e.text is not None}

    assert entry(DICTIONARY)["mereFamille"] == "true"
    member = entry(MEMBER)
    assert (member["membreFamille"], member["diffusable"], member["affichable"]) == (
        DICTIONARY, "false", "true")
    assert "mereFamille" not in entry(EXERCISES) and "membreFamille" not in entry(EXERCISES)


def test_a_family_has_one_level_only(session: Session) -> None:
    _add_member(session)
    with pytest.raises(FamilyError) as under_member:
        set_family(session, EXERCISES, MEMBER)
    with pytest.raises(FamilyError) as mother_joins:
        set_family(session, DICTIONARY, EXERCISES)
    assert under_member.value.code == mother_joins.value.code == "family.nested"


def test_a_resource_cannot_be_its_own_mother(session: Session) -> None:
    with pytest.raises(FamilyError) as refused:
        set_family(session, DICTIONARY, DICTIONARY)
    assert refused.value.code == "family.self"


def test_flags_of_an_unknown_resource_are_refused(session: Session) -> None:
    with pytest.raises(FamilyError) as refused:
        set_flags(session, "ark:/99999/absent", displayable=False)
    assert refused.value.code == "family.unknown_resource"

