"""Resource families and the ``affichable`` / ``diffusable`` flags (GAR_REFERENCE §2, §6).

A family is a mother resource and its members (``Resource.family_id`` names a member's
mother). One level only: a mother is no member, a member has no members. Subscribing to the
mother gives access to every member (the member's own subscriptions count too), so the access
decision and the mediacentre list look a resource's subscriptions up under
:func:`subscribed_ids`. ``displayable`` (``affichable``) decides whether the mediacentre lists
a resource at all (a member reached from its mother's pages need not be listed);
``distributable`` (``diffusable``) whether a distributor may subscribe an establishment to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import Resource


class FamilyError(ValueError):
    """A refused family or flag change, with a stable ``code`` and a French ``detail``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def subscribed_ids(resource: Resource) -> tuple[str, ...]:
    """The resource ids whose subscriptions open ``resource``: its own, then its mother's."""
    return (resource.id,) if resource.family_id is None else (resource.id, resource.family_id)


def members(session: Session, mother_ids: Iterable[str]) -> dict[str, list[str]]:
    """mother id -> its members' ids (sorted), for the given mothers that have any."""
    ids = sorted(set(mother_ids))
    found: dict[str, list[str]] = {}
    if not ids:
        return found
    for member, mother in session.execute(
        select(Resource.id, Resource.family_id)
        .where(Resource.family_id.in_(ids)).order_by(Resource.id)
    ):
        assert mother is not None
        found.setdefault(mother, []).append(member)
    return found


def set_family(session: Session, resource_id: str, mother_id: str | None) -> Resource:
    """Make ``resource_id`` a member of ``mother_id`` (None: of no family)."""
    resource = _get(session, resource_id)
    if mother_id is None:
        resource.family_id = None
        session.flush()
        return resource
    mother = _get(session, mother_id)
    if mother.id == resource.id:
        raise FamilyError("family.self", "Une ressource ne peut pas être sa propre mère.")
    if mother.family_id is not None:
        raise FamilyError(
            "family.nested",
            f"{mother.id} est déjà membre de la famille de {mother.family_id} : une famille "
            "n'a qu'un niveau.",
        )
    if members(session, [resource.id]):
        raise FamilyError(
            "family.nested",
            f"{resource.id} est la mère d'une famille : elle ne peut pas en devenir membre.",
        )
    resource.family_id = mother.id
    session.flush()
    return resource


def set_flags(session: Session, resource_id: str, *, displayable: bool | None = None,
              distributable: bool | None = None) -> Resource:
    """Set ``affichable`` / ``diffusable``; None leaves a flag as it is."""
    resource = _get(session, resource_id)
    if displayable is not None:
        resource.displayable = displayable
    if distributable is not None:
        resource.distributable = distributable
    session.flush()
    return resource


def _get(session: Session, resource_id: str) -> Resource:
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise FamilyError("family.unknown_resource", f"Ressource inconnue : {resource_id}.")
    return resource
