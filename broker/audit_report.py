"""The data-flow report: per resource, what was declared, what the policy allows, what went.

Three views of the same resource side by side, so a reviewer needs nothing else:

- declared: the codes the editor declared, each with its purpose (``resource_attributes``);
- allowed: per profile, declared ∩ ``ALLOWED[profile]`` (:mod:`services.attributes`), the
  most the release policy (:mod:`broker.release`) can send;
- released: per profile, how many granted accesses carried each code over the period, read
  from the audit trail's ``released_codes``.

Any code released outside the declaration, or outside what the profile may ever receive, is
flagged (there must be none): that is what a broken or edited policy looks like afterwards.

Two yardsticks for "what the profile may receive", on purpose: ``ALLOWED`` (the policy table
the release itself reads, :data:`NOT_ALLOWED`) and :data:`NEVER`, the red lines DESIGN.md
states, written here a second time and read by nothing else (:data:`NEVER_RELEASED`). Were
``ALLOWED`` edited to let a student's subjects through, the release would follow it and the
first check with it; the second still flags every such release. A code outside the catalogue
(birth date, INE, address, parents) crosses a red line for everyone. The declaration is the
third, independent of both: it is the editor's, stored when the resource was registered.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from broker.audit_scope import Filters, Period, Scope, conditions
from broker.models import AuditRecord, Provider, Resource, ResourceAttribute, Subscription
from services import web
from services.attributes import ALLOWED, CATALOGUE, PROFILES, normalise_profile
from services.settings import Settings

NOT_DECLARED = "not_declared"
NOT_ALLOWED = "not_allowed"
NEVER_RELEASED = "never_released"
REASONS = {
    NOT_DECLARED: "diffusé sans avoir été déclaré par la ressource",
    NOT_ALLOWED: "diffusé alors que la politique l'interdit pour ce profil",
    NEVER_RELEASED: "diffusé alors que ce profil ne doit jamais le recevoir (lignes rouges "
                    "de la conception, hors de la table de politique)",
}

_OTHER_STAFF_NEVER = frozenset({"DIV", "GRO", "P_MS4", "P_MAT"})
#: DESIGN.md's red lines per profile, independent of ``services.attributes.ALLOWED`` (see the
#: module doc): a student's e-mail, levels and subjects, never; a guardian, a pseudonym and
#: the establishment only; other staff, no classes, levels or subjects; a librarian, no levels.
NEVER: Mapping[str, frozenset[str]] = MappingProxyType({
    "National_elv": frozenset({"P_MEL", "P_MS4", "P_MAT"}),
    "National_ens": frozenset(),
    "National_doc": frozenset({"P_MS4"}),
    "National_tut": frozenset({"NOM", "PRE", "CIV", "DIV", "GRO", "P_MS4", "P_MEL", "P_MAT"}),
    **{p: _OTHER_STAFF_NEVER for p in ("National_dir", "National_evs", "National_eta",
                                       "National_col", "National_27", "National_28",
                                       "National_29")},
})
#: A profile the trail names that is none of the known ones: the guardian's minimum.
_UNKNOWN_PROFILE_NEVER = NEVER["National_tut"]


def crosses_red_line(profile: str, code: str) -> bool:
    return code not in CATALOGUE or code in NEVER.get(profile, _UNKNOWN_PROFILE_NEVER)


@dataclass(frozen=True)
class Declared:
    code: str
    label: str
    purpose: str


@dataclass(frozen=True)
class Outside:
    profile: str
    code: str
    count: int
    reason: str  # NOT_DECLARED | NOT_ALLOWED | NEVER_RELEASED


@dataclass
class ResourceFlow:
    resource_id: str
    title: str
    provider_name: str
    provider_entity_id: str
    declared: list[Declared]
    allowed: dict[str, list[str]]  # profile -> codes
    released: dict[str, dict[str, int]] = field(default_factory=dict)  # profile -> code -> n
    accesses: int = 0
    outside: list[Outside] = field(default_factory=list)


@dataclass(frozen=True)
class DataFlows:
    generated_at: datetime
    period: Period
    scope_label: str
    resources: list[ResourceFlow]

    @property
    def flagged(self) -> int:
        return sum(len(r.outside) for r in self.resources)

    def as_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "period": {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()},
            "scope": self.scope_label,
            "flagged": self.flagged,
            "resources": [asdict(r) for r in self.resources],
        }


def _resources_in_scope(session: Session, scope: Scope, filters: Filters) -> list[Resource]:
    query = select(Resource).order_by(Resource.id)
    if scope.kind == "provider":
        query = query.where(Resource.id.in_(sorted(scope.resource_ids)))
    elif scope.kind == "establishments":
        subscribed = select(Subscription.resource_id).where(
            Subscription.uai.in_(sorted(scope.uais)))
        accessed = select(AuditRecord.resource_id).where(*conditions(scope, filters))
        query = query.where(or_(Resource.id.in_(subscribed), Resource.id.in_(accessed),
                                Resource.delivery == "automatic"))
    if filters.resource is not None:
        query = query.where(Resource.id == filters.resource)
    return list(session.scalars(query))


def _profile(value: str | None) -> str:
    try:
        return normalise_profile(value or "")
    except ValueError:
        return value or ""


def data_flows(session: Session, scope: Scope, period: Period, *,
               resource: str | None = None, now: datetime | None = None) -> DataFlows:
    filters = Filters(period, resource=resource)
    conditions(scope, filters)  # refuses a resource outside the scope
    resources = _resources_in_scope(session, scope, filters)
    providers = {p.id: p for p in session.scalars(select(Provider))}
    declarations: dict[str, list[ResourceAttribute]] = defaultdict(list)
    for attribute in session.scalars(
        select(ResourceAttribute).order_by(ResourceAttribute.resource_id, ResourceAttribute.id)
    ):
        declarations[attribute.resource_id].append(attribute)
    flows: list[ResourceFlow] = []
    for res in resources:
        declared = [Declared(a.code, CATALOGUE[a.code].label if a.code in CATALOGUE else a.code,
                             a.purpose) for a in declarations.get(res.id, [])]
        codes = {d.code for d in declared}
        provider = providers.get(res.provider_id)
        flows.append(ResourceFlow(
            resource_id=res.id, title=res.title,
            provider_name=provider.name if provider else res.provider_id,
            provider_entity_id=provider.entity_id if provider else "",
            declared=declared,
            allowed={p: [c for c in CATALOGUE if c in codes and c in ALLOWED[p]]
                     for p in PROFILES},
        ))
    _count_releases(session, scope, filters, {f.resource_id: f for f in flows})
    return DataFlows(now or datetime.now(UTC), period, scope.label, flows)


def _count_releases(session: Session, scope: Scope, filters: Filters,
                    flows: dict[str, ResourceFlow]) -> None:
    if not flows:
        return
    where = conditions(scope, Filters(filters.period, resource=filters.resource,
                                      decision="granted"))
    query = select(AuditRecord.resource_id, AuditRecord.profile, AuditRecord.released_codes) \
        .where(*where, AuditRecord.resource_id.in_(sorted(flows)))
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for resource_id, profile, released in session.execute(query.execution_options(yield_per=1000)):
        if resource_id is None:
            continue
        flow = flows[resource_id]
        flow.accesses += 1
        counts[resource_id][_profile(profile)].update(released or [])
    for resource_id, per_profile in counts.items():
        flow = flows[resource_id]
        declared = {d.code for d in flow.declared}
        for profile, counter in sorted(per_profile.items()):
            flow.released[profile] = {c: counter[c] for c in sorted(counter, key=_catalogue_order)}
            for code in flow.released[profile]:
                if code not in declared:
                    flow.outside.append(Outside(profile, code, counter[code], NOT_DECLARED))
                if crosses_red_line(profile, code):
                    flow.outside.append(Outside(profile, code, counter[code], NEVER_RELEASED))
                elif code not in ALLOWED.get(profile, frozenset()):
                    flow.outside.append(Outside(profile, code, counter[code], NOT_ALLOWED))
        for profile in flow.released:
            flow.allowed.setdefault(profile, [c for c in CATALOGUE if c in declared
                                              and c in ALLOWED.get(profile, frozenset())])


def _catalogue_order(code: str) -> tuple[int, str]:
    order = list(CATALOGUE)
    return (order.index(code), code) if code in CATALOGUE else (len(order), code)


def standalone_html(flows: DataFlows, settings: Settings) -> str:
    """The report as one HTML file: inline CSS, no script, no external asset, to attach."""
    return web.make_environment("broker").get_template("audit_report_file.html").render(
        flows=flows, reasons=REASONS, catalogue=CATALOGUE, broker=settings.broker_base,
        service_name="GAR — gestionnaire d'accès aux ressources (banc d'essai)",
    )
