"""ENT side: is a Response from an ENT's identity provider what the broker will accept?

Checked on a captured Response, against the ENT's metadata: the signature (with the metadata's
certificates only), its algorithm (RSA-SHA1 is flagged: the broker accepts it only from a
peer explicitly allowed), the NameID format, the attributes of either upstream shape (ENT:
``idEnt`` and ``GARPersonIdentifiant``; ÉduConnect: ``FrEduCtRefId``), profile codes and UAI
check letters where present, and the clock (IssueInstant against now, with the skew).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

from cryptography import x509
from lxml import etree

from services.attributes import normalise_profile
from services.conformance.checks import Check
from services.saml.build import parse_instant
from services.saml.constants import ALG_RSA_SHA1, NAMEID_PERSISTENT, NAMEID_TRANSIENT, NS
from services.saml.errors import SamlError
from services.saml.signing import verify
from services.saml.xml import parse, text_of
from services.uai import is_valid_uai

_SAML = NS["saml"]
_DS = NS["ds"]
PROFILE_ATTRIBUTES = ("PRO", "profil", "FrEduCtProfil", "GARPersonProfil")
UAI_ATTRIBUTES = ("UAI", "FrEduCtUai", "GARStructureUAI")


def decode(raw: bytes) -> bytes:
    """A captured Response as XML or as the base64 value of the SAMLResponse field."""
    stripped = raw.strip()
    if stripped.startswith(b"<"):
        return stripped
    try:
        return base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        return stripped


def response(raw: bytes, certificates: tuple[x509.Certificate, ...], *,
             now: datetime | None = None, skew: timedelta = timedelta(minutes=2),
             acs_url: str | None = None) -> list[Check]:
    now = now or datetime.now(UTC)
    try:
        root = parse(decode(raw), max_bytes=1 << 20)
    except SamlError as exc:
        return [Check("response.readable", "Réponse SAML lisible", "error",
                      f"{exc.code} : {exc.detail[:200]}",
                      "Fournissez la réponse capturée (XML ou valeur base64 de SAMLResponse).")]
    found = [Check("response.readable", "Réponse SAML lisible", "ok", root.get("ID") or "?")]
    assertions = list(root.iter(f"{{{_SAML}}}Assertion"))
    if len(assertions) != 1:
        return [*found, Check("response.assertion", "Une seule assertion", "error",
                              f"{len(assertions)} assertion(s)",
                              "Envoyez exactement une assertion (non chiffrée).")]
    assertion = _signature_checks(root, assertions[0], certificates, found)
    found += _subject_checks(assertion, acs_url)
    found += _attribute_checks(assertion)
    found.append(_clock(assertion, now, skew))
    return found


def _signature_checks(root: etree._Element, assertion: etree._Element,
                      certificates: tuple[x509.Certificate, ...], found: list[Check]
                      ) -> etree._Element:
    signed = [el for el in (root, assertion) if el.find(f"{{{_DS}}}Signature") is not None]
    if not signed:
        found.append(Check("response.signature", "Réponse ou assertion signée", "error",
                           "aucune signature", "Signez l'assertion (RSA-SHA256)."))
        return assertion
    verified = assertion
    for element in signed:
        name = etree.QName(element).localname
        try:
            result = verify(element, certificates, allow_sha1=True)
        except SamlError as exc:
            found.append(Check(f"response.signature.{name.lower()}", f"Signature de {name}",
                               "error", f"{exc.code} : {exc.detail[:200]}",
                               "Signez avec la clé dont le certificat est dans vos métadonnées."))
            continue
        found.append(Check(f"response.signature.{name.lower()}", f"Signature de {name}", "ok",
                           "vérifiée avec le certificat des métadonnées"))
        if element is assertion:
            verified = result
        method = element.find(f"{{{_DS}}}Signature/{{{_DS}}}SignedInfo/{{{_DS}}}SignatureMethod")
        algorithm = method.get("Algorithm") if method is not None else None
        found.append(Check(
            f"response.algorithm.{name.lower()}", f"Algorithme de signature de {name}",
            "warning" if algorithm == ALG_RSA_SHA1 else "ok", algorithm or "?",
            "RSA-SHA1 n'est accepté que si l'opérateur du GAR l'autorise pour votre ENT "
            "(trust add --allow-sha1) : passez à RSA-SHA256." if algorithm == ALG_RSA_SHA1
            else ""))
    return verified


def _subject_checks(assertion: etree._Element, acs_url: str | None) -> list[Check]:
    found: list[Check] = []
    name_id = assertion.find(f"{{{_SAML}}}Subject/{{{_SAML}}}NameID")
    if name_id is None or not text_of(name_id).strip():
        found.append(Check("response.name_id", "NameID présent", "error", "absent",
                           "Envoyez un NameID transient (identifiant de session)."))
    else:
        form = name_id.get("Format") or "(aucun)"
        good = form in (NAMEID_TRANSIENT, NAMEID_PERSISTENT)
        found.append(Check("response.name_id.format", "Format du NameID",
                           "ok" if good else "warning", form,
                           "" if good else "Utilisez le format transient."))
    data = assertion.find(f"{{{_SAML}}}Subject/{{{_SAML}}}SubjectConfirmation/"
                          f"{{{_SAML}}}SubjectConfirmationData")
    recipient = data.get("Recipient") if data is not None else None
    if acs_url is not None:
        found.append(Check("response.recipient", "Recipient = ACS du GAR",
                           "ok" if recipient == acs_url else "error", recipient or "absent",
                           "" if recipient == acs_url else f"Le Recipient doit être {acs_url}."))
    return found


def _values(assertion: etree._Element) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for attribute in assertion.iter(f"{{{_SAML}}}Attribute"):
        values.setdefault(attribute.get("Name") or "", []).extend(
            text_of(v).strip() for v in attribute.findall(f"{{{_SAML}}}AttributeValue"))
    return values


def _attribute_checks(assertion: etree._Element) -> list[Check]:
    values = _values(assertion)
    found: list[Check] = []
    ent = values.get("idEnt") and values.get("GARPersonIdentifiant")
    educonnect = any(v.startswith("{AAF}") for v in values.get("FrEduCtRefId", []))
    if ent:
        ids = values["GARPersonIdentifiant"]
        good = len(ids) == 1 and 0 < len(ids[0]) <= 64
        found.append(Check("response.attributes.ent", "Attributs ENT (idEnt, "
                           "GARPersonIdentifiant)", "ok" if good else "error", ", ".join(ids),
                           "" if good else "GARPersonIdentifiant : une valeur, 64 caractères "
                           "au plus, celle de l'annuaire."))
    elif educonnect:
        found.append(Check("response.attributes.educonnect", "Attributs ÉduConnect "
                           "(FrEduCtRefId {AAF})", "ok", ", ".join(values["FrEduCtRefId"])))
    else:
        found.append(Check("response.attributes.required", "Attributs requis", "error",
                           ", ".join(sorted(values)) or "aucun",
                           "Envoyez idEnt et GARPersonIdentifiant (forme ENT), ou FrEduCtRefId "
                           "avec une valeur {AAF} (forme ÉduConnect)."))
    for name in PROFILE_ATTRIBUTES:
        for value in values.get(name, []):
            try:
                normalise_profile(value)
                found.append(Check(f"response.profile.{name}", f"Profil {value}", "ok", value))
            except ValueError:
                found.append(Check(f"response.profile.{name}", f"Profil {value[:40]}", "error",
                                   value[:64], "Utilisez un code national (National_elv, "
                                   "National_ens, National_doc…)."))
    for name in UAI_ATTRIBUTES:
        for value in values.get(name, []):
            good = is_valid_uai(value)
            found.append(Check(f"response.uai.{value[:16]}", f"UAI {value[:16]}",
                               "ok" if good else "warning", value[:45],
                               "" if good else "Lettre de contrôle fausse : vérifiez l'UAI."))
    return found


def _clock(assertion: etree._Element, now: datetime, skew: timedelta) -> Check:
    raw = assertion.get("IssueInstant")
    try:
        issued = parse_instant(raw or "")
    except SamlError:
        return Check("response.clock", "Horloge (IssueInstant)", "error", raw or "absent",
                     "IssueInstant doit être une date UTC (…Z).")
    delta = (issued - now).total_seconds()
    seen = f"IssueInstant {raw}, écart {delta:+.0f} s"
    if delta > skew.total_seconds():
        return Check("response.clock", "Horloge (IssueInstant)", "error", seen,
                     "Votre horloge avance : synchronisez-la (NTP).")
    if delta < -skew.total_seconds():
        return Check("response.clock", "Horloge (IssueInstant)", "warning", seen,
                     "Réponse ancienne (capturée ?) ou horloge en retard : le GAR refuse une "
                     "assertion expirée.")
    return Check("response.clock", "Horloge (IssueInstant)", "ok", seen)
