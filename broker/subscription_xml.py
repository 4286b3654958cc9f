"""The subscriptions web service's wire format (GAR_REFERENCE §3): XML, and JSON as a convenience.

Reading turns a body into ``{field name: [values]}`` (the shape :mod:`broker.subscription_rules`
checks), whatever the syntax: XML elements in the ``wsabonnement`` namespace, or a JSON object
with the same field names. XML goes through the hardened parser only (no DTD, no entity, size
limit). Writing produces the same documents the real GAR answers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from broker.models import Establishment, Subscription
from broker.subscription_rules import FIELDS, SubscriptionError
from services.saml.errors import SamlError
from services.saml.xml import parse, text_of

NS = "http://www.atosworldline.com/wsabonnement/v1.0/"
ETAB_NS = "http://www.atosworldline.com/listEtablissement/v1.0/"
MAX_BODY = 64 * 1024
Fields = dict[str, list[str]]
FILTER_NAMES = (
    "idAbonnement",
    "idDistributeurCom",
    "uaiEtab",
    "typeAffectation",
    "categorieAffectation",
    "publicCible",
    "codeProjetRessource",
)
DATE_NAMES = ("dateCreation", "dateModification", "debutValidite", "finValidite")


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _local(element: etree._Element) -> tuple[str | None, str]:
    qname = etree.QName(element)
    return qname.namespace, qname.localname


def _xml_root(body: bytes, expected: str) -> etree._Element:
    try:
        root = parse(body, max_bytes=MAX_BODY)
    except SamlError as error:
        code = "request.xml_forbidden" if error.code == "saml.xml.dtd_forbidden" else (
            "request.too_large" if error.code == "saml.xml.too_large" else "request.xml_invalid"
        )
        status = 413 if code == "request.too_large" else 400
        raise SubscriptionError(code, f"Corps XML refusé ({error.code}).", status) from None
    namespace, name = _local(root)
    if name != expected or namespace != NS:
        raise SubscriptionError(
            "request.xml_invalid",
            f"Élément racine attendu : {expected} dans l'espace de noms {NS}.",
        )
    return root


def _children(root: etree._Element) -> list[tuple[str, etree._Element]]:
    children = []
    for child in root:
        if not isinstance(child.tag, str):
            continue  # comments
        namespace, name = _local(child)
        if namespace != NS:
            raise SubscriptionError(
                "request.xml_invalid", f"Élément hors de l'espace de noms {NS} : {name}."
            )
        children.append((name, child))
    return children


def _from_json(body: bytes) -> Any:
    if len(body) > MAX_BODY:
        raise SubscriptionError("request.too_large", "Corps JSON trop volumineux.", 413)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SubscriptionError("request.json_invalid", "Corps JSON illisible.") from None


def _json_fields(data: Any) -> Fields:
    if not isinstance(data, dict):
        raise SubscriptionError("request.json_invalid", "Un objet JSON est attendu.")
    fields: Fields = {}
    for name, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            raise SubscriptionError(
                "request.json_invalid", f"{name} : une chaîne, un nombre ou une liste est attendu."
            )
        fields[str(name)] = [str(v) for v in values]
    return fields


def read_subscription(body: bytes, content_type: str | None) -> Fields:
    """An ``abonnement`` body as field name -> values."""
    if not body.strip():
        raise SubscriptionError("request.body_missing", "Le corps de la requête est vide.")
    if is_json(content_type):
        data = _from_json(body)
        if isinstance(data, dict) and set(data) == {"abonnement"}:
            data = data["abonnement"]
        return _json_fields(data)
    fields: Fields = {}
    for name, child in _children(_xml_root(body, "abonnement")):
        if len(child):
            raise SubscriptionError("request.xml_invalid", f"{name} ne doit contenir que du texte.")
        fields.setdefault(name, []).append(text_of(child).strip())
    return fields


@dataclass
class Filters:
    """What ``GET /abonnements`` asked for."""

    values: dict[str, list[str]] = field(default_factory=dict)
    date_name: str | None = None
    date_before: str | None = None
    date_after: str | None = None
    sort_by: str | None = None
    descending: bool = False
    include_deleted: bool = False


def _filters_from(items: Sequence[tuple[str, Any]]) -> Filters:
    filters = Filters()
    for name, value in items:
        if name == "filtre":
            pair = dict(value)
            filter_name, filter_value = pair.get("filtreNom"), pair.get("filtreValeur")
            if filter_name not in FILTER_NAMES or filter_value is None:
                raise SubscriptionError(
                    "filter.invalid",
                    f"filtreNom inconnu ou filtreValeur absent : {filter_name!r} "
                    f"(admis : {', '.join(FILTER_NAMES)}).",
                )
            filters.values.setdefault(filter_name, []).append(filter_value)
        elif name == "filtreParDate":
            pair = dict(value)
            if pair.get("dateName") not in DATE_NAMES:
                raise SubscriptionError(
                    "filter.invalid",
                    f"dateName doit être parmi {', '.join(DATE_NAMES)}.",
                )
            filters.date_name = pair["dateName"]
            filters.date_before, filters.date_after = pair.get("dateAvant"), pair.get("dateApres")
        elif name == "triPar":
            if value not in (*FILTER_NAMES, *DATE_NAMES):
                raise SubscriptionError("filter.invalid", f"triPar inconnu : {value!r}.")
            filters.sort_by = value
        elif name == "tri":
            if value not in ("ASC", "DSC"):
                raise SubscriptionError("filter.invalid", "tri doit valoir ASC ou DSC.")
            filters.descending = value == "DSC"
        elif name == "aboSuppr":
            if str(value).lower() not in ("true", "false"):
                raise SubscriptionError("filter.invalid", "aboSuppr doit valoir true ou false.")
            filters.include_deleted = str(value).lower() == "true"
        else:
            raise SubscriptionError("filter.invalid", f"Élément de filtre inconnu : {name}.")
    return filters


def _json_filter_items(data: Any) -> list[tuple[str, Any]]:
    if isinstance(data, dict) and set(data) == {"filtres"}:
        data = data["filtres"]
    if not isinstance(data, dict):
        raise SubscriptionError("request.json_invalid", "Un objet « filtres » est attendu.")
    items: list[tuple[str, Any]] = []
    for name, value in data.items():
        values = value if isinstance(value, list) and name == "filtre" else [value]
        for one in values:
            if isinstance(one, dict):
                one = {str(k): str(v) for k, v in one.items()}.items()
            elif isinstance(one, bool):
                one = "true" if one else "false"
            elif not isinstance(one, str):
                raise SubscriptionError("request.json_invalid", f"Valeur invalide pour {name}.")
            items.append((str(name), one))
    return items


def read_filters(body: bytes, content_type: str | None) -> Filters:
    """The ``filtres`` body of a listing (an empty body filters nothing)."""
    if not body.strip():
        return Filters()
    if is_json(content_type):
        return _filters_from(_json_filter_items(_from_json(body)))
    items: list[tuple[str, Any]] = []
    for name, child in _children(_xml_root(body, "filtres")):
        if name in ("filtre", "filtreParDate"):
            items.append((name, [(n, text_of(c).strip()) for n, c in _children(child)]))
        else:
            items.append((name, text_of(child).strip()))
    return _filters_from(items)


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def _count(value: int | None) -> str | None:
    return None if value is None else str(value)


def subscription_fields(row: Subscription) -> list[tuple[str, str]]:
    """A stored subscription as wire fields, in the documented order."""
    values: dict[str, str | list[str] | None] = {
        "idAbonnement": row.id,
        "commentaireAbonnement": row.comment,
        "idDistributeurCom": row.distributor_id,
        "idRessource": row.resource_id,
        "typeIdRessource": "ark",
        "libelleRessource": row.resource_label,
        "debutValidite": _iso(row.start_at),
        "finValidite": _iso(row.end_at),
        "uaiEtab": row.uai,
        "codeNatureUAI": row.nature_uai if row.uai is None else None,
        "categorieAffectation": row.category,
        "typeAffectation": row.type,
        "nbLicenceGlobale": "ILLIMITE" if row.licences_unlimited else _count(row.licences_global),
        "nbLicenceEleve": _count(row.licences_student),
        "nbLicenceEnseignant": _count(row.licences_teacher),
        "nbLicenceProfDoc": _count(row.licences_librarian),
        "nbLicenceAutrePersonnel": _count(row.licences_other),
        "publicCible": list(row.audience),
        "codeProjetRessource": row.project_code,
    }
    out: list[tuple[str, str]] = []
    for name in FIELDS:
        value = values.get(name)
        for one in value if isinstance(value, list) else [value]:
            if one is not None:
                out.append((name, one))
    return out


def _nsmap(namespace: str) -> Any:
    """A default-namespace map (the GAR's documents use no prefix); lxml-stubs reject ``None``."""
    return {None: namespace}


def _abonnement(parent: etree._Element | None, row: Subscription) -> etree._Element:
    tag = f"{{{NS}}}abonnement"
    if parent is None:
        element = etree.Element(tag, nsmap=_nsmap(NS))
    else:
        element = etree.SubElement(parent, tag)
    for name, value in subscription_fields(row):
        etree.SubElement(element, f"{{{NS}}}{name}").text = value
    return element


def _bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def write_subscription(row: Subscription) -> bytes:
    return _bytes(_abonnement(None, row))


def write_subscriptions(rows: Sequence[Subscription]) -> bytes:
    root = etree.Element(f"{{{NS}}}abonnements", nsmap=_nsmap(NS))
    for row in rows:
        _abonnement(root, row)
    return _bytes(root)


def subscription_json(row: Subscription) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for name, value in subscription_fields(row):
        if name == "publicCible":
            audience = out.setdefault(name, [])
            assert isinstance(audience, list)
            audience.append(value)
        else:
            out[name] = value
    return out


#: Establishment kind -> (nature code, nature label, type code, type label), from the BCE.
NATURES: Mapping[str, tuple[str, str, str, str]] = {
    "ecole": ("151", "ECOLE DE NIVEAU ELEMENTAIRE", "1ORD", "Ecole du premier degre ordinaire"),
    "college": ("340", "COLLEGE", "CLG", "College"),
    "lycee": (
        "300",
        "LYCEE ENSEIGNT GENERAL ET TECHNOLOGIQUE",
        "LYC",
        "Lycee d'enseignement general et/ou technologique",
    ),
}


def write_establishments(rows: Sequence[Establishment]) -> bytes:
    """``listEtablissement``: the establishments connected to the GAR."""
    root = etree.Element(f"{{{ETAB_NS}}}listEtablissement", nsmap=_nsmap(ETAB_NS))
    for row in rows:
        item = etree.SubElement(root, f"{{{ETAB_NS}}}etablissement")
        nature = NATURES.get(row.kind or "")
        values: list[tuple[str, str | None]] = [
            ("uai", row.uai),
            ("nature_uai", nature[0] if nature else None),
            ("nature_uai_libe", nature[1] if nature else None),
            ("type_uai", nature[2] if nature else None),
            ("type_uai_libe", nature[3] if nature else None),
            ("commune_libe", row.city),
            ("academie_libe", row.academy),
            ("departement_insee_3", row.uai[:3]),
            ("appellation_officielle", row.name),
            ("patronyme_uai", row.name),
            ("idENT", base64.b64encode(row.ent_id.encode()).decode() if row.ent_id else None),
        ]
        for name, value in values:
            if value is not None:
                etree.SubElement(item, f"{{{ETAB_NS}}}{name}").text = value
    return _bytes(root)
