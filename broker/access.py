"""The access decision: may this person open this resource, and on which basis?

A person may open a resource in an establishment when the resource is delivered
automatically there (free institutional resources: every user of an establishment), or when
a subscription for that resource and establishment is valid today, the person's profile is in
its audience, and either it covers the whole establishment (``ETABL``) or the person holds an
assignment — directly, through a division or a group (students), or the whole profile. A
member of a resource family is opened by a subscription to its mother as well as by its own
(``broker.resource_families``).

Without ``uai`` every establishment of the person is considered and the grant lists all where
access holds (with the profile of the first of them; establishments where the person has a
different profile are left out so one release never mixes two profiles). When nothing holds,
the refusal is the most specific one found: a person who got furthest (an audience match
without an assignment) learns the most useful thing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from broker.domain import Grant, PersonView, Refusal
from broker.licences import held_subscriptions
from broker.models import Assignment, Provider, Resource, Subscription, table
from broker.resource_families import subscribed_ids
from services.attributes import audience_of, normalise_profile

#: Stable refusal codes with the French reason and what to do, for the refusal page.
MESSAGES: dict[str, tuple[str, str]] = {
    "access.unknown_person": (
        "La personne authentifiée est inconnue de l'annuaire du GAR.",
        "Vérifiez que l'ENT a bien transmis cette personne dans son flux d'annuaire, "
        "puis réessayez.",
    ),
    "access.unknown_resource": (
        "Cette ressource n'est pas référencée dans le catalogue du GAR.",
        "Vérifiez le lien utilisé ou demandez à l'éditeur de faire référencer la ressource.",
    ),
    "access.not_in_establishment": (
        "Vous n'êtes rattaché à aucun établissement pour lequel cet accès est demandé.",
        "Vérifiez l'établissement choisi dans le médiacentre, ou demandez à l'ENT de mettre "
        "à jour votre rattachement.",
    ),
    "access.no_subscription": (
        "Votre établissement n'a pas d'abonnement à cette ressource.",
        "Demandez au responsable d'affectation de votre établissement de souscrire un "
        "abonnement auprès du distributeur.",
    ),
    "access.subscription_expired": (
        "L'abonnement de votre établissement à cette ressource n'est pas valide aujourd'hui "
        "(échu ou pas encore commencé).",
        "Demandez au responsable d'affectation de renouveler l'abonnement ou d'en vérifier "
        "les dates.",
    ),
    "access.profile_not_in_audience": (
        "Cette ressource n'est pas destinée à votre profil dans cet établissement.",
        "Si vous pensez en avoir besoin, adressez-vous au responsable d'affectation de votre "
        "établissement.",
    ),
    "access.no_assignment": (
        "Aucune licence de cette ressource ne vous a été attribuée.",
        "Demandez au responsable d'affectation de votre établissement de vous attribuer une "
        "licence (à vous, à votre classe ou à votre groupe).",
    ),
}

# From least to most specific: the refusal of the furthest-reaching check wins.
_SPECIFICITY = (
    "access.not_in_establishment",
    "access.no_subscription",
    "access.subscription_expired",
    "access.profile_not_in_audience",
    "access.no_assignment",
)


def refusal(code: str, *, resource_id: str | None = None, uai: str | None = None) -> Refusal:
    """A refusal with the standard French wording of ``code``."""
    reason, action = MESSAGES[code]
    return Refusal(code=code, reason=reason, action=action, resource_id=resource_id, uai=uai)


# Built once: every login runs them, and building a statement (and its cache key) cost more
# than running it.
_RESOURCE = (
    select(Resource, Provider.entity_id)
    .join(Provider, Provider.id == Resource.provider_id)
    .where(Resource.id == bindparam("resource_id"))
)
_SUBSCRIPTIONS = (
    select(Subscription)
    .where(Subscription.resource_id.in_(bindparam("resource_ids", expanding=True)),
           Subscription.uai == bindparam("uai"), Subscription.deleted.is_(False))
    .order_by(Subscription.id)
)


@dataclass(frozen=True)
class _Held:
    uai: str
    profile: str
    basis: str
    subscription_ids: tuple[str, ...]
    assignment_ids: tuple[int, ...]


def decide(
    session: Session, person: PersonView, resource_id: str, *, uai: str | None = None, today: date
) -> Grant | Refusal:
    found = session.execute(_RESOURCE, {"resource_id": resource_id}).first()
    if found is None:
        return refusal("access.unknown_resource", resource_id=resource_id, uai=uai)
    resource, provider_entity_id = found
    if uai is not None:
        if uai not in person.profiles:
            return refusal("access.not_in_establishment", resource_id=resource_id, uai=uai)
        scope: tuple[str, ...] = (uai,)
    else:
        scope = person.establishments
    if not scope:
        return refusal("access.not_in_establishment", resource_id=resource_id)

    held: list[_Held] = []
    refused: list[tuple[str, str]] = []  # (code, uai)
    for where in scope:
        outcome = _decide_in(session, person, resource, where, today)
        if isinstance(outcome, _Held):
            held.append(outcome)
        else:
            refused.append((outcome, where))
    if held:
        profile = held[0].profile
        same = [h for h in held if h.profile == profile]
        bases = {h.basis for h in same}
        basis = next(b for b in ("INDIV", "ETABL", "automatic") if b in bases)
        return Grant(
            resource_id=resource.id,
            provider_entity_id=provider_entity_id,
            uais=tuple(h.uai for h in same),
            profile=profile,
            subscription_ids=tuple(dict.fromkeys(s for h in same for s in h.subscription_ids)),
            assignment_ids=tuple(dict.fromkeys(a for h in same for a in h.assignment_ids)),
            basis=basis,
        )
    code, where = max(refused, key=lambda item: _SPECIFICITY.index(item[0]))
    return refusal(code, resource_id=resource_id, uai=where)


def _decide_in(
    session: Session, person: PersonView, resource: Resource, uai: str, today: date
) -> _Held | str:
    """The access in one establishment, or the refusal code there."""
    profile = normalise_profile(person.profiles[uai])
    if resource.delivery == "automatic":
        return _Held(uai, profile, "automatic", (), ())
    subscriptions = session.scalars(
        _SUBSCRIPTIONS, {"resource_ids": subscribed_ids(resource), "uai": uai}
    ).all()
    if not subscriptions:
        return "access.no_subscription"
    valid = [s for s in subscriptions if s.start_at.date() <= today <= s.end_at.date()]
    if not valid:
        return "access.subscription_expired"
    audience = audience_of(profile)
    eligible = [s for s in valid if audience in (s.audience or ())]
    if not eligible:
        return "access.profile_not_in_audience"
    whole = [s for s in eligible if s.type == "ETABL"]
    if whole:
        return _Held(uai, profile, "ETABL", tuple(s.id for s in whole), ())
    assignments = _assignments_of(session, person, uai,
                                  [s.id for s in eligible if s.type == "INDIV"])
    if not assignments:
        return "access.no_assignment"
    return _Held(uai, profile, "INDIV",
                 tuple(dict.fromkeys(a.subscription_id for a in assignments)),
                 tuple(a.id for a in assignments))


def _assignments_of(
    session: Session, person: PersonView, uai: str, subscription_ids: list[str]
) -> list[Assignment]:
    """Assignments of these subscriptions that reach the person in establishment ``uai``.

    The person must also hold a licence of the subscription (``broker.licences``): coverage is
    fixed when the assignment is made, so a student who joined the class later is refused until
    an officer tops it up, and access always agrees with the counts.
    """
    if not subscription_ids:
        return []
    found = session.scalars(
        _REACHING_ASSIGNMENTS, {"subscription_ids": subscription_ids, **reaching(person, uai)}
    ).all()
    held = held_subscriptions(session, person.pk, {a.subscription_id for a in found})
    return [a for a in found if a.subscription_id in held]


def reaching(person: PersonView, uai: str) -> dict[str, Any]:
    """The parameters of :data:`REACHES` for the person in establishment ``uai``."""
    profile = normalise_profile(person.profiles[uai])
    student = profile == "National_elv"
    return {
        "reached_person": person.person_id,
        "reached_profile": profile.lower(),
        "reached_divisions": [code for code, _ in person.divisions.get(uai, ())] if student else [],
        "reached_groups": [code for code, _ in person.groups.get(uai, ())] if student else [],
    }


#: SQL condition: an assignment that gives the person a licence in an establishment, with the
#: parameters :func:`reaching` gives. Directly, through the whole profile (in any case and
#: spacing), or — students only — through their division or group: a division or group
#: assignment gives licences to the students of that class or group; the teachers linked to it
#: are reached by an individual or a profile assignment, as the per-audience licence counts of
#: a subscription expect. Filtered in SQL (a subscription may carry an assignment per pupil of
#: the establishment), and shared by the access decision and the mediacentre list, so they
#: cannot disagree.
_ASSIGNMENTS = table(Assignment).c  # REACHES on the table: the mediacentre list's Core statement
REACHES = or_(
    and_(_ASSIGNMENTS.target_kind == "person",
         _ASSIGNMENTS.target_value == bindparam("reached_person")),
    and_(_ASSIGNMENTS.target_kind == "profile",
         func.lower(func.trim(_ASSIGNMENTS.target_value)) == bindparam("reached_profile")),
    and_(_ASSIGNMENTS.target_kind == "division",
         _ASSIGNMENTS.target_value.in_(bindparam("reached_divisions", expanding=True))),
    and_(_ASSIGNMENTS.target_kind == "group",
         _ASSIGNMENTS.target_value.in_(bindparam("reached_groups", expanding=True))),
)
_REACHING_ASSIGNMENTS = (
    select(Assignment)
    .where(Assignment.subscription_id.in_(bindparam("subscription_ids", expanding=True)),
           REACHES)
    .order_by(Assignment.id)
)
