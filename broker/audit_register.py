"""A processing-register extract (RGPD article 30 style), from the same data as the report.

One entry per recipient (provider): the purposes its resources declared, the categories of
data those codes fall in, whose data (the profiles its declarations can reach), and how long
what is kept is kept. The broker keeps no released value at all: only the audit trail (codes
and a digest) for ``audit_retention_days``; that processing gets its own entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from broker.audit_report import DataFlows
from services.attributes import CATALOGUE, PROFILES

#: Data categories of the catalogue's codes, as a register names them.
CATEGORIES: dict[str, str] = {
    "IDO": "Identifiants pseudonymes", "IDC": "Identifiants pseudonymes",
    "NOM": "Identité", "PRE": "Identité", "CIV": "Identité",
    "UAI": "Scolarité et affectation", "PRO": "Scolarité et affectation",
    "DIV": "Scolarité et affectation", "GRO": "Scolarité et affectation",
    "P_MS4": "Vie professionnelle (enseignants)", "P_MAT": "Vie professionnelle (enseignants)",
    "P_MEL": "Coordonnées professionnelles",
}
SUBJECTS = {"National_elv": "élèves", "National_ens": "enseignants",
            "National_doc": "professeurs documentalistes"}
LEGAL_BASIS = ("Exécution d'une mission d'intérêt public (art. 6-1-e RGPD) : fourniture de "
               "ressources numériques pour l'école")


@dataclass(frozen=True)
class RegisterEntry:
    processing: str
    recipient: str
    recipient_entity_id: str
    purposes: list[str]
    categories: list[str]
    data_subjects: list[str]
    resources: list[str]
    legal_basis: str
    retention: str


def register(flows: DataFlows, *, retention_days: int) -> list[RegisterEntry]:
    by_provider: dict[str, list[Any]] = {}
    for flow in flows.resources:
        by_provider.setdefault(flow.provider_entity_id, []).append(flow)
    entries = []
    for entity_id, resource_flows in sorted(by_provider.items()):
        codes = {d.code for f in resource_flows for d in f.declared}
        purposes = sorted({f"{d.code} : {d.purpose}" for f in resource_flows for d in f.declared})
        subjects = [SUBJECTS[p] for p in PROFILES
                    if any(f.allowed.get(p) for f in resource_flows)]
        entries.append(RegisterEntry(
            processing="Transmission d'attributs minimisés à un fournisseur de ressources",
            recipient=resource_flows[0].provider_name,
            recipient_entity_id=entity_id,
            purposes=purposes,
            categories=sorted({CATEGORIES.get(c, c) for c in codes}),
            data_subjects=subjects,
            resources=[f"{f.title} ({f.resource_id})" for f in resource_flows],
            legal_basis=LEGAL_BASIS,
            retention=("Aucune conservation par le GAR des valeurs transmises ; conservation "
                       "chez le destinataire selon ses propres engagements."),
        ))
    entries.append(RegisterEntry(
        processing="Journal d'audit des décisions d'accès",
        recipient="GAR (auditeurs, responsables d'affectation pour leur établissement, "
                  "fournisseurs pour leurs ressources)",
        recipient_entity_id="",
        purposes=["Traçabilité et contrôle des accès et des diffusions d'attributs"],
        categories=["Référence interne de la personne", "Codes d'attributs diffusés",
                    "Empreinte SHA-256 des valeurs (jamais les valeurs)"],
        data_subjects=sorted(SUBJECTS.values()),
        resources=[],
        legal_basis="Obligation de sécurité du traitement (art. 32 RGPD)",
        retention=f"{retention_days} jours, puis purge avec point de contrôle signé",
    ))
    return entries


def as_json(entries: list[RegisterEntry]) -> list[dict[str, Any]]:
    return [asdict(e) for e in entries]


def categories_of(codes: list[str]) -> list[str]:
    return sorted({CATEGORIES.get(c, c) for c in codes if c in CATALOGUE})
