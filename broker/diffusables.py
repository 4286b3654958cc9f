"""The "ressources diffusables" list: the catalogue an establishment may subscribe to.

XML in namespace ``http://gar.education.fr/schemas/init/0/1/`` (GAR_REFERENCE §2), in the
element order of the real GAR's file::

    listeRessourcesDiffusables
      dateGeneration                      2026-11-23T16:00:00Z
      ressourceDiffusable*
        idRessource, nomRessource, idEditeur, nomEditeur,
        distributeursCom* (distributeurCom, nomDistributeurCom),
        distributeurTech, nomDistributeurTech, affichable, diffusable,
        mereFamille? (true on a family's mother), membreFamille? (a member's mother id)

An ENT reads the whole catalogue; a distributor reads the resources it distributes
(technically, or commercially through one of its subscriptions). ``affichable`` and
``diffusable`` are the resource's own flags; families come from ``broker.resource_families``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import Provider, Resource, Subscription

NAMESPACE = "http://gar.education.fr/schemas/init/0/1/"
XML_TYPE = "application/xml; charset=utf-8"


@dataclass(frozen=True)
class Diffusable:
    id: str
    title: str
    editor_id: str
    editor_name: str
    commercial: tuple[tuple[str, str], ...]  # (distributor id, name)
    technical: tuple[str, str]
    displayable: bool = True
    distributable: bool = True
    mother: bool = False  # mereFamille
    member_of: str | None = None  # membreFamille: the mother's id


def listing(session: Session, *, distributor_id: str | None = None) -> list[Diffusable]:
    """The catalogue by resource id; only what ``distributor_id`` distributes when given."""
    names = {d: n for d, n in session.execute(select(Provider.distributor_id, Provider.name))
             if d is not None}
    commercial: dict[str, dict[str, None]] = defaultdict(dict)
    for resource_id, distributor in session.execute(
        select(Subscription.resource_id, Subscription.distributor_id)
        .where(Subscription.deleted.is_(False))
        .order_by(Subscription.distributor_id)
    ):
        commercial[resource_id][distributor] = None
    mothers = set(session.scalars(
        select(Resource.family_id).where(Resource.family_id.is_not(None)).distinct()))
    found: list[Diffusable] = []
    for resource, provider in session.execute(
        select(Resource, Provider).join(Provider, Provider.id == Resource.provider_id)
        .order_by(Resource.id)
    ):
        technical = provider.distributor_id or resource.editor_id
        sellers = list(commercial.get(resource.id, {})) or [technical]
        if distributor_id is not None and distributor_id not in {technical, *sellers}:
            continue
        found.append(Diffusable(
            id=resource.id,
            title=resource.title,
            editor_id=resource.editor_id,
            editor_name=resource.editor_name,
            commercial=tuple((d, names.get(d, resource.editor_name)) for d in sellers),
            technical=(technical, provider.name),
            displayable=resource.displayable,
            distributable=resource.distributable,
            mother=resource.id in mothers,
            member_of=resource.family_id,
        ))
    return found


def to_xml(items: list[Diffusable], *, generated_at: datetime) -> bytes:
    """The XML document, UTF-8 with its declaration, as the real GAR publishes it."""

    def child(parent: etree._Element, name: str, text: str) -> None:
        etree.SubElement(parent, f"{{{NAMESPACE}}}{name}").text = _xml_text(text)

    root = etree.Element(f"{{{NAMESPACE}}}listeRessourcesDiffusables", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    child(root, "dateGeneration", generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for item in items:
        entry = etree.SubElement(root, f"{{{NAMESPACE}}}ressourceDiffusable")
        child(entry, "idRessource", item.id)
        child(entry, "nomRessource", item.title)
        child(entry, "idEditeur", item.editor_id)
        child(entry, "nomEditeur", item.editor_name)
        for distributor, name in item.commercial:
            seller = etree.SubElement(entry, f"{{{NAMESPACE}}}distributeursCom")
            child(seller, "distributeurCom", distributor)
            child(seller, "nomDistributeurCom", name)
        child(entry, "distributeurTech", item.technical[0])
        child(entry, "nomDistributeurTech", item.technical[1])
        child(entry, "affichable", "true" if item.displayable else "false")
        child(entry, "diffusable", "true" if item.distributable else "false")
        if item.mother:
            child(entry, "mereFamille", "true")
        if item.member_of is not None:
            child(entry, "membreFamille", item.member_of)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                standalone=False, pretty_print=True))


def _xml_text(text: str) -> str:
    """The text without the characters XML 1.0 cannot carry (a catalogue title is an editor's)."""
    return "".join(ch for ch in text
                   if ch in "\t\n\r" or ("\x20" <= ch <= "\ud7ff")
                   or ("\ue000" <= ch <= "\ufffd") or ch >= "\U00010000")
